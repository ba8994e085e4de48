import ArgumentParser
import CarrierCore

/// `carrier wire`: converts Boson messages between their CBOR and compact JSON forms.
struct WireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "Convert Boson v3.1 DHT messages between CBOR (hex) and the compact JSON form.",
        subcommands: [Decode.self, Encode.self])

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the compact JSON form of a CBOR message given as hex.",
            discussion: "Example: carrier wire decode bf6179182161740a61761a4f520001ff\nprints {\"y\":33,\"t\":10,\"v\":1330774017}. Spaces and a 0x prefix are allowed; use - to read the hex from standard input.")

        @Argument(help: ArgumentHelp("The CBOR message in hex (several words are joined), or - for standard input.", valueName: "HEX"))
        var hex: [String]

        func run() throws {
            try reportingFailures {
                var text = try WireCommand.argumentOrStandardInput(hex.joined()).filter { !$0.isWhitespace }
                if text.hasPrefix("0x") { text.removeFirst(2) }
                guard let bytes = Hex.decode(text) else { throw CommandFailure("input is not hex (expected pairs of 0-9a-f)") }
                do {
                    print(try Message.decode(cbor: bytes).json)
                } catch let error as MessageDecodingError {
                    throw CommandFailure(error.description)
                }
            }
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the CBOR form (lowercase hex) of a message given in the compact JSON form.",
            discussion: "Example: carrier wire encode '{\"y\":33,\"t\":10,\"v\":1330774017}'\nprints bf6179182161740a61761a4f520001ff. Use - to read the JSON from standard input.")

        @Argument(help: ArgumentHelp("The message as JSON, or - for standard input.", valueName: "JSON"))
        var json: String

        func run() throws {
            try reportingFailures {
                do {
                    print(Hex.encode(try Message.decode(json: try WireCommand.argumentOrStandardInput(json)).cbor))
                } catch let error as MessageDecodingError {
                    throw CommandFailure(error.description)
                }
            }
        }
    }

    /// The argument itself, or all of standard input when it is `-`.
    static func argumentOrStandardInput(_ argument: String) throws -> String {
        guard argument == "-" else { return argument }
        var lines: [String] = []
        while let line = readLine(strippingNewline: false) { lines.append(line) }
        return lines.joined()
    }
}
