// swift-tools-version:6.1
// careMonitord: the home gateway daemon of a circle of care. Toolchain only, plus libmosquitto (system library).
import PackageDescription

/// The per-sample modules: release builds drop the dynamic exclusivity checks (each access to a class's stored
/// property on the hot path otherwise costs a runtime call, `swift_beginAccess`, high in a replay profile). Debug builds, where every test
/// runs, keep them; the static checks stay on everywhere.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "careMonitord",
    products: [
        .executable(name: "careMonitord", targets: ["careMonitord"]),
        .library(name: "SensorIngest", targets: ["SensorIngest"]),
        .library(name: "Anomaly", targets: ["Anomaly"]),
        .library(name: "Escalation", targets: ["Escalation"]),
        .library(name: "CareSupport", targets: ["CareSupport"]),
    ],
    targets: [
        // libmosquitto through pkg-config (Debian: libmosquitto-dev).
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // futex and membarrier for the ring's parking (header-only: syscall(2) is variadic, Swift cannot call it).
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        // Clock, secrets, process spawning, JSON with positions. Imports no module of ours.
        .target(name: "CareSupport"),
        // Vocabulary (Sample, Signal) and the detectors. Knows nothing of MQTT.
        .target(name: "Anomaly", dependencies: ["CareSupport"], swiftSettings: hotPath),
        // MQTT, decoders, the lock-free ring, record and replay.
        .target(name: "SensorIngest", dependencies: ["CMosquitto", "CLinux", "CareSupport", "Anomaly"], swiftSettings: hotPath),
        // Circle of care, policies, incidents, notifiers. Knows nothing of sensors.
        .target(name: "Escalation", dependencies: ["CareSupport"]),
        .executableTarget(
            name: "careMonitord",
            dependencies: ["SensorIngest", "Anomaly", "Escalation", "CareSupport"]
        ),
        // C references for the benchmark (SPSC ring, rolling statistics, libmosquitto subscriber) and the
        // allocation-counting malloc interposer.
        .target(
            name: "BenchmarkC",
            dependencies: ["CMosquitto"],
            path: "Sources/BenchmarkC"
        ),
        .executableTarget(
            name: "careMonitordBenchmarks",
            dependencies: ["SensorIngest", "Anomaly", "CareSupport", "BenchmarkC"],
            path: "Benchmarks",
            swiftSettings: [.unsafeFlags(["-Ounchecked"])]
        ),
        // Shared test helpers: a real mosquitto on a free loopback port, fixture loader, conformance suites.
        .target(
            name: "TestSupport",
            dependencies: ["SensorIngest", "CareSupport"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "CareSupportTests", dependencies: ["CareSupport"]),
        .testTarget(name: "AnomalyTests", dependencies: ["Anomaly", "CareSupport"]),
        .testTarget(name: "SensorIngestTests", dependencies: ["SensorIngest", "Anomaly", "CareSupport", "TestSupport"]),
        .testTarget(name: "EscalationTests", dependencies: ["Escalation", "CareSupport", "TestSupport"]),
        .testTarget(name: "careMonitordTests", dependencies: ["TestSupport", "CareSupport", "Escalation", "Anomaly"]),
    ]
)
