import NIOCore

/// The two facts Shadow's shared HTTP port reads from a request head: where the head ends, and
/// its `Host`. Strict: anything but a request line and header lines with exactly one `Host` is
/// refused (nil).
public enum HTTPHead {
    /// The offset just past the blank line that ends the head, if it arrived.
    public static func end(of bytes: ByteBufferView) -> Int? {
        var index = bytes.startIndex, matched = 0
        let pattern: [UInt8] = [13, 10, 13, 10]
        while index < bytes.endIndex {
            matched = bytes[index] == pattern[matched] ? matched + 1 : (bytes[index] == 13 ? 1 : 0)
            index += 1
            if matched == 4 { return index - bytes.startIndex }
        }
        return nil
    }

    /// The request's host, lowercased, without its port and trailing dot; nil unless the head is
    /// printable ASCII in CRLF-ended lines, a request line, and header lines (`token: value`)
    /// with exactly one `Host`.
    public static func host(in head: [UInt8]) -> String? {
        guard head.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || (0x20...0x7e).contains($0) }) else { return nil }
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard lines.count >= 3, lines.removeLast().isEmpty, lines.removeLast().isEmpty else { return nil }
        guard !lines[0].contains("\n"), !lines[0].contains("\r") else { return nil }
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, !requestLine[0].isEmpty, requestLine[2].hasPrefix("HTTP/1.") else { return nil }
        var hosts: [Substring] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex, line[..<colon].allSatisfy(isTokenCharacter),
                  !line.contains("\n"), !line.contains("\r") else { return nil }
            if line[..<colon].lowercased() == "host" { hosts.append(line[line.index(after: colon)...]) }
        }
        guard hosts.count == 1 else { return nil }
        var host = hosts[0].trimmingSpaces().lowercased()
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            let port = host[host.index(after: colon)...]
            guard !port.isEmpty, port.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            host = String(host[..<colon])
        }
        guard !host.contains(" "), !host.contains("\t") else { return nil }
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty, host.utf8.count <= 253 else { return nil }
        return host
    }
}

/// RFC 9110's `tchar`: what a header name is made of.
private func isTokenCharacter(_ character: Character) -> Bool {
    guard let ascii = character.asciiValue else { return false }
    return (0x30...0x39).contains(ascii) || (0x41...0x5a).contains(ascii) || (0x61...0x7a).contains(ascii) || "!#$%&'*+-.^_`|~".utf8.contains(ascii)
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> Substring {
        var trimmed = self
        while let first = trimmed.first, first == " " || first == "\t" { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, last == " " || last == "\t" { trimmed = trimmed.dropLast() }
        return trimmed
    }
}
