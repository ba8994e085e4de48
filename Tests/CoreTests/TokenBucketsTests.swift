import CarrierCore
import Testing

/// Token buckets: refill and refusal, and a bounded amount of work per call however many keys
/// a flood brings (the newest kept, the oldest forgotten).
struct TokenBucketsTests {
    @Test func aBucketRefusesWhenEmptyAndRefillsAtTheRate() {
        var buckets = TokenBuckets<String>(rate: 10, burst: 2)
        let atFirst = [buckets.allow("a", now: 0), buckets.allow("a", now: 0), buckets.allow("a", now: 0)]
        #expect(atFirst == [true, true, false])
        let wait = buckets.take("a", now: 50)
        #expect(wait == 50, "half a token arrived, the other half in 50 ms")
        let later = [buckets.allow("a", now: 100), buckets.allow("a", now: 100), buckets.allow("b", now: 100)]
        #expect(later == [true, false, true], "one token in 100 ms; another key has its own bucket")
    }

    @Test func reservationsArePacedAtTheRate() {
        var buckets = TokenBuckets<String>(rate: 10, burst: 1)
        let waits = [500, 500, 500, 150, 500].map { buckets.reserve("a", now: 0, maxWait: $0) }
        #expect(waits == [0, 100, 200, nil, 300], "over the longest wait: refused, nothing taken")
    }

    @Test func aMillionSourcesCostAtMostTwoForgottenBucketsPerCallAndTheNewestAreKept() {
        var buckets = TokenBuckets<Int>(rate: 1, burst: 1, capacity: 100_000)
        var mostForgottenInOneCall = 0, mostKept = 0, refused = 0
        for key in 0..<1_000_000 {
            let before = buckets.forgotten
            // Every source spends its only token, so none refills: only the capacity forgets.
            if !buckets.allow(key, now: Int64(key / 1000)) { refused += 1 }
            mostForgottenInOneCall = max(mostForgottenInOneCall, buckets.forgotten - before)
            mostKept = max(mostKept, buckets.count)
        }
        #expect(refused == 0, "each new source has a full bucket")
        #expect(mostKept == 100_000)
        #expect(mostForgottenInOneCall == 1, "one new key over the capacity forgets one old one")
        #expect(buckets.forgotten == 900_000)
        let newest = buckets.allow(999_999, now: 1000), oldest = buckets.allow(899_999, now: 1000)
        #expect(newest == false, "the newest source's bucket is kept, still empty")
        #expect(oldest, "the oldest were forgotten: a new, full bucket")
    }

    @Test func refilledBucketsAreForgottenAsTheyAge() {
        var buckets = TokenBuckets<Int>(rate: 1000, burst: 1)
        for key in 0..<1000 { _ = buckets.allow(key, now: Int64(key)) }
        #expect(buckets.count < 10, "a bucket refills in 1 ms and is forgotten by a later call (\(buckets.count) kept)")
        #expect(buckets.forgotten > 990)
    }
}
