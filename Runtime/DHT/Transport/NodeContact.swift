import CarrierCore

extension NodeInfo {
    /// Parses a contact line `ID@HOST:PORT` or `ID@[IPv6]:PORT`, as `carrier run` prints it.
    public init?(contact: String) {
        guard let at = contact.firstIndex(of: "@"), let id = Id(String(contact[..<at])),
              let endpoint = Endpoint(String(contact[contact.index(after: at)...])) else { return nil }
        self.init(id: id, address: endpoint.address, port: endpoint.port)
    }

    /// `ID@HOST:PORT`, the form `init(contact:)` reads.
    public var contact: String { "\(id.base58)@\(Endpoint(address: address, port: port))" }
}
