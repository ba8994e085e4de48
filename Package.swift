// swift-tools-version:6.0
// Carrier: a supernode runtime for the Boson v3.1 DHT. See README.md and docs/.
import PackageDescription

/// Release builds of the modules on the datagram path export their bodies to the modules using
/// them, so generics such as `TokenBuckets<RateKey>` and the wire types are specialized where used
/// rather than run through witness tables (docs/decisions.md, "Cross-module optimization").
let crossModuleOptimized: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "Carrier",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CarrierCore", targets: ["CarrierCore"]),
        .library(name: "CarrierDHT", targets: ["CarrierDHT"]),
        .executable(name: "carrier", targets: ["CarrierCLI"]),
        .executable(name: "carrier-bench", targets: ["CarrierBenchmarks"]),
        // The Swift layer for plugin authors, and the Swift example plugin (a shared library).
        .library(name: "CarrierPluginSDK", targets: ["CarrierPluginSDK"]),
        // A bounded HTTP/1.1 + WebSocket server for Swift plugins (the proxy's, later KV's and IM's).
        .library(name: "CarrierHTTP", targets: ["CarrierHTTP"]),
        .library(name: "HelloSwiftPlugin", type: .dynamic, targets: ["HelloSwiftPlugin"]),
        // The DHT proxy for light nodes (a dynamic library with its own copy of SwiftNIO).
        .library(name: "ProxyPlugin", type: .dynamic, targets: ["ProxyPlugin"]),
        // For Tests/Fuzz only (`@testable import` with `-enable-testing`): the proxy's code and the
        // host, linked statically into the fuzzer, so it reaches `OpenDHTValue` and `RunnerMessage`
        // with one copy of CarrierCore and SwiftNIO (the dynamic product carries its own).
        .library(name: "ProxyPluginForFuzzing", type: .static, targets: ["ProxyPlugin"]),
        .library(name: "CarrierHost", targets: ["CarrierHost"]),
        // The Shadow protocol (handshake, sealed frames, relaying) and its client, for programs
        // that expose a service behind NAT.
        .library(name: "CarrierShadow", targets: ["CarrierShadow"]),
        // The Shadow service's supernode side (a dynamic library with its own copy of SwiftNIO).
        .library(name: "ShadowPlugin", type: .dynamic, targets: ["ShadowPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // libsodium, from Debian's libsodium-dev (`make deps` installs it).
        .systemLibrary(
            name: "CSodium",
            path: "Runtime/CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // SQLite 3, from Debian's libsqlite3-dev: the DHT's storage and the billing ledger.
        .systemLibrary(
            name: "CSQLite",
            path: "Runtime/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Linux's socket diagnostics (sock_diag) headers: the host reads the kernel's byte counts of
        // the TCP sockets plugins hand it (Runtime/Host/Metering).
        .systemLibrary(name: "CLinuxDiag", path: "Runtime/CLinuxDiag"),
        // Id, Base58, keys, CBOR, JSON, the Boson wire messages, Value, PeerInfo, the SQLite wrapper.
        .target(name: "CarrierCore", dependencies: ["CSodium", "CSQLite"], path: "Runtime/Core", swiftSettings: crossModuleOptimized),
        // The DHT: UDP transport, sealed datagram envelope, routing tables, lookups, write tokens,
        // storage, and `DHTNode`.
        .target(
            name: "CarrierDHT",
            dependencies: [
                "CarrierCore", "CSodium", "CSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Runtime/DHT",
            swiftSettings: crossModuleOptimized
        ),
        // The plugin contract: PluginSDK/include/carrier_plugin.h (the C ABI), and a C file that
        // pins its layout at compile time.
        .target(name: "CarrierPluginABI", path: "PluginSDK", exclude: ["README.md", "Swift", "HTTP"], sources: ["abi_layout.c"],
                publicHeadersPath: "include"),
        // PluginSDK/Swift: a Swift type conforming to `CarrierPlugin` becomes a plugin.
        .target(name: "CarrierPluginSDK", dependencies: ["CarrierPluginABI"], path: "PluginSDK/Swift"),
        // PluginSDK/HTTP: the HTTP server plugins serve outside clients with (strict parsing,
        // deadlines, backpressure, RFC 6455 checks, counted refusals).
        .target(name: "CarrierHTTP", dependencies: ["CarrierCore",
                                                    .product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "NIOHTTP1", package: "swift-nio"),
                                                    .product(name: "NIOWebSocket", package: "swift-nio")],
                path: "PluginSDK/HTTP"),
        .target(name: "ProxyPlugin", dependencies: ["CarrierPluginSDK", "CarrierPluginABI", "CarrierCore", "CarrierHTTP",
                                                    .product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "NIOHTTP1", package: "swift-nio"),
                                                    .product(name: "NIOWebSocket", package: "swift-nio")],
                path: "Plugins/proxy", exclude: ["README.md", "openapi.yaml"],
                // The browser light node and the demo page, compiled into the library.
                resources: [.embedInCode("Web/client.js"), .embedInCode("Web/index.html")]),
        // Shadow (docs/shadow.md): the handshake, the sealed frames and the stream relay both ends
        // share, and `ShadowClient`, the node's end.
        .target(name: "CarrierShadow", dependencies: ["CarrierCore", "CSodium",
                                                      .product(name: "NIOCore", package: "swift-nio"),
                                                      .product(name: "NIOPosix", package: "swift-nio")],
                path: "Runtime/Shadow"),
        .target(name: "ShadowPlugin", dependencies: ["CarrierPluginSDK", "CarrierPluginABI", "CarrierCore", "CarrierShadow",
                                                     .product(name: "NIOCore", package: "swift-nio"),
                                                     .product(name: "NIOPosix", package: "swift-nio")],
                path: "Plugins/shadow", exclude: ["README.md"]),
        .target(name: "HelloSwiftPlugin", dependencies: ["CarrierPluginSDK", "CarrierPluginABI"], path: "Plugins/examples/hello-swift",
                exclude: ["README.md"]),
        // The supernode host: manifests and node configuration, plugin loader, host API, services,
        // the admin HTTP endpoint.
        .target(
            name: "CarrierHost",
            dependencies: [
                "CarrierCore", "CarrierDHT", "CarrierPluginABI", "CLinuxDiag",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Runtime/Host",
            exclude: ["README.md"]
        ),
        // The `carrier` command-line tool.
        .executableTarget(
            name: "CarrierCLI",
            dependencies: [
                "CarrierCore", "CarrierDHT", "CarrierHost", "CarrierShadow",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Runtime/CLI"
        ),
        // `make bench`: throughput table against raw libsodium measured in the same run; the proxy's
        // HTTP server against Hummingbird's (`carrier-bench proxy`).
        .executableTarget(
            name: "CarrierBenchmarks",
            dependencies: ["CarrierCore", "CarrierDHT", "CarrierHost", "CarrierPluginABI", "CSodium", "TestSupport", "CarrierHTTP", "CarrierShadow",
                           .product(name: "Hummingbird", package: "hummingbird")],
            path: "Tests/Benchmarks",
            // The OpenDHT side of the loopback comparison, run with Debian's python3.
            exclude: ["opendht_loopback.py"]
        ),
        // Locates ../shared (the reference vectors) for the test targets; runs child processes
        // (carrier, dhtnode) and a WebSocket client.
        .target(name: "TestSupport", dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "NIOHTTP1", package: "swift-nio"),
                                                    .product(name: "NIOWebSocket", package: "swift-nio")],
                path: "Tests/TestSupport"),
        // NIOEmbedded: connections on an EmbeddedChannel, for inputs the fuzzer found (Tests/Fuzz).
        .testTarget(name: "HTTPTests", dependencies: ["CarrierHTTP", "TestSupport", .product(name: "NIOCore", package: "swift-nio"),
                                                      .product(name: "NIOEmbedded", package: "swift-nio")], path: "Tests/HTTPTests"),
        .testTarget(name: "CoreTests", dependencies: ["CarrierCore", "TestSupport"], path: "Tests/CoreTests"),
        .testTarget(name: "DHTTests", dependencies: ["CarrierDHT", "CarrierCore", "TestSupport"], path: "Tests/DHTTests"),
        // Conformance/ holds tiny C plugins that each break one rule; the tests compile them with cc.
        // tls_peer.py is a TLS server and client (Debian's python3) for the shared TLS port.
        .testTarget(name: "HostTests", dependencies: ["CarrierHost", "CarrierPluginABI", "CarrierDHT", "CarrierCore", "CarrierShadow", "TestSupport",
                                                      .product(name: "Logging", package: "swift-log")], path: "Tests/HostTests",
                    exclude: ["Conformance", "tls_peer.py"]),
        // Runs the built `carrier` executable as a child process.
        .testTarget(name: "CLITests", dependencies: ["CarrierCore", "CarrierHost", "TestSupport"], path: "Tests/CLITests"),
        // The Shadow protocol's tests (handshake, frames), and the real NAT of TestSupport's
        // NetworkLab; lab_peer.py is the peers run in the lab's namespaces with Debian's python3.
        .testTarget(name: "ShadowTests", dependencies: ["CarrierShadow", "CarrierCore", "TestSupport",
                                                        .product(name: "NIOCore", package: "swift-nio"),
                                                        .product(name: "NIOEmbedded", package: "swift-nio")], path: "Tests/ShadowTests",
                    exclude: ["lab_peer.py"]),
    ]
)
