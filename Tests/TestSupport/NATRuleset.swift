extension NetworkLab {
    /// The NATs a lab's router can be, in RFC 3489's names; RFC 4787's mapping and filtering
    /// behaviours, and the nftables rules that give them, are in each case's comment.
    ///
    /// Every type masquerades the home network out of the router's public interface, and the
    /// router's `forward` chain drops inbound packets that belong to no outbound connection, so
    /// the home host is unreachable from outside even by a peer that routes the home network to
    /// the router.
    ///
    /// What Linux conntrack gives, and what it cannot:
    /// - it maps per connection (5-tuple) and keeps the inside source port when that public
    ///   address, port and destination are free, so one inside socket keeps one public port
    ///   whatever it talks to (endpoint-independent mapping) — best effort: an inside host that
    ///   takes a port another already holds towards the same destination gets another one;
    /// - an inbound packet passes only as the reply of a tracked connection, i.e. from the exact
    ///   address and port the inside sent to (address-and-port-dependent filtering);
    /// - it has no mapping that opens to other remotes, so the two looser cones are emulated
    ///   with a dynamic nftables set filled by outbound packets and a DNAT to the home host on
    ///   the same port: they rely on port preservation (true here, with one home host) and
    ///   forward to that one host only;
    /// - mappings live as long as conntrack's entry (UDP: 30 s unanswered, 120 s once
    ///   answered) or, for the emulated cones, the set element (2 minutes, renewed by every
    ///   outbound packet);
    /// - there is no hairpinning: a home host sending to the router's public address reaches
    ///   the router itself.
    public enum NATType: String, CaseIterable, Sendable, CustomStringConvertible {
        /// `masquerade`: endpoint-independent mapping (the source port is kept), address-and-port-
        /// dependent filtering. Linux's usual NAT.
        case portRestrictedCone
        /// `masquerade fully-random`: every new connection, so every new destination address or
        /// port, gets a random public port (endpoint-dependent mapping); filtering as above.
        case symmetric
        /// `masquerade`, plus a set of (remote address, protocol, inside port) that every
        /// outbound packet adds itself to; a new inbound packet whose (source address, protocol,
        /// destination port) is in it goes to the home host: any port of an address the home
        /// host has sent to may answer (address-dependent filtering).
        case addressRestricted
        /// `masquerade`, plus a set of (protocol, inside port) that every outbound packet adds
        /// itself to; a new inbound packet to such a port goes to the home host, from anyone
        /// (endpoint-independent filtering).
        case fullCone

        public var description: String { rawValue }
    }
}

/// The nftables ruleset of a lab's router for a NAT type, loaded with `nft -f -` in the router's
/// namespace (the address of its public interface is never named: `masquerade` follows it).
struct NATRuleset {
    static let table = "lab_nat"

    let type: NetworkLab.NATType
    /// The home network, as a prefix ("10.77.1.0/24").
    let homeNetwork: String
    let homeHost: String
    /// The router's interface on the public side.
    let publicInterface: String

    /// The emulated filter's set for the looser cones: its name, its element type, its key as
    /// an outbound packet writes it and as an inbound packet looks it up.
    private var openings: (set: String, type: String, outbound: String, inbound: String)? {
        switch type {
        case .portRestrictedCone, .symmetric:
            nil
        case .addressRestricted:
            ("contacted", "ipv4_addr . inet_proto . inet_service",
             "ip daddr . meta l4proto . th sport", "ip saddr . meta l4proto . th dport")
        case .fullCone:
            ("open", "inet_proto . inet_service", "meta l4proto . th sport", "meta l4proto . th dport")
        }
    }

    var text: String {
        let outside = "oifname \"\(publicInterface)\"", inside = "iifname \"\(publicInterface)\""
        let ports = "meta l4proto { tcp, udp }"
        var set = "", record = "", accept = "", forward = ""
        if let openings {
            set = """
                set \(openings.set) {
                    type \(openings.type)
                    flags dynamic, timeout
                    timeout 2m
                }
            """
            record = "\(outside) \(ports) update @\(openings.set) { \(openings.outbound) }"
            accept = "\(inside) ct status dnat accept"
            forward = "\(inside) \(ports) \(openings.inbound) @\(openings.set) dnat to \(homeHost)"
        }
        let masquerade = type == .symmetric ? "masquerade fully-random" : "masquerade"
        return """
        table ip \(Self.table) {
        \(set)
            chain forward {
                type filter hook forward priority filter; policy accept;
                \(record)
                \(inside) ct state established,related accept
                \(accept)
                \(inside) drop
            }
            chain prerouting {
                type nat hook prerouting priority dstnat; policy accept;
                \(forward)
            }
            chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                \(outside) ip saddr \(homeNetwork) \(masquerade)
            }
        }

        """
    }

    /// The nft commands that forget the emulated cones' openings (conntrack's own entries are
    /// flushed with `conntrack -F`); empty for the types without a set.
    var resetCommands: String {
        openings.map { "flush set ip \(Self.table) \($0.set)\n" } ?? ""
    }
}
