import CareSupport

/// The detectors of one person/home, fed in order by the pipeline's consumer thread.
///
/// Dispatch: when a signal is first seen, each detector family is asked once whether it wants it; the answer is
/// kept as a bit set per signal (the plan), indexed densely by `SignalID`. Per sample the engine tests the bits and
/// calls the concrete families directly: no dictionary, no existential, no allocation.
public final class DetectorEngine: SampleProcessor, @unchecked Sendable {
    // @unchecked Sendable: made on one thread and handed to the detector thread, which alone uses it from then on.

    public let context: DetectorContext
    public let alarms: AlarmDetector?
    public let fall: FallDetector?
    public let routine: RoutineDetector?
    public let thresholds: ThresholdDetector?
    public let health: SensorHealthDetector?

    @usableFromInline let alarmsRef: Unmanaged<AlarmDetector>?
    @usableFromInline let fallRef: Unmanaged<FallDetector>?
    @usableFromInline let routineRef: Unmanaged<RoutineDetector>?
    @usableFromInline let thresholdsRef: Unmanaged<ThresholdDetector>?
    @usableFromInline let healthRef: Unmanaged<SensorHealthDetector>?

    @usableFromInline struct Plan: OptionSet, Sendable {
        @usableFromInline let rawValue: UInt8
        @usableFromInline init(rawValue: UInt8) { self.rawValue = rawValue }
        @usableFromInline static let resolved = Plan(rawValue: 1 << 0)
        @usableFromInline static let alarms = Plan(rawValue: 1 << 1)
        @usableFromInline static let fall = Plan(rawValue: 1 << 2)
        @usableFromInline static let routine = Plan(rawValue: 1 << 3)
        @usableFromInline static let thresholds = Plan(rawValue: 1 << 4)
        @usableFromInline static let health = Plan(rawValue: 1 << 5)
    }
    @usableFromInline var plans: [Plan]
    public var samples = 0
    public var latestTime: Double = -.infinity
    /// Every enabled family (made once: the tick and state paths iterate it without allocating).
    public let detectors: [any Detector]
    /// Time-based checks run at least every `tickInterval` seconds of sample time (replay has no idle wake-ups).
    public let tickInterval: Double = 1
    @usableFromInline var nextTick = -Double.infinity
    /// The step of time-based checks through a gap in the data.
    public let gapStep: Double = 60
    /// Gaps longer than this (a wall clock stepped forward by days) are not walked: the families see one jump.
    public let maximumGapWalk: Double = 7 * 86_400
    /// Families paused by `pause` are masked out of every plan (all bits set: none paused).
    @usableFromInline var active: UInt8 = .max
    /// The plan bit of each of `detectors`, for masking ticks.
    let familyBits: [UInt8]
    public let pause: FamilyPause?
    var pauseSeen = 0
    var pauseWindow: FamilyPause.Window?
    var pausedNow = false

    /// Builds every family the settings enable (`detectors` section of the config, nil = all defaults).
    /// - Parameter pause: families to pause between two times (away mode), checked at each time-based check.
    public init(context: DetectorContext, settings: JSONObject? = nil, pause: FamilyPause? = nil) throws(DetectorConfigurationError) {
        self.context = context
        self.pause = pause
        var issues: [DetectorConfigurationError.Issue] = []
        var made: [String: any Detector] = [:]
        if let settings {
            for k in settings.keys where !DetectorRegistry.names.contains(k) {
                issues.append(.init(path: "detectors.\(k)", message: "unknown detector\(Suggestion.didYouMean(k, DetectorRegistry.names)); known: \(DetectorRegistry.names.joined(separator: ", "))"))
            }
        }
        for entry in DetectorRegistry.entries {
            let path = "detectors.\(entry.name)"
            var own: JSONObject?
            if let v = settings?[entry.name] {
                guard let o = v.objectValue else {
                    issues.append(.init(path: path, message: "expected an object, found \(v.typeName)"))
                    continue
                }
                own = o
                if let e = o["enabled"] {
                    guard let b = e.boolValue else {
                        issues.append(.init(path: "\(path).enabled", message: "expected true or false"))
                        continue
                    }
                    if !b { continue }
                }
            }
            do { made[entry.name] = try entry.make(own, path, context) } catch { issues += error.issues }
        }
        if !issues.isEmpty { throw DetectorConfigurationError(issues) }
        alarms = made[AlarmDetector.name] as? AlarmDetector
        fall = made[FallDetector.name] as? FallDetector
        routine = made[RoutineDetector.name] as? RoutineDetector
        thresholds = made[ThresholdDetector.name] as? ThresholdDetector
        health = made[SensorHealthDetector.name] as? SensorHealthDetector
        alarmsRef = alarms.map { Unmanaged.passUnretained($0) }
        fallRef = fall.map { Unmanaged.passUnretained($0) }
        routineRef = routine.map { Unmanaged.passUnretained($0) }
        thresholdsRef = thresholds.map { Unmanaged.passUnretained($0) }
        healthRef = health.map { Unmanaged.passUnretained($0) }
        var all: [any Detector] = []
        var names: [String] = []
        for entry in DetectorRegistry.entries {
            if let d = made[entry.name] { all.append(d); names.append(entry.name) }
        }
        detectors = all
        familyNames = names
        familyBits = names.map { Self.bit(of: $0).rawValue }
        plans = []
        plans.reserveCapacity(256)
    }


    /// One sample: a stretch of one (the pipeline hands over stretches; tests and tools feed samples one by one).
    @inlinable
    public func process(_ sample: Sample) {
        withUnsafePointer(to: sample) { process(UnsafeBufferPointer(start: $0, count: 1)) }
    }

    /// A drained stretch of the ring. Consecutive samples of one signal (an accelerometer message's batch, and the
    /// next messages of the same wearable) form a run: its plan is looked up once and each family takes the whole
    /// run at once (`FallDetector` and `SensorHealthDetector` keep their per-signal state in registers across it).
    /// A run ends before any sample that makes a time-based check due, so checks run exactly where `process(_:)`
    /// one sample at a time would run them; detections of a run that went to several families are sent in time
    /// order (`DetectorContext.holdDetections`).
    @inlinable
    public func process(_ stretch: UnsafeBufferPointer<Sample>) {
        guard var p = stretch.baseAddress else { return }
        let end = p + stretch.count
        while p < end {
            let first = p.pointee
            // Time-based checks first: a sample after a quiet gap must find the detections that became due inside
            // the gap already raised (in order), not cleared before they were ever raised. (Samples a little out
            // of order, such as a delayed wristband batch, do not move time back; a step back of more than
            // `gapStep`, a wall clock corrected by NTP, restarts the ticks from the new time.)
            if first.time >= nextTick || first.time < nextTick - gapStep { tick(through: first.time) }
            let tickDue = nextTick, tickBack = nextTick - gapStep
            var q = p + 1
            var latest = first.time
            while q < end {
                let s = q.pointee
                if s.signal != first.signal || s.time >= tickDue || s.time < tickBack { break }
                if s.time > latest { latest = s.time }
                q += 1
            }
            let run = UnsafeBufferPointer(start: p, count: q - p)
            let i = Int(first.signal.rawValue)
            if i >= plans.count || !plans[i].contains(.resolved) { resolve(first.signal) }
            let plan = Plan(rawValue: plans[i].rawValue & active)
            let families = plan.rawValue & ~Plan.resolved.rawValue
            let several = families & (families &- 1) != 0
            if several { context.holdDetections() }
            // Guaranteed references (the engine's `let`s own the families): no retain/release per run.
            if plan.contains(.fall) { fallRef.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.process(run) } }
            if plan.contains(.alarms) { alarmsRef.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.process(run) } }
            if plan.contains(.routine) { routineRef.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.process(run) } }
            if plan.contains(.thresholds) { thresholdsRef.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.process(run) } }
            if plan.contains(.health) { healthRef.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.process(run) } }
            if several { context.releaseDetections() }
            self.samples &+= run.count
            if latest > latestTime { latestTime = latest }
            p = q
        }
    }

    /// Runs the families' time-based checks up to `time` (slow path: at most once per `tickInterval` of sample
    /// time). Through a gap in the data (replay: a quiet night) it steps every `gapStep` seconds so that what
    /// became due inside the gap is raised at the time it became due. After a step back in time it restarts from
    /// the new time (the families themselves refuse to fire or learn across the step).
    @usableFromInline func tick(through time: Double) {
        if pause != nil { applyPause(at: time) }
        if nextTick.isFinite && time > nextTick + gapStep && time - nextTick < maximumGapWalk {
            var t = nextTick
            while t < time {
                for (d, b) in zip(detectors, familyBits) where b & active != 0 { d.advance(to: t) }
                t += gapStep
            }
        }
        nextTick = time + tickInterval
        for (d, b) in zip(detectors, familyBits) where b & active != 0 { d.advance(to: time) }
    }

    /// Starts or ends the pause at `time` (slow path: once per tick, and the window is read only when it changed).
    func applyPause(at time: Double) {
        guard let pause else { return }
        var renewed = false
        if let (g, w) = pause.changed(since: pauseSeen) {
            pauseSeen = g
            renewed = w != pauseWindow
            pauseWindow = w
        }
        let paused = pauseWindow?.contains(time) ?? false
        guard paused != pausedNow else {
            // A new window while paused (another `until`) is news of its own.
            if paused && renewed, let w = pauseWindow { pause.onChange(true, time, w) }
            return
        }
        pausedNow = paused
        let pausable = pause.families.reduce(UInt8(0)) { $0 | Self.bit(of: $1).rawValue }
        active = paused ? ~pausable : .max
        if !paused {
            for (d, b) in zip(detectors, familyBits) where b & pausable != 0 { d.resume(at: time) }
        }
        pause.onChange(paused, time, pauseWindow ?? FamilyPause.Window(from: time, until: time))
    }

    static func bit(of family: String) -> Plan {
        switch family {
        case AlarmDetector.name: .alarms
        case FallDetector.name: .fall
        case RoutineDetector.name: .routine
        case ThresholdDetector.name: .thresholds
        case SensorHealthDetector.name: .health
        default: []
        }
    }

    /// Asks each family once whether it wants this signal (slow path: the first sample of a signal).
    @usableFromInline func resolve(_ id: SignalID) {
        let i = Int(id.rawValue)
        while plans.count <= i { plans.append([]) }
        var plan: Plan = .resolved
        if let info = context.signals.info(id) {
            if let alarms, alarms.accepts(info) { plan.insert(.alarms) }
            if let fall, fall.accepts(info) { plan.insert(.fall) }
            if let routine, routine.accepts(info) { plan.insert(.routine) }
            if let thresholds, thresholds.accepts(info) { plan.insert(.thresholds) }
            if let health, health.accepts(info) { plan.insert(.health) }
        }
        plans[i] = plan
    }

    public func advance(to time: Double) {
        guard time > latestTime else { return }
        latestTime = time
        tick(through: time)
    }

    /// Ends a replay: time-based checks run once more at `time` (the last message's time); nothing is assumed
    /// about what happened after the capture ended.
    public func finish(at time: Double) {
        if time > latestTime { latestTime = time }
        tick(through: time)
    }

    // MARK: Learned state

    /// The learned state of every family, as one JSON object keyed by family name.
    public func learnedState() -> JSONObject {
        var o = JSONObject()
        o["version"] = 1
        o["person"] = .string(context.person)
        for (name, d) in zip(familyNames, detectors) {
            if let s = d.learnedState() { o[name] = s }
        }
        return o
    }

    let familyNames: [String]

    /// Restores what `learnedState()` saved; families whose state cannot be read start afresh (listed in the result).
    public func restore(_ state: JSONObject) -> [String] {
        var problems: [String] = []
        if let p = state["person"]?.stringValue, p != context.person {
            return ["the state belongs to \(p), not \(context.person): not restored"]
        }
        for (name, d) in zip(familyNames, detectors) {
            guard let s = state[name] else { continue }
            do { try d.restore(learnedState: s) } catch { problems.append("\(name): \(error.message)") }
        }
        return problems
    }
}
