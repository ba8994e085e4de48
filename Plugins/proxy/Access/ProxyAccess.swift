import CarrierCore
import CarrierHTTP
import CarrierPluginSDK
import Foundation
import NIOHTTP1

/// Who may use the proxy, and how much (the manifest's `[config]`):
/// - `anonymous` (default false): whether a client without a session may use it. OpenDHT's
///   clients cannot authenticate, so its routes need it.
/// - `anonymousRate` (default 5): requests a second one address may make without a session.
/// - `clientRate` (default 50): requests a second one light node may make.
/// - `addressRate` (default 200): requests a second from one address, sessions or not.
/// - `sessionSeconds` (default 3600): how long a session lasts.
/// Each rate allows bursts of twice its value.
struct AccessPolicy: Sendable {
    var anonymous = false
    var anonymousRate = 5
    var clientRate = 50
    var addressRate = 200
    var sessionSeconds = 3600
}

/// Authenticates light nodes (`Sessions`), rate-limits by client and by address, and runs every
/// request through the billing hooks with the light node as the client: `authorize` before
/// (refusals answer 429 or 402 with the plan's reason), `report_usage` of meter `requests` after
/// a successful answer. Anonymous use is metered under one client id,
/// SHA-256("carrier/proxy/anonymous"), so an operator sees its volume in `carrier billing usage`.
final class ProxyAccess: Sendable {
    static let meter = "requests"
    static let anonymousClient = Id(bytes: Sodium.sha256(Array("carrier/proxy/anonymous".utf8)))!

    /// Why a request is not served: an HTTP status, the protocol's code and a message.
    struct Refusal: Error {
        let status: HTTPResponseStatus
        let code: ErrorCode
        let message: String
    }

    let policy: AccessPolicy
    let sessions: Sessions
    private let host: CarrierHostAPI
    private let perAddress: RateLimiter
    private let perClient: RateLimiter
    private let anonymousPerAddress: RateLimiter

    init(host: CarrierHostAPI, policy: AccessPolicy) {
        self.host = host
        self.policy = policy
        sessions = Sessions(proxyId: Id(bytes: host.nodeId) ?? Id(bytes: [UInt8](repeating: 0, count: 32))!,
                            sessionSeconds: Double(policy.sessionSeconds))
        perAddress = RateLimiter(rate: Double(policy.addressRate), burst: Double(2 * policy.addressRate))
        perClient = RateLimiter(rate: Double(policy.clientRate), burst: Double(2 * policy.clientRate))
        anonymousPerAddress = RateLimiter(rate: Double(policy.anonymousRate), burst: Double(2 * policy.anonymousRate))
    }

    /// The light node an HTTP request's `Authorization: Bearer TOKEN` names (nil without one).
    func client(of request: HTTPRequest) throws(Refusal) -> Id? {
        guard !request.authorization.isEmpty else { return nil }
        guard request.authorization.hasPrefix("Bearer "), let node = sessions.node(for: String(request.authorization.dropFirst(7))) else {
            throw Refusal(status: .unauthorized, code: .invalidToken, message: "unknown or expired session: open a new one (POST /v1/auth/session)")
        }
        return node
    }

    /// Whether `remote` may make one more request now (every request counts, sessions or not).
    func admitAddress(_ remote: String) throws(Refusal) {
        guard perAddress.allow(SourceKey.of(remote)) else {
            throw Refusal(status: .tooManyRequests, code: .genericError, message: "over \(policy.addressRate) requests a second from \(remote)")
        }
    }

    /// Whether `client` (nil: anonymous) at `remote` may make one more request now, after its
    /// address was admitted (`admitAddress`, which every request passes first, even one whose
    /// token is then refused).
    func admitClient(_ client: Id?, remote: String) throws(Refusal) {
        guard let client else {
            guard policy.anonymous else {
                throw Refusal(status: .unauthorized, code: .invalidToken,
                              message: "this proxy serves light nodes with a session: GET /v1/auth/challenge, then POST /v1/auth/session")
            }
            guard anonymousPerAddress.allow(SourceKey.of(remote)) else {
                throw Refusal(status: .tooManyRequests, code: .genericError,
                              message: "anonymous use is limited to \(policy.anonymousRate) requests a second per address; open a session for more")
            }
            return
        }
        guard perClient.allow(client.base58) else {
            throw Refusal(status: .tooManyRequests, code: .genericError, message: "over \(policy.clientRate) requests a second for \(client.base58)")
        }
        switch host.authorize(client: client.bytes, meter: Self.meter, estimate: 1) {
        case .allowed: return
        case .quotaExceeded(let reason): throw Refusal(status: .tooManyRequests, code: .genericError, message: "over quota: \(reason)")
        case .paymentRequired(let reason): throw Refusal(status: .paymentRequired, code: .genericError, message: "payment required: \(reason)")
        }
    }

    /// Records one served request of `client` (nil: anonymous).
    func report(_ client: Id?) {
        try? host.reportUsage(client: (client ?? Self.anonymousClient).bytes, meter: Self.meter, amount: 1)
    }

    /// `GET /v1/auth/challenge` and `POST /v1/auth/session` (limited per address only).
    func respond(_ request: HTTPRequest) -> HTTPAnswer {
        switch (request.method, request.path) {
        case (.GET, "/v1/auth/challenge"):
            guard let (challenge, expires) = sessions.challenge(for: request.remote) else {
                var answer = ProxyRoutes.error(.tooManyRequests, code: ErrorCode.genericError.rawValue,
                                               "too many challenges asked from here, or open; try again shortly")
                answer.retryAfter = 1
                return answer
            }
            return .json(JSONValue.object([JSONValue.Entry("challenge", .string(challenge)), JSONValue.Entry("expires", .integer(Int64(expires))),
                                           JSONValue.Entry("proxy", .string(sessions.proxyId.base58))]).text)
        case (.POST, "/v1/auth/session"):
            guard case .object(let entries)? = try? JSONParser.parse(request.body) else {
                return ProxyRoutes.error(.badRequest, code: ErrorCode.protocolError.rawValue, "the body is {\"node\", \"challenge\", \"signature\"}")
            }
            let fields = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            do {
                let node = try verify(fields)
                let (token, expires) = try sessions.open(for: node)
                return .json(JSONValue.object([JSONValue.Entry("token", .string(token)), JSONValue.Entry("node", .string(node.base58)),
                                               JSONValue.Entry("expires", .integer(Int64(expires)))]).text)
            } catch {
                let status: HTTPResponseStatus = switch error.code {
                case .protocolError: .badRequest
                case .serverError: .serviceUnavailable
                default: .unauthorized
                }
                return ProxyRoutes.error(status, code: error.code.rawValue, error.description)
            }
        case (_, "/v1/auth/challenge"): return ProxyRoutes.methodNotAllowed(request, allowed: [.GET])
        case (_, "/v1/auth/session"): return ProxyRoutes.methodNotAllowed(request, allowed: [.POST])
        default:
            return ProxyRoutes.error(.notFound, code: ErrorCode.methodUnknown.rawValue, "no such route: \(request.method) \(request.path)")
        }
    }

    /// The light node that signed a challenge, from `{"node", "challenge", "signature"}` (the
    /// REST body, or a WebSocket `authenticate` message); the challenge is spent.
    func verify(_ fields: [String: JSONValue]) throws(Sessions.Refusal) -> Id {
        guard case .string(let nodeText)? = fields["node"], let node = Id(base58: nodeText) else {
            throw Sessions.Refusal(code: .protocolError, description: "node must be the light node's id (Base58)")
        }
        guard case .string(let challenge)? = fields["challenge"] else {
            throw Sessions.Refusal(code: .protocolError, description: "challenge must be the text GET /v1/auth/challenge gave")
        }
        guard case .string(let signatureText)? = fields["signature"], let signature = Base64URL.decode(signatureText) else {
            throw Sessions.Refusal(code: .protocolError, description: "signature must be Base64URL")
        }
        try sessions.verify(node: node, challenge: challenge, signature: signature)
        return node
    }
}
