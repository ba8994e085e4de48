import Foundation
import Synchronization

/// The names of one lab's namespaces and interfaces: `nl`, the pid of the process that made it,
/// `x`, a counter of that process's labs, then a role (`h`, `r`, `p` for the namespaces; `hr`,
/// `rh`, `rp`, `pr` for the veth ends, named by the namespace they sit in and the one they face).
/// No two labs share a name, even across processes, and a leftover lab names the process that
/// made it, so a later one can tell it is dead. Every name fits Linux's 15 characters.
struct NetworkLabNames: Sendable {
    private static let made = Atomic<Int>(0)
    private static let longest = 15

    /// `nl<pid>x<counter>`, the part every name starts with.
    let lab: String

    /// The next lab's names in this process.
    static func next() throws -> NetworkLabNames {
        let names = NetworkLabNames(lab: "nl\(getpid())x\(made.add(1, ordering: .relaxed).newValue)")
        guard names.lab.count + 2 <= longest else {
            throw NetworkLab.Failure(description: "lab name \(names.lab) leaves no room for a role in \(longest) characters")
        }
        return names
    }

    func namespace(_ namespace: NetworkLab.Namespace) -> String { lab + namespace.rawValue }

    /// In `home`, towards the router.
    var homeInterface: String { lab + "hr" }
    /// In `router`, towards home.
    var routerHomeInterface: String { lab + "rh" }
    /// In `router`, towards the public side.
    var routerPublicInterface: String { lab + "rp" }
    /// In `public`, towards the router.
    var publicInterface: String { lab + "pr" }

    /// The pid in a lab namespace's name; nil for a namespace of anything else.
    static func owner(ofNamespace name: String) -> pid_t? {
        guard let match = name.wholeMatch(of: /nl([0-9]+)x[0-9]+[hrp]/) else { return nil }
        return pid_t(match.1)
    }
}
