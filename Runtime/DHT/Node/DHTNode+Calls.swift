import CarrierCore
import NIOCore

/// Outbound requests: sealing, the outbound rate limit, adaptive timeouts and retries.
extension DHTNode {
    /// Sends `body` to `node` and waits for its answer; on a timeout, sends it again, up to
    /// `attempts` times in all (each with a fresh txid, so a late answer to an earlier attempt is
    /// not mistaken for the current one).
    func call(_ body: Message.Body, to node: NodeInfo, attempts: Int = 1) async -> Result<Message.Body, CallFailure> {
        var result = await send(body, to: node)
        for _ in 1..<max(1, attempts) {
            guard case .failure(.timeout) = result, !Task.isCancelled else { break }
            counted.retries += 1
            result = await send(body, to: node)
        }
        return result
    }

    /// One attempt: seal, send, and wait for the answer or the timeout.
    private func send(_ body: Message.Body, to node: NodeInfo) async -> Result<Message.Body, CallFailure> {
        let destination = Endpoint(address: node.address, port: node.port)
        guard transports[destination.family] != nil else { return .failure(transports.isEmpty ? .cancelled : .familyNotServed) }
        guard let wait = outboundLimiter.reserve(RateKey(destination), now: monotonic, maxWait: configuration.outboundMaxWait.milliseconds) else {
            counted.outboundThrottled += 1
            return .failure(.throttled)
        }
        if wait > 0 {
            counted.outboundPaced += 1
            await pause(for: .milliseconds(wait))
            guard !Task.isCancelled else { return .failure(.cancelled) }
        }
        // Looked up again: the node may have stopped while this request waited its turn.
        guard let transport = transports[destination.family] else { return .failure(.cancelled) }
        let txid = freshTxid()
        let datagram: [UInt8]
        do {
            datagram = try envelope.seal(Message(txid: txid, body: body).cbor, to: node.id, family: destination.family)
        } catch {
            return .failure(.cannotSeal(error.reason))
        }
        let timeout = timeout(for: node.id, in: destination.family)
        tables[destination.family]?.recordRequestSent(to: node.id, now: monotonic)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                var call = PendingCall(node: node, method: body.method, sentAt: .now, continuation: continuation)
                // On the node's loop: an answer read before the deadline is handled before it.
                call.timeout = eventLoop.scheduleTask(in: TimeAmount(timeout)) { [weak self] in
                    self?.assumeIsolated { $0.finishCall(txid, with: .failure(.timeout)) }
                }
                pending[txid] = call
                transport.send(datagram, to: destination)
                counted.datagramsSent += 1
            }
        } onCancel: {
            eventLoop.execute { [weak self] in self?.assumeIsolated { $0.finishCall(txid, with: .failure(.cancelled)) } }
        }
    }

    /// Adaptive timeout: four times the contact's smoothed round trip (or, for a contact never
    /// measured, the node's overall one), at least 200 ms and at most the configured timeout.
    private func timeout(for id: Id, in family: AddressFamily) -> Duration {
        let known = tables[family]?.entry(for: id)?.averageRTT ?? 0
        let rtt = known > 0 ? known : averageRTT
        guard rtt > 0 else { return configuration.requestTimeout }
        return min(configuration.requestTimeout, .milliseconds(max(200, Int64(rtt * 4))))
    }

    /// A txid drawn at random from 1...Int32.max and not pending: an answer is believed only
    /// with its request's txid, so a forger who saw one of our requests must not be able to
    /// guess the next.
    func freshTxid() -> UInt64 {
        var txid: UInt64
        repeat { txid = UInt64.random(in: 1...UInt64(Int32.max)) } while pending[txid] != nil
        return txid
    }

    func finishCall(_ txid: UInt64, with result: Result<Message.Body, CallFailure>) {
        guard let call = pending.removeValue(forKey: txid) else { return }
        call.timeout?.cancel()
        if case .failure(.timeout) = result {
            counted.requestsTimedOut += 1
            tables[Endpoint(address: call.node.address, port: call.node.port).family]?.recordTimeout(of: call.node.id, now: monotonic)
        }
        call.continuation.resume(returning: result)
    }
}
