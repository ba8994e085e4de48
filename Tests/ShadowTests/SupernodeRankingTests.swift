import CarrierCore
import CarrierShadow
import Testing

/// The order in which `carrier shadow expose` tries the supernodes that answered.
struct SupernodeRankingTests {
    static func candidate(_ name: UInt8, milliseconds: Int, load: Int, price: UInt64?, currency: String = "credit") -> SupernodeRanking.Candidate {
        let supernode = ShadowSupernode(id: Id(bytes: [UInt8](repeating: name, count: 32))!, host: "127.0.0.\(name)", port: 39300)
        return SupernodeRanking.Candidate(probe: SupernodeProbe(supernode: supernode, roundTrip: .milliseconds(milliseconds), load: load),
                                          price: price.map { SupernodeRanking.Price(micro: $0, currency: currency) })
    }

    static func order(_ candidates: [SupernodeRanking.Candidate]) -> [String] {
        SupernodeRanking.ranked(candidates).map(\.probe.supernode.host)
    }

    @Test func theFastestWinsAmongEqualsAndLoadLengthensTheRoundTrip() {
        #expect(Self.order([Self.candidate(1, milliseconds: 30, load: 0, price: 0), Self.candidate(2, milliseconds: 10, load: 0, price: 0)])
                == ["127.0.0.2", "127.0.0.1"])
        // 10 ms at half full counts as 20 ms: 15 ms empty comes first.
        #expect(Self.order([Self.candidate(1, milliseconds: 10, load: 500, price: 0), Self.candidate(2, milliseconds: 15, load: 0, price: 0)])
                == ["127.0.0.2", "127.0.0.1"])
    }

    @Test func theCheapestComeFirstWithinTenPercent() {
        let ranked = Self.order([Self.candidate(1, milliseconds: 3, load: 0, price: 2_000_000), Self.candidate(2, milliseconds: 8, load: 0, price: 1_000_000),
                                 Self.candidate(3, milliseconds: 5, load: 0, price: 1_090_000)])
        #expect(ranked == ["127.0.0.3", "127.0.0.2", "127.0.0.1"], "3 is within 10 % of 2 and faster; 1 is dearer")
        #expect(Self.order([Self.candidate(1, milliseconds: 2, load: 0, price: nil), Self.candidate(2, milliseconds: 5, load: 0, price: 5)])
                == ["127.0.0.2", "127.0.0.1"], "no price counts as dearer")
        #expect(Self.order([Self.candidate(1, milliseconds: 2, load: 0, price: 1, currency: "sat"), Self.candidate(2, milliseconds: 3, load: 0, price: 5),
                            Self.candidate(3, milliseconds: 4, load: 0, price: 5)])
                == ["127.0.0.2", "127.0.0.3", "127.0.0.1"], "compared in the currency most use; another cannot be compared")
        #expect(Self.order([Self.candidate(1, milliseconds: 9, load: 0, price: nil), Self.candidate(2, milliseconds: 1, load: 0, price: nil)])
                == ["127.0.0.2", "127.0.0.1"], "without any prices, speed decides")
    }

    @Test func aDistantSupernodeDoesNotComeFirstByItsPriceAlone() {
        #expect(Self.order([Self.candidate(1, milliseconds: 40, load: 0, price: 0), Self.candidate(2, milliseconds: 10, load: 0, price: 9_000_000)])
                == ["127.0.0.2", "127.0.0.1"], "4 times slower: speed decides")
        #expect(Self.order([Self.candidate(1, milliseconds: 25, load: 0, price: 0), Self.candidate(2, milliseconds: 10, load: 0, price: 9_000_000)])
                == ["127.0.0.1", "127.0.0.2"], "within 3 times: the free one")
    }

    @Test func aFullSupernodeIsTriedLastWhateverItCosts() {
        #expect(Self.order([Self.candidate(1, milliseconds: 1, load: 1000, price: 0), Self.candidate(2, milliseconds: 50, load: 900, price: 9_000_000)])
                == ["127.0.0.2", "127.0.0.1"])
    }

    @Test func thePriceOfAGigabyteHourComesFromTheRecordsMeters() {
        let prices = ServiceRecord.Prices(currency: "credit", meters: [
            "bytes_relayed": ServiceRecord.MeterPrice(freeUnits: 10, microPrice: 1, periodSeconds: 60),
            "connection_seconds": ServiceRecord.MeterPrice(freeUnits: 10, microPrice: 10, periodSeconds: 60)])
        #expect(SupernodeRanking.price(of: prices) == SupernodeRanking.Price(micro: 1_000_000_000 + 36_000, currency: "credit"))
        #expect(SupernodeRanking.price(of: ServiceRecord.Prices(currency: "credit", meters: [:]))?.micro == 0, "free")
        #expect(SupernodeRanking.price(of: nil) == nil)
        let absurd = ServiceRecord.Prices(currency: "credit", meters: ["bytes_relayed": ServiceRecord.MeterPrice(freeUnits: 0, microPrice: .max, periodSeconds: 1)])
        #expect(SupernodeRanking.price(of: absurd)?.micro == .max)
    }
}
