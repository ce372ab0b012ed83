import CareSupport

/// A family of detections computed from samples: one file each, listed once in `DetectorRegistry`.
///
/// ## Implementation requirements
/// - **Hot path.** `process(_:)` runs on the detector thread for every sample of a signal it accepted: no
///   allocation, no lock, no logging, no existential dispatch in steady state. Per-signal state lives in dense
///   arrays indexed by the engine's slot number, sized when `accepts` says yes.
/// - **Time is data.** "Now" is the time of the sample being processed or the time given to `advance(to:)` (replay
///   drives it from the capture, the daemon from its clock); never read a clock. Local time (routines) comes from
///   `context.localTime`, DST-safe. Wall-clock steps (an NTP correction after a boot in 1970) show up as jumps in
///   sample times: a jump backwards must not fire anything and must not poison learned state.
/// - **Detections are events.** Emit `raised` once when a condition starts and `cleared` when it ends (same kind,
///   same device); never one per sample. `device`/`topic` name the input; home-level kinds name the last activity
///   in `detail`.
/// - **Learned state is plain JSON** (`learnedState()`), readable by a carer's engineer, restored at start;
///   restoring state of another version or shape gives a typed error, never a crash.
///
/// As a `SampleProcessor` it takes one sample of an accepted signal at a time (`process(_ sample:)`, in time order
/// per signal) or a run of one signal's samples (`process(_ run:)`, by default one at a time), and `advance(to:)`
/// when time moved without a sample for it.
public protocol Detector: SampleProcessor {
    /// Called once when a signal is first seen. Returns true to receive its samples from then on.
    func accepts(_ signal: SignalInfo) -> Bool
    /// What this detector learned, for the state directory (nil: nothing to keep).
    func learnedState() -> JSONValue?
    /// Restores what `learnedState()` returned in an earlier run.
    func restore(learnedState: JSONValue) throws(DetectorStateError)
    /// A pause (`FamilyPause`) ended at `time`: the family saw nothing since it began, and must not take that
    /// stretch as something that happened.
    func resume(at time: Double)
}

extension Detector {
    public func learnedState() -> JSONValue? { nil }
    public func resume(at time: Double) {}
    public func restore(learnedState: JSONValue) throws(DetectorStateError) {}
}

/// Learned state that cannot be restored (other version, damaged file). The daemon starts learning afresh and says so.
public struct DetectorStateError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What every detector of one person/home shares: who, where (time zone), the signal names, where detections go.
/// Owned by the detector thread.
public final class DetectorContext: @unchecked Sendable {
    // @unchecked Sendable: made on the main thread, then used only by the detector thread.
    public let person: String
    public let localTime: LocalTime
    public let signals: SignalRegistry
    private let sink: (Detection) -> Void
    /// Emitted detections, for summaries.
    public private(set) var emitted = 0

    public init(person: String, localTime: LocalTime, signals: SignalRegistry, emit: @escaping (Detection) -> Void) {
        self.person = person
        self.localTime = localTime
        self.signals = signals
        self.sink = emit
    }

    /// Sends a detection on (replay's stdout, the daemon's events topic and escalation).
    public func emit(_ d: Detection) {
        emitted += 1
        if holding { held.append(d) } else { sink(d) }
    }

    /// While the engine hands a run of samples to one family after another, their detections are held and then
    /// sent in time order (ties in family order), as if each sample had gone through every family in turn.
    private var holding = false
    private var held: [Detection] = []

    @usableFromInline func holdDetections() { holding = true }

    @usableFromInline func releaseDetections() {
        holding = false
        guard !held.isEmpty else { return }
        // Equal times keep the order they were emitted in.
        let ordered = held.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
        held.removeAll(keepingCapacity: true)
        for (_, d) in ordered { sink(d) }
    }

    /// A detection about `signal`'s device and topic.
    public func detection(_ kind: DetectionKind, _ state: DetectionState, time: Double, signal: SignalID?,
                          severity: Severity? = nil, detail: JSONObject = JSONObject()) -> Detection {
        let info = signal.flatMap { signals.info($0) }
        return Detection(time: time, person: person, kind: kind, state: state, device: info?.deviceName,
                         topic: info?.topic, severity: severity, detail: detail)
    }
}
