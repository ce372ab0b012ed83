// swift-tools-version:6.1
// Fuzzing the payload decoders with libFuzzer. Not part of the main build; run `tools/fuzz-decoders`.
// Build by hand:
//   swift build -c debug --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
import PackageDescription

let package = Package(
    name: "careMonitordFuzz",
    dependencies: [
        .package(name: "careMonitord", path: ".."),
    ],
    targets: [
        // The declaration of libFuzzer's LLVMFuzzerRunDriver.
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "DecoderFuzzer",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "SensorIngest", package: "careMonitord"),
                .product(name: "CareSupport", package: "careMonitord"),
            ]
        ),
    ]
)
