/// Why bytes or text could not be read as a Boson message.
public enum MessageDecodingError: Error, Equatable, CustomStringConvertible {
    /// The CBOR itself is malformed or over a limit.
    case cbor(CBORError)
    /// The JSON itself is malformed or over a limit.
    case json(JSONError)
    /// Well-formed, but a field is missing, of the wrong type or out of range. `field` is a dotted path.
    case invalidField(field: String, problem: String)
    /// A request whose method bits are 0. The protocol answers it with error 204 (MethodUnknown).
    case unknownMethod(txid: UInt64)

    public var description: String {
        switch self {
        case .cbor(let error): "\(error)"
        case .json(let error): "\(error)"
        case .invalidField(let field, let problem): "field \(field): \(problem)"
        case .unknownMethod(let txid): "request \(txid) names method 0 (unknown method)"
        }
    }
}
