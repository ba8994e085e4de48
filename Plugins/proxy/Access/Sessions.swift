import CarrierCore
import CarrierHTTP
import Foundation
import Synchronization

/// Light-node authentication by challenge and response. A light node asks for a challenge (32
/// random bytes, valid `challengeSeconds`, usable once), signs
/// `"carrier-proxy-auth/v1" ‖ proxy node id ‖ challenge` with its Ed25519 key, and trades the
/// signature for a session token bound to its node id for `sessionSeconds`. The proxy's id in the
/// signed text keeps a signature made for one proxy from opening a session at another. Both maps
/// are bounded; expired entries are dropped as new ones come.
final class Sessions: Sendable {
    static let challengeSeconds: Double = 60
    static let maxChallenges = 10_000
    static let maxSessions = 100_000
    /// Challenges one source (address, IPv6 /64) may ask for: 2 a second, bursts of 10, so one
    /// source holds at most about 130 of the open ones.
    static let challengeRate = 2.0
    static let context = Array("carrier-proxy-auth/v1".utf8)

    /// Why a session was not opened.
    struct Refusal: Error, CustomStringConvertible {
        let code: ErrorCode
        let description: String
    }

    let proxyId: Id
    let sessionSeconds: Double
    private let challenges = Mutex<[String: Double]>([:])
    private let challengesPerSource = RateLimiter(rate: Sessions.challengeRate, burst: 10)
    private let sessions = Mutex<[String: (node: Id, expires: Double)]>([:])

    init(proxyId: Id, sessionSeconds: Double) {
        self.proxyId = proxyId
        self.sessionSeconds = sessionSeconds
    }

    /// A fresh challenge (Base64URL) and when it expires (Unix seconds), for a client at
    /// `remote`; nil when that source has asked for too many, or too many are open.
    func challenge(for remote: String, now: Double = Date().timeIntervalSince1970) -> (challenge: String, expires: Double)? {
        guard challengesPerSource.allow(SourceKey.of(remote)) else { return nil }
        let text = Base64URL.encode(Sodium.randomBytes(32)), expires = now + Self.challengeSeconds
        let issued = challenges.withLock { challenges -> Bool in
            if challenges.count >= Self.maxChallenges { challenges = challenges.filter { $0.value > now } }
            guard challenges.count < Self.maxChallenges else { return false }
            challenges[text] = expires
            return true
        }
        return issued ? (text, expires) : nil
    }

    /// What the light node signs for `challenge`.
    func signedText(_ challenge: [UInt8]) -> [UInt8] { Self.context + proxyId.bytes + challenge }

    /// Checks that `signature` is `node`'s signature of a live challenge; the challenge is spent
    /// either way.
    func verify(node: Id, challenge: String, signature: [UInt8], now: Double = Date().timeIntervalSince1970) throws(Refusal) {
        let live = challenges.withLock { $0.removeValue(forKey: challenge) }.map { $0 > now } ?? false
        guard live, let bytes = Base64URL.decode(challenge) else {
            throw Refusal(code: .invalidToken, description: "unknown, used or expired challenge: ask GET /v1/auth/challenge for a new one")
        }
        guard signature.count == 64, KeyPair.verify(signature: signature, of: signedText(bytes), by: node) else {
            throw Refusal(code: .invalidSignature, description: "the signature is not \(node.base58)'s signature of the challenge")
        }
    }

    /// A session token for `node` (already verified), valid `sessionSeconds`.
    func open(for node: Id, now: Double = Date().timeIntervalSince1970) throws(Refusal) -> (token: String, expires: Double) {
        let token = Base64URL.encode(Sodium.randomBytes(32)), expires = now + sessionSeconds
        let opened = sessions.withLock { sessions -> Bool in
            if sessions.count >= Self.maxSessions { sessions = sessions.filter { $0.value.expires > now } }
            guard sessions.count < Self.maxSessions else { return false }
            sessions[token] = (node, expires)
            return true
        }
        guard opened else { throw Refusal(code: .serverError, description: "too many open sessions; try again later") }
        return (token, expires)
    }

    /// The node a live session token belongs to.
    func node(for token: String, now: Double = Date().timeIntervalSince1970) -> Id? {
        sessions.withLock { sessions in
            guard let session = sessions[token] else { return nil }
            guard session.expires > now else {
                sessions[token] = nil
                return nil
            }
            return session.node
        }
    }
}
