/// A random IPv4 loopback address other than 127.0.0.1 (Linux answers the whole of 127/8), so
/// a test's nodes have an address no other test's nodes share: a port freed by one test and taken
/// by another on 127.0.0.1 would otherwise let the first test's peers reach the second's nodes.
public enum LoopbackAddress {
    public static func unique() -> String {
        "127.\(Int.random(in: 1...254)).\(Int.random(in: 1...254)).\(Int.random(in: 1...254))"
    }
}
