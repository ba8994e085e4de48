import CarrierCore
import Foundation
import TestSupport
import Testing

/// The browser light node for real: headless Chromium (Debian's `chromium`) loads the demo page
/// from one supernode's proxy and another page from a second supernode's proxy. Each page makes
/// its own Ed25519 key with WebCrypto and opens a session (the proxies refuse anonymous use); the
/// second page watches the first page's value id, the first puts, and the second receives the
/// value by subscription, and again after its connection drops. The test fails if either page
/// reports an error.
@Suite(.serialized)
struct BrowserLightNodeTests {
    @Test func aPageOnOneSupernodeSeesWhatAPageOnAnotherPuts() async throws {
        try #require(HeadlessChromium.isInstalled, "chromium is missing: `make test` installs Debian's chromium package")
        let network = try await TwoProxies.start(config: "host = \"127.0.0.1\"\nport = 0\nanonymous = false")
        let browser = try await HeadlessChromium()

        let writer = try await browser.open("http://\(network.proxies[0])/")
        let writerId = try await browser.evaluate("carrierDemo.ready.then(() => carrierDemo.key.id)", session: writer)
        let reader = try await browser.open("http://\(network.proxies[1])/")
        _ = try await browser.evaluate("carrierDemo.ready", session: reader)
        #expect(try await browser.evaluate("document.getElementById('proxy').textContent", session: reader)
                    == "\"\(network.nodes[1].id.base58)\"", "the page shows the proxy it talks to")
        #expect(try await browser.evaluate("carrierDemo.client.proxy", session: reader) == "\"\(network.nodes[1].id.base58)\"",
                "the session knows its proxy from the challenge")
        #expect(try await browser.evaluate("document.getElementById('health').textContent", session: reader).contains("live DHT contacts"))

        _ = try await browser.evaluate("carrierDemo.watch(\(writerId))", session: reader)
        let stored = try await browser.evaluate("carrierDemo.put('hello from the first page')", session: writer)
        #expect(stored.contains(#""accepted":"#) && !stored.contains(#""accepted":0"#), "\(stored)")

        var received = ""
        let arrived = await eventually(within: .seconds(15)) {
            received = (try? await browser.evaluate("carrierDemo.received", session: reader)) ?? ""
            return received.contains("hello from the first page")
        }
        #expect(arrived, "the second page's subscription got the value: \(received)")
        #expect(try await browser.evaluate("document.getElementById('latest').textContent", session: reader).contains("hello from the first page"))

        // The reader's connection drops (closed under it, as a network would): the client
        // connects again, opens a new session and resubscribes from the last version it saw, so
        // a version put meanwhile still arrives, and only once.
        _ = try await browser.evaluate("(window.droppedSocket = carrierDemo.client.socket, carrierDemo.client.socket.close(), true)", session: reader)
        _ = try await browser.evaluate("carrierDemo.put('put while the reader was away')", session: writer)
        let reconnected = await eventually(within: .seconds(15)) {
            let state = (try? await browser.evaluate(
                "carrierDemo.client.socket !== window.droppedSocket && carrierDemo.client.socket.readyState === 1", session: reader)) ?? ""
            received = (try? await browser.evaluate("JSON.stringify(carrierDemo.received)", session: reader)) ?? ""
            return state == "true" && received.contains("put while the reader was away")
        }
        #expect(reconnected, "the second page reconnected and got the version put meanwhile: \(received)")
        #expect(received.components(separatedBy: "hello from the first page").count == 2, "version 1 arrived once: \(received)")

        // The value travelled through the DHT: the regular node finds it.
        let id = try #require(Id(base58: writerId.trimmingCharacters(in: CharacterSet(charactersIn: "\""))))
        #expect(await network.nodes[2].findValue(id)?.data == Array("put while the reader was away".utf8))

        #expect(browser.errors(session: writer).isEmpty, "the first page reported errors: \(browser.errors(session: writer))")
        #expect(browser.errors(session: reader).isEmpty, "the second page reported errors: \(browser.errors(session: reader))")
        await network.stop()
    }
}
