import Anomaly
import CareSupport
import Synchronization

/// What the detectors say about the home between two detections, for the live state topics: the devices that
/// stopped watching (silent, offline, not worn, battery low) and since when, her last sign of life, and the
/// learned routine in one line. Filled on the detector thread (from each detection, and a snapshot at most every
/// `snapshotInterval` seconds of sample time, never per sample); read by the daemon's main thread.
final class HomeWatch: Sendable {
    /// A device that stopped watching, from its `raised` detection until its `cleared`.
    struct Problem: Sendable, Equatable {
        var device: String
        var topic: String?
        var kind: DetectionKind
        var since: Double
    }

    struct State: Sendable {
        var problems: [Problem] = []
        var lastActivity: JSONObject?
        var routine: String?
    }

    static let problemKinds: Set<DetectionKind> = [.sensorSilent, .deviceOffline, .notWorn, .batteryLow]
    static let snapshotInterval = 10.0

    private let state = Mutex(State())
    /// Detector thread only (the snapshot's schedule).
    private let nextSnapshot = Atomic<Int64>(.min)

    var current: State { state.withLock { $0 } }

    /// Every detection, on the detector thread (detections are rare).
    func take(_ d: Detection) {
        guard Self.problemKinds.contains(d.kind), let device = d.device else { return }
        state.withLock { s in
            s.problems.removeAll { $0.device == device && $0.kind == d.kind }
            if d.state == .raised { s.problems.append(Problem(device: device, topic: d.topic, kind: d.kind, since: d.time)) }
        }
    }

    /// Takes the last activity and the routine line from the detectors when a snapshot is due at `time` (detector
    /// thread; one comparison otherwise).
    func observe(_ detectors: DetectorEngine, at time: Double) {
        let due = nextSnapshot.load(ordering: .relaxed)
        guard time.isFinite, Int64(time) >= due else { return }
        nextSnapshot.store(Int64(time + Self.snapshotInterval), ordering: .relaxed)
        let last = detectors.routine?.lastActivity
        let routine = detectors.routine.map { Self.routineLine($0.summary()) }
        state.withLock { s in
            s.lastActivity = last
            s.routine = routine
        }
    }

    /// "learned from 12 days: up by about 07:30, in bed by about 22:40, night 23:55–06:10".
    static func routineLine(_ summary: JSONObject) -> String {
        let days = summary["learnedDays"]?.exactInt ?? 0
        if summary["learning"]?.boolValue == true { return "still learning (\(days) day\(days == 1 ? "" : "s") so far): fixed limits only" }
        var parts = ["learned from \(days) days"]
        if let w = summary["wakeUp"]?["median"]?.stringValue { parts.append("up by about \(w)") }
        if let b = summary["bedtime"]?["median"]?.stringValue { parts.append("in bed by about \(b)") }
        if let n = summary["night"]?.stringValue { parts.append("night \(n)") }
        return parts.joined(separator: ", ")
    }
}
