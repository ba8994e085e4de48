import CarrierCore

/// Inbound datagrams, once the transport's `InboundGate` admitted them: the envelope, decoding,
/// answering requests and matching responses to outstanding calls.
extension DHTNode {
    func receive(_ datagram: UDPTransport.Datagram, family: AddressFamily) {
        // The inbound limit was applied on the event loop (`InboundGate`).
        counted.datagramsReceived += 1
        let opened: (sender: Id, message: [UInt8])
        do {
            opened = try envelope.open(datagram.bytes, family: family)
        } catch {
            counted.envelopeRejected += 1
            return
        }
        let sender = NodeInfo(id: opened.sender, address: datagram.sender.address, port: datagram.sender.port)
        let message: Message
        do {
            message = try Message.decode(cbor: opened.message)
        } catch {
            counted.malformedMessages += 1
            if case .unknownMethod(let txid) = error {
                reply(to: sender, family: family, txid: txid,
                      .error(method: nil, ErrorBody(code: ErrorCode.methodUnknown.rawValue, message: "method unknown")))
            }
            return
        }
        if !message.ignoredFields.isEmpty { counted.messagesWithIgnoredFields += 1 }
        if message.kind == .request {
            answer(message, from: sender, family: family)
        } else {
            matchResponse(message, from: sender)
        }
    }

    private func answer(_ request: Message, from sender: NodeInfo, family: AddressFamily) {
        // A write is answered once durable, from the storage's writer thread: back on the loop.
        let txid = request.txid
        let whenDurable: @Sendable (Message.Body) -> Void = { [weak self] answer in
            self?.postDurableAnswer(DurableAnswers.Answer(node: sender, family: family, txid: txid, body: answer))
        }
        if case .reply(let answer) = handler.answer(request.body, from: sender, family: family, ipv4: tables[.ipv4], ipv6: tables[.ipv6],
                                                    now: monotonic, wallClock: wallClock, whenDurable: whenDurable) {
            reply(to: sender, family: family, txid: txid, answer)
        }
        guard configuration.allowLocal || sender.address.isGlobalUnicast else { return }
        if tables[family]?.recordRequest(from: sender, now: monotonic) == true {
            pingContact(sender)
        } else if let entry = tables[family]?.entry(for: sender.id) {
            // A failing contact talking again (back from a pause or a restart) is live at once on
            // its answer to a ping, rather than after its backoff. A contact that only sends to
            // us would fall back to the stranger's allowance 30 minutes after its last answer.
            let sameEndpoint = entry.node.address == sender.address && entry.node.port == sender.port
            if entry.failedRequests > 0 || (sameEndpoint && inboundGate.needsRenewal(Endpoint(address: sender.address, port: sender.port))) {
                pingContact(sender)
            }
        }
    }

    private func matchResponse(_ message: Message, from sender: NodeInfo) {
        guard let call = pending[message.txid], call.node.id == sender.id, call.node.address == sender.address,
              call.node.port == sender.port, message.body.method == call.method || message.body.method == nil else {
            counted.unmatchedResponses += 1
            return
        }
        inboundGate.recordAnswer(from: Endpoint(address: sender.address, port: sender.port))
        let elapsed = ContinuousClock.now - call.sentAt
        let rtt = max(0.01, elapsed.seconds * 1000)
        averageRTT = averageRTT == 0 ? rtt : averageRTT * 0.9 + rtt * 0.1
        tables[Endpoint(address: sender.address, port: sender.port).family]?.recordResponse(from: sender, rtt: rtt, now: monotonic)
        let result: Result<Message.Body, CallFailure> = if case .error(_, let error) = message.body {
            .failure(.remote(code: error.code, message: error.message))
        } else {
            .success(message.body)
        }
        finishCall(message.txid, with: result)
    }

    /// Queues a write's answer, once the write is durable (from the storage's writer thread): the
    /// first of a batch queues the loop task that sends them all.
    nonisolated func postDurableAnswer(_ answer: DurableAnswers.Answer) {
        guard durableAnswers.post(answer) else { return }
        eventLoop.execute { [weak self] in self?.assumeIsolated { $0.sendDurableAnswers() } }
    }

    /// Sends the durable answers posted so far, flushed together.
    private func sendDurableAnswers() {
        let answers = durableAnswers.take()
        sendingTogether(on: families[...]) {
            for answer in answers { reply(to: answer.node, family: answer.family, txid: answer.txid, answer.body) }
        }
    }

    /// Runs `body`, its sends on the sockets of `families` flushed together when it returns.
    private func sendingTogether(on families: ArraySlice<AddressFamily>, _ body: () -> Void) {
        guard let family = families.first else { return body() }
        guard let transport = transports[family] else { return sendingTogether(on: families.dropFirst(), body) }
        transport.sendingTogether { sendingTogether(on: families.dropFirst(), body) }
    }

    /// Sends an answer; one too big for the family's datagram limit becomes error 207.
    private func reply(to node: NodeInfo, family: AddressFamily, txid: UInt64, _ body: Message.Body) {
        var message = Message(txid: txid, body: body)
        var bytes = message.cbor
        if bytes.count + DatagramEnvelope.overhead > family.maxOutboundDatagramSize {
            message = Message(txid: txid, body: .error(method: body.method, ErrorBody(code: ErrorCode.messageTooBig.rawValue, message: "message too big")))
            bytes = message.cbor
        }
        // None before the socket is stored at start, or after stop: nothing sent, nothing counted.
        guard let transport = transports[family], let datagram = try? envelope.seal(bytes, to: node.id, family: family) else { return }
        if case .error(_, let error) = message.body { counted.errorsSent[error.code, default: 0] += 1 } else { counted.requestsAnswered += 1 }
        transport.send(datagram, to: Endpoint(address: node.address, port: node.port))
        counted.datagramsSent += 1
    }

    /// Pings a contact once at a time: an unknown one that sent us a request or was named for a
    /// family we are still filling (its answer makes it an entry), one due for a liveness check,
    /// or one whose last answer is getting old (`AnsweredEndpoints`).
    func pingContact(_ node: NodeInfo) {
        guard pinging.insert(node.id).inserted else { return }
        Task {  // on the actor, so on its loop
            _ = await call(.pingRequest, to: node)
            pinging.remove(node.id)
        }
    }
}
