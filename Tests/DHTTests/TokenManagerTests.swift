import CarrierCore
import CarrierDHT
import Testing

/// Write tokens: bound to requester, address, port and target; valid 5 to 10 minutes; never zero.
struct TokenManagerTests {
    let requester = Id.random(), target = Id.random()
    let address = IPAddress("192.0.2.10")!

    @Test func aTokenVerifiesOnlyForWhatItWasIssuedFor() {
        let tokens = TokenManager()
        let token = tokens.token(for: requester, address: address, port: 4000, target: target, now: 1000)
        #expect(token != 0)
        #expect(tokens.verify(token, for: requester, address: address, port: 4000, target: target, now: 2000))
        #expect(!tokens.verify(token, for: Id.random(), address: address, port: 4000, target: target, now: 2000))
        #expect(!tokens.verify(token, for: requester, address: IPAddress("192.0.2.11")!, port: 4000, target: target, now: 2000))
        #expect(!tokens.verify(token, for: requester, address: address, port: 4001, target: target, now: 2000))
        #expect(!tokens.verify(token, for: requester, address: address, port: 4000, target: Id.random(), now: 2000))
        #expect(!tokens.verify(0, for: requester, address: address, port: 4000, target: target, now: 2000))
    }

    @Test func tokensLiveFiveToTenMinutes() {
        let tokens = TokenManager()
        let issued: Int64 = 1_700_000_100_000 + 60_000  // one minute into a window (windows start at multiples of 5 min)
        let token = tokens.token(for: requester, address: address, port: 4000, target: target, now: issued)
        #expect(tokens.verify(token, for: requester, address: address, port: 4000, target: target, now: issued + 8 * 60_000), "previous window")
        #expect(!tokens.verify(token, for: requester, address: address, port: 4000, target: target, now: issued + 9 * 60_000), "two windows later")
        #expect(!tokens.verify(token, for: requester, address: address, port: 4000, target: target, now: issued + 60 * 60_000))
    }

    @Test func anotherProcessSecretGivesOtherTokens() {
        let first = TokenManager(), second = TokenManager()
        let token = first.token(for: requester, address: address, port: 4000, target: target, now: 0)
        #expect(!second.verify(token, for: requester, address: address, port: 4000, target: target, now: 0))
    }
}
