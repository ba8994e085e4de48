import CarrierCore
import Testing
import TestSupport

/// The standalone JSON forms of values and peer records are the very fields of the reference's
/// messages: for every vector carrying one, the record's JSON (without its braces; for a peer,
/// past its id) appears in the message's JSON as is, and reads back to the same record.
@Suite(.enabled(if: SharedVectors.available, SharedVectors.skipReason))
struct RecordJSONTests {
    @Test func valuesAndPeersMatchTheReferenceMessagesFieldForField() throws {
        var values = 0, peers = 0
        for vector in try SharedVectors.load() {
            let message = try Message.decode(json: vector.json)
            var records: [(String, () throws -> Bool)] = []
            switch message.body {
            case .storeValueRequest(let request): records.append((request.value.json, { try Value(json: request.value.json) == request.value }))
            case .findValueResponse(let response):
                if let value = response.value { records.append((value.json, { try Value(json: value.json) == value })) }
            case .announcePeerRequest(let request):
                // The announce form names the peer id `k` and always writes `f`; past the id, a
                // record with a fingerprint is the same text.
                let peer = request.peer
                #expect(try PeerInfo(json: peer.json) == peer, "\(vector.case): \(peer.json) does not read back")
                let afterId = peer.json.drop { $0 != "," }.dropFirst().dropLast()
                if peer.fingerprint != 0 { #expect(vector.json.contains(afterId), "\(vector.case): \(afterId) is not in \(vector.json)") }
                peers += 1
                continue
            default: continue
            }
            for (json, readsBack) in records {
                #expect(json.hasPrefix("{") && json.hasSuffix("}"))
                #expect(vector.json.contains(json.dropFirst().dropLast()), "\(vector.case): \(json) is not in \(vector.json)")
                let readBack = try readsBack()
                #expect(readBack, "\(vector.case): \(json) does not read back")
            }
            values += records.count
        }
        #expect(values >= 3 && peers >= 1, "\(values) values and \(peers) peers checked")
    }

    @Test func malformedRecordsAreRefusedWithTheField() throws {
        #expect { try Value(json: #"{"seq":1}"#) } throws: { "\($0)".contains("seq") }
        #expect { try Value(json: #"{"k":"x","v":"aGk"}"#) } throws: { "\($0)".contains("k") }
        #expect { try Value(json: "[]") } throws: { _ in true }
        #expect { try PeerInfo(json: #"{"id":"x"}"#) } throws: { "\($0)".contains("id") }
        #expect(try Value(json: #"{"v":"aGk"}"#).data == Array("hi".utf8))
    }
}
