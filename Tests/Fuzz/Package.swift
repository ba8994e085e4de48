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
        .executableTarget(
            name: "CarrierFuzz",
            dependencies: [
                .product(name: "CarrierCore", package: "Carrier"),
                .product(name: "CarrierDHT", package: "Carrier"),
            ],
            path: "Sources/CarrierFuzz"
        ),
    ]
)
