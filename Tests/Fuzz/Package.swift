// swift-tools-version:6.0
// libFuzzer harnesses for every parser of outside input in Carrier (the datagram path, the proxy's
// HTTP and WebSocket server, JSON bodies, OpenDHT bodies, runner messages, Shadow frames). See README.md.
// Built only by run.sh (`make fuzz`) with `-sanitize=fuzzer,address -parse-as-library -enable-testing`.
import PackageDescription

let package = Package(
    name: "CarrierFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Carrier", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
    ],
    targets: [
        // Declares LLVMFuzzerRunDriver (header only; the symbol comes from libclang_rt.fuzzer).
        .systemLibrary(name: "CLibFuzzer", path: "Sources/CLibFuzzer"),
        .executableTarget(
            name: "CarrierFuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "CarrierCore", package: "Carrier"),
                .product(name: "CarrierDHT", package: "Carrier"),
                .product(name: "CarrierHTTP", package: "Carrier"),
                // `@testable import`: OpenDHTValue/OpenDHTBucket (ProxyPlugin), RunnerMessage (CarrierHost).
                .product(name: "ProxyPluginForFuzzing", package: "Carrier"),
                .product(name: "CarrierHost", package: "Carrier"),
                // `@testable import`: SealedFrameDecoder, SealingKey, ShadowFrame.read (CarrierShadow).
                .product(name: "CarrierShadow", package: "Carrier"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/CarrierFuzz"
        ),
    ]
)
