/// Target `opendht`: the bodies of the proxy's OpenDHT routes and what it reads back from the DHT
/// for them: a value POSTed to `/key/{hash}` (`OpenDHTValue.parse`), a key's bucket as stored in a
/// Carrier value, which anyone can write (`OpenDHTBucket(data:)`), and, for 40-byte inputs, the
/// key of the path (`OpenDHTKey(hex:)`). Reached with `@testable import ProxyPlugin` (run.sh adds
/// `-enable-testing`): the parser is the plugin's own, with no other use.
///
/// Invariants: a value that parses round-trips through the API's JSON (`parse(v.json()) == v`),
/// and what a put would store reads back (inserted in a bucket, `OpenDHTBucket(data: b.data) == b`)
/// unless refused as too large; a bucket that reads round-trips, and each of its values, served by
/// `GET /key/{hash}`, parses back to itself; a key that parses prints back as its hex, lowercased.
@testable import ProxyPlugin
import CarrierCore

func fuzzOpenDHT(_ input: [UInt8]) {
    if let (value, _) = try? OpenDHTValue.parse(input) {
        checkServed(value)
        var bucket = OpenDHTBucket()
        do {
            try bucket.insert(value, expires: 600, now: 0)
            checkStored(bucket)
        } catch {
            // Too large for a Carrier value: answered 413.
        }
    }
    if let bucket = try? OpenDHTBucket(data: input) {
        checkStored(bucket)
        for entry in bucket.entries { checkServed(entry.value) }
    }
    if input.count == 40, let key = OpenDHTKey(hex: String(decoding: input, as: UTF8.self)) {
        invariant(Hex.encode(key.hash) == String(decoding: input, as: UTF8.self).lowercased(), "key \(input) reads as \(key.hash)")
    }
}

/// `value` as a GET serves it parses back to itself.
private func checkServed(_ value: OpenDHTValue) {
    let json = value.json()
    do {
        let again = try OpenDHTValue.parse(Array(json.utf8)).value
        invariant(again == value, "OpenDHT JSON round trip changed the value:\n\(value)\n\(again)")
    } catch { fatalError("the JSON \(json) of an OpenDHT value is refused: \(error)") }
}

/// `bucket` as stored reads back the same.
private func checkStored(_ bucket: OpenDHTBucket) {
    let data = bucket.data
    do {
        let again = try OpenDHTBucket(data: data)
        invariant(again == bucket, "a bucket's stored form reads back otherwise:\n\(bucket)\n\(again)")
    } catch { fatalError("a bucket's stored form \(Hex.encode(data)) is refused: \(error)") }
}
