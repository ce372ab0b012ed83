import Anomaly
import CareSupport

/// The one place the benchmark builds a detector engine (every detector family at its defaults, as a config
/// without a `detectors` section gives), so that an Anomaly API change is adapted here only. `signals` must be the
/// registry the feeder registers signals in (the engine resolves its per-signal plan from it).
func makeBenchmarkDetectorEngine(signals: SignalRegistry) -> DetectorEngine {
    guard let local = LocalTime(identifier: "UTC") else { fail("no UTC time zone") }
    let context = DetectorContext(person: "bench", localTime: local, signals: signals, emit: { _ in })
    do { return try DetectorEngine(context: context) } catch { fail("DetectorEngine: \(error)") }
}
