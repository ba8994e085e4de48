import CarrierCore
import Foundation

/// The fingerprint (`f`) of the peer that `carrier dht announce` announces from a data directory.
///
/// The protocol makes `f` unique per peer instance: two instances of one peer id announce side by
/// side, and a reader keeps the greatest `seq` per fingerprint. So it is drawn at random once, on the
/// first announcement, and kept in `peer.fingerprint` (decimal text), so that a re-announcement
/// with a higher `seq` replaces the record rather than adding a second one.
enum PeerFingerprint {
    static let fileName = "peer.fingerprint"

    /// The data directory's fingerprint, drawn and saved on first use. A file that is not one
    /// decimal 64-bit integer is refused, not replaced: replacing it would orphan the records
    /// already announced under the old one.
    static func loadOrCreate(dataDirectory: String) throws -> Int64 {
        let path = dataDirectory + "/" + fileName
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let fingerprint = Int64(text) else {
                throw CommandFailure("\(path) does not hold a fingerprint (one decimal 64-bit integer); remove it to draw a new one")
            }
            return fingerprint
        }
        let fingerprint = Int64(bitPattern: Sodium.randomUInt64())
        do {
            try Data("\(fingerprint)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CommandFailure("cannot save the peer fingerprint in \(path): \(error.localizedDescription)")
        }
        return fingerprint
    }
}
