// swift-tools-version:6.1
// Fuzzing with libFuzzer, apart from the product modules. Not part of the main build; run `tools/fuzz`.
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
        // The config loader, the answer parsers and the journal. `careMonitord` is a link to the executable's
        // sources (its config loader is internal to it), compiled here without its entry point.
        .executableTarget(
            name: "CareFuzzer",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "SensorIngest", package: "careMonitord"),
                .product(name: "Anomaly", package: "careMonitord"),
                .product(name: "Escalation", package: "careMonitord"),
                .product(name: "CareSupport", package: "careMonitord"),
            ],
            exclude: ["careMonitord/CareMonitord.swift"]
        ),
    ]
)
