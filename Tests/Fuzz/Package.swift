// swift-tools-version:6.0
// libFuzzer harness for the Carrier datagram path (envelope + CBOR wire decoder). See README.md.
// Built only by run.sh (`make fuzz`) with `-sanitize=fuzzer,address -parse-as-library`.
import PackageDescription

let package = Package(
    name: "CarrierFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Carrier", path: "../.."),
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
            ],
            path: "Sources/CarrierFuzz"
        ),
    ]
)
