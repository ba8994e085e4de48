/// The protocol's error codes (BOSON-WIRE.md §9). An error reply carries one in `c`.
public enum ErrorCode: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case ioError = 1
    case cryptoError = 2
    case valueNotExists = 3
    case notValueOwner = 4
    case valueNoRecipient = 5
    case genericError = 201
    case serverError = 202
    case protocolError = 203
    case methodUnknown = 204
    case messageTooBig = 205
    case invalidSignature = 206
    case saltTooBig = 207
    case casFail = 301
    case sequenceNotMonotonic = 302
    case immutableSubstitutionFail = 303
    case invalidToken = 400
    case invalidValue = 401
    case invalidPeer = 402

    public var description: String {
        switch self {
        case .ioError: "I/O error"
        case .cryptoError: "crypto error"
        case .valueNotExists: "value does not exist"
        case .notValueOwner: "not the value owner"
        case .valueNoRecipient: "value has no recipient"
        case .genericError: "generic error"
        case .serverError: "server error"
        case .protocolError: "protocol error"
        case .methodUnknown: "method unknown"
        case .messageTooBig: "message too big"
        case .invalidSignature: "invalid signature"
        case .saltTooBig: "salt too big"
        case .casFail: "CAS failure"
        case .sequenceNotMonotonic: "sequence number not monotonic"
        case .immutableSubstitutionFail: "immutable substitution"
        case .invalidToken: "invalid token"
        case .invalidValue: "invalid value"
        case .invalidPeer: "invalid peer"
        }
    }
}

/// A failed protocol rule, with the code a node sends back and a human-readable reason.
public struct ProtocolError: Error, Equatable, CustomStringConvertible {
    /// The code sent back in an error reply.
    public let code: ErrorCode
    /// Which rule broke, for the reply's `m` and for logs.
    public let reason: String

    public init(_ code: ErrorCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue) \(code): \(reason)" }
}
