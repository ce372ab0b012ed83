import CareSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Inactivity and routines, learned per person from her own history, online, in local time (the person's
/// `timezone`, DST-safe): has she stopped moving (`inactivity`, critical), is she not up by her usual time
/// (`not-up`), too long in the bathroom (`bathroom-dwell`), out far longer than usual or not back at night
/// (`not-home`), out of the front door at night (`night-wandering`), is her routine drifting over weeks
/// (`routine-drift`, info). Home-level kinds: `device`/`topic` are null, `detail.lastActivity` names the last sign of
/// life (device, room, local time), `detail.limitMinutes` the limit and `detail.rule` how it was learned.
///
/// ## Signs of life
/// Motion/occupancy `true`, any door/cupboard contact change, a toilet flush (`water_leak` true), an appliance
/// switched on, a button, a vibration; bed and seat pressure in both directions (lying down and getting up).
/// Temperatures, power readings and motion sensors timing out are not a person's doing and never reset the quiet
/// clock. Each device gets a room (`Room`, by name, overridable with `rooms`). A worn wearable's accelerometer (a
/// source with a `placement`) that moves (`MovementBlocks`) is a sign of life for `inactivity` only: the quiet it
/// measures runs from the later of the last sign of life in a room and the last movement (`detail.lastMovement`
/// names the wearable); a band left on the table does not move and changes nothing. It has no room: the context and
/// what is learned stay the rooms'.
///
/// ## The quiet period and its context
/// A quiet period runs from the last sign of life. Its context is where that was: `bed` / `seat` while a bed or
/// seat pressure sensor is occupied; `bedroom`, `bathroom`, `kitchen`, `living`, `other` by room (in a home without
/// a bed sensor, `bedroom` stands for bed); `out` after the front door; `arrived` after a front-door event that
/// ends a quiet which began at the front door (she came home). Door events within 2 min are one episode.
///
/// ## The learned model (`RoutineModel`, kept in `learned.json`)
/// For every context and 15-minute slot of the local day, by local week (the last four weeks; older ones are
/// forgotten): the longest time already quiet that was seen at that time of day, and how many quiet periods were
/// alive in that slot (each finished quiet period updates every slot it spans); the 10 longest whole quiet periods
/// that began in that slot, and how many began there. Quiet periods longer than `maximumLimitHours` (at home) or
/// 72 h (out), those spanning a clock step, and those that raised `inactivity` (it may have been an emergency) are
/// not learned. Also wake-ups and bedtimes: quiets of `wakeUpQuietMinutes` or more in a context where she may be
/// asleep, in the same context or between bed, bedroom and bathroom with interruptions of up to an hour (a toilet
/// trip), make one sleep; the day's longest sleep of 3 h or more that ends between 03:00 and 15:00 and whose middle
/// lies between 21:00 and 09:00 (the prior every home shares: a night is a night) gives the bedtime and the wake-up,
/// unless within the hour after it she settles again for 3 h or more: then that was no wake-up, and the later sleep is
/// the night if it is night-shaped (armchair 21:00–04:00, bed 04:30–08:00: up at 08:00), else the day teaches none
/// (armchair until 05:30, bed until 15:00).
/// Also daytime bathroom visits, night bathroom trips and kitchen visits per day (last 28 days).
///
/// ## Rules (parameters under `detectors.routine`, defaults in brackets)
/// - **Learning period.** Until `learningDays` [7] local days with activity have been seen, only fixed
///   conservative limits fire: `inactivity` after `fixedInactivityHours` [12] quiet at home, `bathroom-dwell` after
///   `fixedBathroomMinutes` [120], `not-home` after `fixedNotHomeHours` [24] out. `learn` bootstraps the model from
///   recorded history so a new install need not wait.
/// - **inactivity** (not in `out`): quiet longer than
///   `clamp(limitFactor [1.5] × E + marginMinutes [90], minimumLimitMinutes [30], maximumLimitHours [12])`, where E is
///   the longest normal quiet of this context within ± `windowMinutes` [60] of the current local time (a sitting
///   session counts in every slot it spans, so an afternoon in the armchair sets the afternoon's limit, not the
///   morning's); with fewer than `minimumObservations` [40] observations there the
///   window widens (×2, ×4, whole day), then the pooled home context is used. So a night stop is found once the
///   quiet outlasts the latest normal wake-up, and every stop within `maximumLimitHours`. A second limit is fixed
///   when the quiet begins, from the survival of the quiets of this context that *began* within the window of this
///   time of day (same widening): the length such a quiet reaches with probability p = `tailAlarmsPerDay` [0.002] ÷
///   the quiets per day at home (so quiets per day × p ≈ alarms per day), from an exponential tail fitted to the
///   `tailObservations` [10] longest of the n quiets in the window (peaks over threshold):
///   `u + β · ln(k / (n · p))`, u the (k+1)-th longest, β the mean excess of the k longest over u (at least
///   `minimumTailScaleMinutes` [10]), and never below the longest of them + `marginMinutes` (the fit extrapolates
///   from a thin tail; that quiet happened); with fewer than 3 quiets there, `maximumLimitHours`; within
///   `minimumLimitMinutes`…`maximumLimitHours`. Real tails are heavier than exponential and the fit extrapolates from
///   a few weeks: on the tuning homes the real rate was about 10–25 × the nominal one, hence the small default.
///   The lower of the two limits applies (a quiet that began at 09:30 in the bedroom is not a night, even though the
///   bedroom at 09:30 is often the end of one). Cleared at the next sign of life.
/// - **not-up**: with at least 5 learned wake-ups, no sign of life since before (median wake-up − max(30 min, 2 σ),
///   at most 3 h: a sign of life within her usual spread of wake-ups is being up, not a night trip) and the
///   local time is past `median + max(notUpMarginMinutes [60], 2.5 × robust σ)` (σ = 1.4826 × MAD) and past the
///   latest learned wake-up + half that margin, not out, within 6 h of that limit. Cleared at the next sign of life.
/// - **bathroom-dwell** (warning before `inactivity`): the last sign of life was in the bathroom (and the bathroom
///   door did not say she came out: opened twice and shut again since she went in), outside the learned night
///   (22:00–07:00 until a night is learned) both when it was seen and now, for
///   longer than `max(minimumLimitMinutes, E(bathroom) + marginMinutes / 2)` (E as above, bathroom only;
///   `fixedBathroomMinutes` while learning or without enough bathroom observations). Not raised where E itself
///   reaches `fixedBathroomMinutes`: quiets that long after the bathroom are her normal there (she goes on to rooms
///   without a sensor) and only `inactivity` can tell. Cleared at the next sign of life.
/// - **not-home** (context `out`): out longer than `max(limitFactor × E(out), E'(out)) + marginMinutes` (at least
///   `minimumLimitMinutes`; E' the longest time out at any hour, at most 12 h: an outing is not alarming just because
///   it is later than usual), or out for 30 min and more in the learned night at an hour she has not been out at
///   least twice for 30 min or more. The night runs from median bedtime +
///   max(`notUpMarginMinutes`, 2.5 σ) to median wake-up − max(`notUpMarginMinutes`, 2.5 σ) (at least 5 of each
///   learned), inside that sleep: when the margins leave less than 2 h of it, or its middle is not between 21:00 and
///   09:00, there is no learned night (never the day taken for night). Cleared at the next sign of life.
/// - **night-wandering**: the front door opened in the learned night while she was at home (not within 15 min of
///   coming home), and no sign of life inside followed within `nightDoorMinutes` [5]. Cleared at the next sign of
///   life inside.
/// - **routine-drift** (with at least 14 learned days, checked once a day at 15:00 local): the median wake-up of the
///   last 7 days differs from the earlier median by more than `driftMinutes` [60]; night bathroom trips rose by more
///   than 1.5 a night on average; kitchen visits halved. Cleared when none holds.
///
/// ## Time
/// "Now" is the sample time or `advance(to:)` (the engine ticks every minute through gaps and at the end). When time
/// still arrives in a jump (a caller without ticks), conditions are evaluated every minute through the gap and a
/// detection carries the minute its condition became true. A
/// clock step — time going backwards by more than 1 s, or forwards by more than `clockStepHours` [72] — fires
/// nothing: the quiet clock restarts at the new time and the quiet period spanning the step is not learned. After a
/// restart (restored model) the quiet clock starts at the first time seen, in the pooled home context.
public final class RoutineDetector: Detector {
    public static let name = "routine"
    public static let kinds: [DetectionKind] = [.inactivity, .notUp, .bathroomDwell, .notHome, .nightWandering, .routineDrift]

    /// The settings, with their defaults (seconds internally).
    public struct Parameters: Sendable, Equatable {
        public var learningDays = 7.0
        public var limitFactor = 1.5
        public var margin = 5400.0
        public var window = 3600.0
        public var minimumObservations = 40.0
        public var minimumLimit = 1800.0
        public var maximumLimit = 12 * 3600.0
        public var fixedInactivity = 12 * 3600.0
        public var fixedBathroom = 7200.0
        public var fixedNotHome = 24 * 3600.0
        public var notUpMargin = 3600.0
        public var wakeUpQuiet = 5400.0
        public var drift = 3600.0
        public var clockStep = 72 * 3600.0
        public var tailAlarmsPerDay = 0.002
        public var tailObservations = 10.0
        public var minimumTailScale = 600.0
        public var nightDoorConfirm = 300.0
        public init() {}
    }

    static let settingKeys = ["learningDays", "limitFactor", "marginMinutes", "windowMinutes", "minimumObservations",
                              "minimumLimitMinutes", "maximumLimitHours", "fixedInactivityHours", "fixedBathroomMinutes",
                              "fixedNotHomeHours", "notUpMarginMinutes", "wakeUpQuietMinutes", "driftMinutes",
                              "clockStepHours", "tailAlarmsPerDay", "tailObservations", "minimumTailScaleMinutes",
                              "nightDoorMinutes", "rooms"]

    public static func make(_ settings: JSONObject?, _ path: String, _ context: DetectorContext) throws(DetectorConfigurationError) -> any Detector {
        var r = SettingsReader(settings, path: path)
        var p = Parameters()
        p.learningDays = r.number("learningDays", default: 7, range: 0...365)
        p.limitFactor = r.number("limitFactor", default: 1.5, range: 1...10)
        p.margin = r.number("marginMinutes", default: 90, range: 0...1440) * 60
        p.window = r.number("windowMinutes", default: 60, range: 0...720) * 60
        p.minimumObservations = r.number("minimumObservations", default: 40, range: 0...1000)
        p.minimumLimit = r.number("minimumLimitMinutes", default: 30, range: 1...1440) * 60
        p.maximumLimit = r.number("maximumLimitHours", default: 12, range: 1...72) * 3600
        p.fixedInactivity = r.number("fixedInactivityHours", default: 12, range: 1...72) * 3600
        p.fixedBathroom = r.number("fixedBathroomMinutes", default: 120, range: 5...1440) * 60
        p.fixedNotHome = r.number("fixedNotHomeHours", default: 24, range: 1...240) * 3600
        p.notUpMargin = r.number("notUpMarginMinutes", default: 60, range: 0...720) * 60
        p.wakeUpQuiet = r.number("wakeUpQuietMinutes", default: 90, range: 10...720) * 60
        p.drift = r.number("driftMinutes", default: 60, range: 5...720) * 60
        p.clockStep = r.number("clockStepHours", default: 72, range: 1...8760) * 3600
        p.tailAlarmsPerDay = r.number("tailAlarmsPerDay", default: 0.002, range: 0.000_001...1)
        p.tailObservations = r.number("tailObservations", default: 10, range: 2...Double(RoutineModel.topK)).rounded()
        p.minimumTailScale = r.number("minimumTailScaleMinutes", default: 10, range: 0...720) * 60
        p.nightDoorConfirm = r.number("nightDoorMinutes", default: 5, range: 0...120) * 60
        var overrides: [String: Room] = [:]
        if let v = r.object["rooms"], !v.isNull {
            if let o = v.objectValue {
                for m in o.members {
                    guard let room = Room(rawValue: m.key) else {
                        r.issues.append(.init(path: "\(path).rooms.\(m.key)", message: "unknown room; known: \(Room.allCases.map(\.rawValue).joined(separator: ", "))"))
                        continue
                    }
                    guard let a = m.value.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
                        r.issues.append(.init(path: "\(path).rooms.\(m.key)", message: "expected an array of device names"))
                        continue
                    }
                    for d in a.compactMap(\.stringValue) { overrides[d] = room }
                }
            } else {
                r.issues.append(.init(path: "\(path).rooms", message: "expected an object of room: [device names], found \(v.typeName)"))
            }
        }
        r.rejectUnknown(settingKeys)
        try r.finish()
        return RoutineDetector(context: context, parameters: p, rooms: RoomClassifier(overrides: overrides))
    }

    let context: DetectorContext
    public let parameters: Parameters
    public let rooms: RoomClassifier
    public internal(set) var model = RoutineModel()
    /// Quiet periods for an evaluation's oracle (nil: not kept).
    public var quietTrace: QuietTrace?

    // Per signal (dense by SignalID): room code (-1 = not ours, `worn` = a wearable's accelerometer), kind, last
    // value, movement (wearables).
    var roomOfSignal: [Int8] = []
    var kindOfSignal: [SignalKind] = []
    var valueOfSignal: [Double] = []
    var movementOfSignal: [MovementBlocks] = []
    static let worn: Int8 = -2
    /// The last movement of a worn wearable, and which (a sign of life for `inactivity`).
    var lastMovement = -Double.infinity
    var movementSignal: SignalID?
    var hasBedSensor = false
    var bedOccupied = 0
    var seatOccupied = 0

    // The current quiet period.
    var quietStart = Double.nan
    var quietContext = RoutineContext.home
    var quietLearnable = false
    /// `limitFromStart` of the current quiet period.
    var startLimit = Double.infinity
    var lastSignal: SignalID?
    var latest = Double.nan
    var lastCheck = Double.nan
    /// The time being taken as now (a detection found inside a jump says when it was noticed).
    var now = Double.nan

    // Raised detections (each cleared at the next sign of life, drift at its daily check).
    var inactivityRaised = false
    var notUpRaised = false
    var bathroomRaised = false
    var notHomeRaised = false
    var wanderingRaised = false
    var driftRaised = false
    /// The front door opened in the learned night at this time; `night-wandering` is raised if no sign of life
    /// inside follows within `nightDoorMinutes` (NaN: none pending).
    var nightDoorOpened = Double.nan
    /// The front-door signal of that pending opening.
    var nightDoorSignal: SignalID?

    // Today (local day `day`).
    var day = Int.min
    var dayFinalized = false
    var wakeCandidate = Double.nan
    /// When the sleep that gave `wakeCandidate` ended.
    var wakeCandidateAt = Double.nan
    var bedtimeCandidate = Double.nan
    var bedtimeQuiet = 0.0
    /// The sleep being put together from quiets (`sleep(from:to:in:)`) and the context of its last one.
    var sleepStart = Double.nan
    var sleepEnd = Double.nan
    var sleepContext = RoutineContext.home
    var nightTrips = 0.0
    var kitchenToday = 0.0
    var visitStart = Double.nan
    /// Bathroom door openings since the current bathroom visit began: a door opened twice and shut again is
    /// someone who went in and came out.
    var bathroomDoorOpenings = 0
    /// The bathroom door says she came out (no `bathroom-dwell` for this quiet).
    var leftBathroom = false
    /// When she last came home (front door after being out): a door opened again soon after is not wandering.
    var arrivedAt = -Double.infinity

    /// Scratch for the tail fit (no allocation per quiet).
    var tailBuffer = [Double](repeating: 0, count: RoutineModel.topK)

    // Learned summaries, recomputed once a day (not per sample).
    var wakeMedian = Double.nan, wakeSigma = Double.nan, wakeLatest = -Double.infinity
    var bedMedian = Double.nan, bedSigma = Double.nan
    var bathroomVisitLongest = Double.nan

    init(context: DetectorContext, parameters: Parameters = Parameters(), rooms: RoomClassifier = RoomClassifier()) {
        self.context = context
        self.parameters = parameters
        self.rooms = rooms
        roomOfSignal.reserveCapacity(256)
        kindOfSignal.reserveCapacity(256)
        valueOfSignal.reserveCapacity(256)
        movementOfSignal.reserveCapacity(256)
    }

    var windowSlots: Int { Int((parameters.window / RoutineModel.slotSeconds).rounded()) }
    var learning: Bool { Double(model.learnedDays) < parameters.learningDays }

    // MARK: Detector

    public func accepts(_ signal: SignalInfo) -> Bool {
        let wearable = signal.kind == .acceleration && signal.placement != nil
        switch signal.kind {
        case .motion, .contact, .waterLeak, .applianceOn, .button, .vibration: break
        default: if !wearable { return false }
        }
        let room = rooms.room(device: signal.device, kind: signal.kind)
        if room == .ignore { return false }
        let i = Int(signal.id.rawValue)
        while roomOfSignal.count <= i {
            roomOfSignal.append(-1); kindOfSignal.append(.state); valueOfSignal.append(.nan); movementOfSignal.append(MovementBlocks())
        }
        kindOfSignal[i] = signal.kind
        if wearable { roomOfSignal[i] = Self.worn; return true }
        roomOfSignal[i] = Int8(Room.allCases.firstIndex(of: room)!)
        kindOfSignal[i] = signal.kind
        if room == .bed { hasBedSensor = true }
        return true
    }

    public func process(_ sample: Sample) {
        let i = Int(sample.signal.rawValue)
        guard i < roomOfSignal.count else { return }
        if roomOfSignal[i] == Self.worn {
            if movementOfSignal[i].add(sample.x, sample.y, sample.z, at: sample.time) { moved(sample.signal, at: sample.time) }
            return
        }
        guard roomOfSignal[i] >= 0 else { return }
        let room = Room.allCases[Int(roomOfSignal[i])]
        let kind = kindOfSignal[i]
        let t = sample.time
        let value = sample.value
        let previous = valueOfSignal[i]
        valueOfSignal[i] = value
        observe(t)
        // Pressure state.
        var alive: Bool
        switch room {
        case .bed, .seat:
            let was = previous == 1, now = value != 0
            alive = was != now || previous.isNaN
            if was != now {
                let d = now ? 1 : -1
                if room == .bed { bedOccupied = max(0, bedOccupied + d) } else { seatOccupied = max(0, seatOccupied + d) }
            }
        default:
            switch kind {
            case .contact: alive = previous.isNaN || previous != value
            case .motion, .waterLeak, .applianceOn, .vibration: alive = value != 0
            default: alive = true
            }
        }
        if alive { activity(at: t, room: room, signal: sample.signal, value: value, kind: kind) }
    }

    /// A run of one signal: a wearable's whole run goes through its movement blocks in a local copy (one array
    /// access per run, not per sample); anything else one sample at a time.
    public func process(_ run: UnsafeBufferPointer<Sample>) {
        guard let first = run.first else { return }
        let i = Int(first.signal.rawValue)
        guard i < roomOfSignal.count, roomOfSignal[i] == Self.worn else {
            for sample in run { process(sample) }
            return
        }
        var blocks = movementOfSignal[i]
        var firstMove = Double.nan, lastMove = Double.nan
        for sample in run where blocks.add(sample.x, sample.y, sample.z, at: sample.time) {
            if firstMove.isNaN { firstMove = sample.time }
            lastMove = sample.time
        }
        movementOfSignal[i] = blocks
        // The first movement clears, the last one restarts the quiet (the engine ends a run before a check is due).
        if firstMove.isFinite { moved(first.signal, at: firstMove) }
        if lastMove > firstMove { moved(first.signal, at: lastMove) }
    }

    public func advance(to time: Double) { observe(time) }

    /// A worn wearable moved (once per movement block at most): she is alive, whatever the rooms say.
    func moved(_ signal: SignalID, at t: Double) {
        observe(t)
        guard t >= latest - 1 else { return }
        lastMovement = t
        movementSignal = signal
        if inactivityRaised {
            inactivityRaised = false
            emit(.inactivity, .cleared, t, ["activity": .object(activityDetail(signal: signal, time: t))])
        }
    }

    /// When the quiet `inactivity` measures began: the last sign of life in a room, or a worn wearable's movement.
    var livingSince: Double { lastMovement > quietStart ? lastMovement : quietStart }

    // MARK: Time

    /// Takes `t` as now: clock steps re-anchor the quiet clock; otherwise conditions are checked up to `t`.
    func observe(_ t: Double) {
        guard t.isFinite else { return }
        if latest.isNaN {
            latest = t
            if quietStart.isNaN { quietStart = t; lastCheck = t; quietLearnable = false; quietContext = .home }
            return
        }
        now = t
        if t < latest - 1 || t - latest > parameters.clockStep {
            // A wall-clock step: nothing fires, nothing is learned from the period spanning it.
            latest = t
            quietStart = t
            lastCheck = t
            quietLearnable = false
            lastMovement = -.infinity
            day = context.localTime.dayNumber(at: t)
            return
        }
        check(upTo: t)
        if t > latest { latest = t }
    }

    func check(upTo now: Double) {
        guard quietStart.isFinite, lastCheck.isFinite, now > lastCheck else { return }
        var t = lastCheck
        while t < now {
            t = min(now, t + 60)
            evaluate(at: t)
        }
        lastCheck = now
    }

    // MARK: Rules

    func evaluate(at t: Double) {
        let local = context.localTime
        let sod = local.secondsOfDay(at: t)
        let d = local.dayNumber(at: t)
        if d != day { newDay(d, at: t) }
        if !dayFinalized && sod >= 15 * 3600 { finalizeDay(at: t) }
        let quiet = t - quietStart
        if quietContext == .out {
            if nightDoorOpened.isFinite && t - nightDoorOpened >= parameters.nightDoorConfirm {
                raiseNightWandering(at: t)
            }
            if !notHomeRaised {
                let limit = notHomeLimit(sod: sod).limit
                let night = !learning && quiet > 1800 && isNight(sod) && !usuallyOutAt(sod)
                if quiet > limit || night { raise(.notHome, at: t, quiet: quiet, sod: sod, night: night) }
            }
            return
        }
        if !inactivityRaised {
            let limit = min(startLimit, inactivityLimit(quietContext, sod: sod).limit)
            if t - livingSince > limit { raise(.inactivity, at: t, quiet: t - livingSince, sod: sod) }
        }
        if !bathroomRaised && quietContext == .bathroom && !leftBathroom && !isNightForBathroom(sod)
            && !isNightForBathroom(local.secondsOfDay(at: quietStart)) && quiet > bathroomLimit(sod: sod).limit {
            raise(.bathroomDwell, at: t, quiet: quiet, sod: sod)
        }
        if !notUpRaised && !learning && notUpDue(sod: sod) { raise(.notUp, at: t, quiet: quiet, sod: sod) }
    }

    func inactivityLimit(_ c: RoutineContext, sod: Double) -> (limit: Double, longest: Double, observations: Double, used: RoutineContext) {
        let p = parameters
        if learning { return (p.fixedInactivity, .nan, 0, c) }
        let e = model.envelope(c, secondsOfDay: sod, windowSlots: windowSlots, minimumObservations: p.minimumObservations)
        let l = min(p.maximumLimit, max(p.minimumLimit, p.limitFactor * e.longest + p.margin))
        return (l, e.longest, e.observations, e.context)
    }

    /// The limit fixed when a quiet period begins (infinite while learning): the length a quiet that began in this
    /// context around this time of day reaches with probability `p = tailAlarmsPerDay / quiets per day at home`,
    /// from an exponential tail fitted to the `k` = `tailObservations` longest of the `n` quiets that began in the
    /// window (peaks over threshold): `u + β · ln(k / (n · p))`, `u` the (k+1)-th longest, `β` the mean excess of the
    /// `k` longest over `u` (at least `minimumTailScaleMinutes`); within `minimumLimitMinutes`…`maximumLimitHours`.
    func limitFromStart(_ c: RoutineContext, sod: Double) -> StartLimit {
        let p = parameters
        if learning || c == .out { return StartLimit(limit: .infinity, longest: .nan, observations: 0, used: c, threshold: .nan, scale: .nan, probability: .nan) }
        let k = Int(p.tailObservations)
        let tail = model.startTail(c, secondsOfDay: sod, windowSlots: windowSlots, minimumObservations: p.minimumObservations,
                                   k: k + 1, into: &tailBuffer)
        let n = tail.observations
        let perDay = model.quietsPerDay
        let probability = perDay > 0 ? min(1, p.tailAlarmsPerDay / perDay) : 1
        guard tail.count >= 3 else {
            // Too few quiets seen here to fit a tail: the ceiling.
            return StartLimit(limit: p.maximumLimit, longest: tail.count > 0 ? tailBuffer[0] : .nan, observations: n, used: tail.context, threshold: .nan, scale: .nan, probability: probability)
        }
        let kk = min(k, tail.count - 1)
        let u = tailBuffer[kk]
        var excess = 0.0
        for i in 0..<kk { excess += tailBuffer[i] - u }
        let beta = max(p.minimumTailScale, excess / Double(kk))
        // Never below the longest such quiet she had + the margin: real tails are heavier than the fit, and that
        // quiet is evidence every home has, whatever its sensors.
        let l = max(u + beta * log(max(1, Double(kk) / (max(n, Double(kk)) * probability))), tailBuffer[0] + p.margin)
        return StartLimit(limit: min(p.maximumLimit, max(p.minimumLimit, l)), longest: tailBuffer[0], observations: n, used: tail.context,
                          threshold: u, scale: beta, probability: probability)
    }

    struct StartLimit {
        var limit: Double
        /// The longest quiet that began in the window.
        var longest: Double
        var observations: Double
        var used: RoutineContext
        /// The tail fit: threshold `u`, scale `β` (seconds) and the probability `p` the limit is set at.
        var threshold: Double
        var scale: Double
        var probability: Double
    }

    /// Out longer than usual: `limitFactor × E(out around now) + margin`, and never below the longest time out seen
    /// at any hour (at most 12 h of it: one weekend away must not silence the rule all day) + margin: an outing that
    /// has been longer before is not alarming just because it is later.
    func notHomeLimit(sod: Double) -> (limit: Double, longest: Double, longestAnyTime: Double) {
        let p = parameters
        if learning { return (p.fixedNotHome, .nan, .nan) }
        let e = model.envelope(.out, secondsOfDay: sod, windowSlots: windowSlots, minimumObservations: 0)
        let any = model.envelope(.out, secondsOfDay: sod, windowSlots: windowSlots, minimumObservations: 0, allDay: true)
        return (max(p.minimumLimit, p.limitFactor * e.longest + p.margin, min(any.longest, 12 * 3600) + p.margin), e.longest, any.longest)
    }

    /// She has been out at this time of night before, on at least two occasions and for 30 min or more: the "not back
    /// in the night" rule is not for her; the learned limit still applies.
    func usuallyOutAt(_ sod: Double) -> Bool {
        let e = model.envelope(.out, secondsOfDay: sod, windowSlots: windowSlots, minimumObservations: 0)
        return e.longest >= 1800 && e.observations >= 2
    }

    /// Earlier than `inactivity` after the bathroom: the longest normal bathroom quiet around now + half the margin.
    func bathroomLimit(sod: Double) -> (limit: Double, longest: Double, observations: Double) {
        let p = parameters
        if learning { return (p.fixedBathroom, .nan, 0) }
        let e = model.envelope(.bathroom, secondsOfDay: sod, windowSlots: windowSlots, minimumObservations: p.minimumObservations)
        guard e.context == .bathroom else { return (p.fixedBathroom, .nan, e.observations) }
        // Quiets after the bathroom as long as the fixed limit are normal here: she goes on to rooms without a
        // sensor, and only `inactivity` can tell.
        if e.longest >= p.fixedBathroom { return (.infinity, e.longest, e.observations) }
        return (max(p.minimumLimit, e.longest + p.margin / 2), e.longest, e.observations)
    }

    /// The local time from which she counts as not up (nil until 5 wake-ups are learned): never before her latest
    /// wake-up of the last 28 days + half the margin (a late Sunday is no emergency, however regular the weekdays).
    var notUpTime: Double? {
        guard model.wakeUps.count >= 5, wakeMedian.isFinite else { return nil }
        let m = parameters.notUpMargin
        return max(wakeMedian + max(m, 2.5 * (wakeSigma.isFinite ? wakeSigma : 0)), wakeLatest + m / 2)
    }

    func notUpDue(sod: Double) -> Bool {
        guard let due = notUpTime, sod >= due, sod < due + 6 * 3600 else { return false }
        // No sign of life since before her usual wake-up (today).
        let local = context.localTime
        let startDay = local.dayNumber(at: quietStart)
        return startDay < day || local.secondsOfDay(at: quietStart) < wakeMedian - upWindow
    }

    /// How long before her median wake-up a sign of life already counts as being up: max(30 min, 2 robust σ), at
    /// most 3 h. Someone whose wake-up varies by an hour is up, not on a night trip, at a sign of life 1 h early.
    var upWindow: Double { min(3 * 3600, max(1800, 2 * (wakeSigma.isFinite ? wakeSigma : 0))) }

    /// The learned night (nil until 5 bedtimes and wake-ups are learned): from median bedtime + max(`notUpMarginMinutes`,
    /// 2.5 σ) to median wake-up − max(`notUpMarginMinutes`, 2.5 σ), inside the learned sleep; nil when the margins
    /// leave less than 2 h of it or its middle is not a night's (`nightPrior`): no night rather than day taken for
    /// night.
    var night: (from: Double, to: Double)? {
        guard model.bedtimes.count >= 5, model.wakeUps.count >= 5, bedMedian.isFinite, wakeMedian.isFinite else { return nil }
        let m = parameters.notUpMargin
        var sleep = (wakeMedian - bedMedian).truncatingRemainder(dividingBy: 86_400)
        if sleep < 0 { sleep += 86_400 }
        let afterBed = max(m, 2.5 * (bedSigma.isFinite ? bedSigma : 0))
        let length = sleep - afterBed - max(m, 2.5 * (wakeSigma.isFinite ? wakeSigma : 0))
        guard length >= 7200 else { return nil }
        let from = (bedMedian + afterBed).truncatingRemainder(dividingBy: 86_400)
        guard Self.nightPrior((from + length / 2).truncatingRemainder(dividingBy: 86_400)) else { return nil }
        return (from, (from + length).truncatingRemainder(dividingBy: 86_400))
    }

    func isNight(_ sod: Double) -> Bool {
        guard let (from, to) = night else { return false }
        return from <= to ? (sod >= from && sod < to) : (sod >= from || sod < to)
    }

    /// The learned night, or 22:00–07:00 while it is not learned yet: the bathroom is often the last stop before bed,
    /// and without a bed sensor the quiet that follows is the night (`inactivity`'s fixed limit still applies).
    func isNightForBathroom(_ sod: Double) -> Bool {
        if night != nil { return isNight(sod) }
        return sod >= 22 * 3600 || sod < 7 * 3600
    }

    var nightText: String { night.map { RoutineModel.clock($0.from) + "–" + RoutineModel.clock($0.to) } ?? "not learned" }

    // MARK: Activity

    func activity(at t: Double, room: Room, signal: SignalID, value: Double, kind: SignalKind) {
        let local = context.localTime
        let sod = local.secondsOfDay(at: t)
        let quiet = quietStart.isFinite ? t - quietStart : 0
        let previous = quietContext
        // Learn the quiet period that ends here.
        if quietLearnable && quiet > 0 {
            // Time out is learned up to 72 h: someone who spends weekends away is not missing on a Sunday.
            let cap = previous == .out ? 72 * 3600.0 : parameters.maximumLimit
            if quiet <= cap && !inactivityRaised { model.learn(start: quietStart, end: t, context: previous, localTime: local) }
            if previous.mayBeAsleep && quiet >= parameters.wakeUpQuiet { sleep(from: quietStart, to: t, in: previous) }
        }
        var clearDetail: JSONObject = [
            "activity": .object(activityDetail(signal: signal, time: t)),
            "quietMinutes": .number((quiet / 6).rounded() / 10),
        ]
        // The front door itself: perhaps someone coming in, not her (escalation keeps a claimed incident open).
        if room == .entrance && kind == .contact && (inactivityRaised || notUpRaised || bathroomRaised) {
            clearDetail["frontDoor"] = true
        }
        if inactivityRaised { inactivityRaised = false; emit(.inactivity, .cleared, t, clearDetail) }
        if notUpRaised { notUpRaised = false; emit(.notUp, .cleared, t, clearDetail) }
        if bathroomRaised { bathroomRaised = false; emit(.bathroomDwell, .cleared, t, clearDetail) }
        if notHomeRaised { notHomeRaised = false; emit(.notHome, .cleared, t, clearDetail) }
        if wanderingRaised && room != .entrance { wanderingRaised = false; emit(.nightWandering, .cleared, t, clearDetail) }
        if room != .entrance { nightDoorOpened = .nan; nightDoorSignal = nil }   // back inside: not wandering

        // The new context.
        var next: RoutineContext
        switch room {
        case .entrance:
            if (previous == .out || previous == .arrived) && quiet <= 120 { next = previous }
            else if previous == .out { next = .arrived; arrivedAt = t }
            else { next = .out }
            if kind == .contact && value == 0 && previous != .out && previous != .arrived && !learning && isNight(sod)
                && !wanderingRaised && quietLearnable && nightDoorOpened.isNaN && t - arrivedAt > 900 {
                nightDoorOpened = t
                nightDoorSignal = signal
            }
        default:
            if bedOccupied > 0 { next = .bed }
            else if seatOccupied > 0 { next = .seat }
            else {
                switch room {
                case .bed, .seat: next = .other          // just got up
                case .bedroom: next = .bedroom
                case .bathroom:
                    next = .bathroom
                    if previous != .bathroom { bathroomDoorOpenings = 0; leftBathroom = false }
                    if kind == .contact {
                        // Opened twice and shut again: in and out. The quiet still counts as after the bathroom
                        // (the rooms she goes to next may have no sensor), but she is not in there.
                        if value == 0 { bathroomDoorOpenings += 1; leftBathroom = false }
                        else if bathroomDoorOpenings >= 2 { leftBathroom = true }
                    } else {
                        leftBathroom = false
                    }
                case .kitchen: next = .kitchen
                case .living: next = .living
                default: next = .other
                }
            }
        }
        // Visits: bathroom (daytime duration, night trips) and kitchen.
        if next == .bathroom && previous != .bathroom {
            visitStart = t
            if isNight(sod) || (model.bedtimes.count < 5 && sod < 5 * 3600) { nightTrips += 1 }
        } else if next != .bathroom && previous == .bathroom && visitStart.isFinite {
            let v = t - visitStart
            if v <= 3 * 3600 && !isNight(local.secondsOfDay(at: visitStart)) && quietLearnable {
                RoutineModel.push(v, to: &model.bathroomVisits, limit: 200)
            }
            visitStart = .nan
        }
        if next == .kitchen && previous != .kitchen { kitchenToday += 1 }

        quietContext = next
        quietTrace?.next(at: t, context: next)
        startLimit = limitFromStart(next, sod: sod).limit
        quietStart = t
        lastCheck = t
        quietLearnable = true
        lastSignal = signal
        if model.firstSeen.isNaN { model.firstSeen = t }
        model.lastSeen = t
        let d = local.dayNumber(at: t)
        if d != day { newDay(d, at: t) }
        model.countDay(d)
    }

    // MARK: Sleep

    /// A quiet of `wakeUpQuietMinutes` or more where she may be asleep. Quiets in the same context, or between bed,
    /// bedroom and bathroom, joined by short interruptions (a night toilet trip) make one sleep (an evening in the
    /// armchair before bed does not join it); the day's night is its longest sleep of 3 h or more that ends
    /// 03:00–15:00 and whose middle is a night's (`nightPrior`).
    func sleep(from start: Double, to end: Double, in c: RoutineContext) {
        func bedside(_ c: RoutineContext) -> Bool { c == .bed || c == .bedroom || c == .bathroom }
        let joins = c == sleepContext || (bedside(c) && bedside(sleepContext))
        if sleepEnd.isFinite && start - sleepEnd <= Self.sleepInterruption && start >= sleepEnd && joins {
            sleepEnd = end
        } else {
            sleepStart = start
            sleepEnd = end
        }
        sleepContext = c
        let local = context.localTime
        let length = sleepEnd - sleepStart
        let wake = local.secondsOfDay(at: sleepEnd)
        let night = length >= 3 * 3600 && wake >= 3 * 3600 && wake < 15 * 3600
            && Self.nightPrior(local.secondsOfDay(at: sleepStart + length / 2))
        // Back to sleep within the hour: a night-shaped sleep is the night (however short next to the armchair
        // before it), anything else means the candidate was no wake-up.
        let backToSleep = length >= 3 * 3600 && wentBackToSleep(at: sleepStart)
        guard night && (length > bedtimeQuiet || backToSleep) else {
            if backToSleep { forgetWakeCandidate(longest: length) }
            return
        }
        bedtimeQuiet = length
        wakeCandidate = wake
        wakeCandidateAt = sleepEnd
        bedtimeCandidate = local.secondsOfDay(at: sleepStart)
    }

    /// A sleep of 3 h or more that begins within `sleepInterruption` of the day's wake-up candidate: the candidate was
    /// her evening in the armchair before bed, not a wake-up. A night-shaped sleep then takes its place; one that is
    /// no night (a late sleeper's bed 05:30–15:00, by the prior) leaves the day without a wake-up.
    func wentBackToSleep(at start: Double) -> Bool {
        wakeCandidateAt.isFinite && start >= wakeCandidateAt && start - wakeCandidateAt <= Self.sleepInterruption
    }

    func forgetWakeCandidate(longest: Double) {
        wakeCandidate = .nan
        bedtimeCandidate = .nan
        wakeCandidateAt = .nan
        bedtimeQuiet = max(bedtimeQuiet, longest)
    }

    /// The longest interruption of one sleep (a toilet trip at night).
    static let sleepInterruption = 3600.0

    /// The prior every home shares: the middle of a night's sleep lies between 21:00 and 09:00 local. A learned sleep
    /// or night outside it is not a night (a long afternoon quiet, a nap), whatever the person's data say.
    static func nightPrior(_ secondsOfDay: Double) -> Bool { secondsOfDay >= 21 * 3600 || secondsOfDay < 9 * 3600 }

    // MARK: Days

    func newDay(_ d: Int, at t: Double) {
        if day != Int.min && d > day {
            if !dayFinalized { finalizeDay(at: t) }
            RoutineModel.push(kitchenToday, to: &model.kitchenVisits, limit: RoutineModel.historyDays)
        }
        day = d
        dayFinalized = false
        kitchenToday = 0
        wakeCandidate = .nan
        wakeCandidateAt = .nan
        bedtimeCandidate = .nan
        bedtimeQuiet = 0
    }

    /// At 15:00 local (or the day's end): the day's wake-up, bedtime and night trips join the model; drift check.
    func finalizeDay(at t: Double) {
        dayFinalized = true
        // Still asleep at 15:00 since soon after the candidate: that was no wake-up (see `wentBackToSleep`).
        if quietContext.mayBeAsleep && wentBackToSleep(at: quietStart) && t - quietStart >= 3 * 3600 {
            forgetWakeCandidate(longest: t - quietStart)
        }
        if wakeCandidate.isFinite { RoutineModel.push(wakeCandidate, to: &model.wakeUps, limit: RoutineModel.historyDays) }
        if bedtimeCandidate.isFinite { RoutineModel.push(bedtimeCandidate, to: &model.bedtimes, limit: RoutineModel.historyDays) }
        if wakeCandidate.isFinite { RoutineModel.push(nightTrips, to: &model.nightBathroomTrips, limit: RoutineModel.historyDays) }
        nightTrips = 0
        refreshSummaries()
        checkDrift()
    }

    func refreshSummaries() {
        (wakeMedian, wakeSigma) = RobustStats.clockMedian(model.wakeUps)
        wakeLatest = model.wakeUps.max() ?? -.infinity
        (bedMedian, bedSigma) = RobustStats.clockMedian(model.bedtimes)
        bathroomVisitLongest = model.bathroomVisits.max() ?? .nan
    }

    func checkDrift() {
        guard model.learnedDays >= 14, let t = lastCheck.isFinite ? lastCheck : nil else { return }
        var found: [JSONValue] = []
        if model.wakeUps.count >= 14 {
            let recent = Array(model.wakeUps.suffix(7)), before = Array(model.wakeUps.dropLast(7))
            let a = RobustStats.clockMedian(recent).median, b = RobustStats.clockMedian(before).median
            var delta = a - b
            if delta > 43_200 { delta -= 86_400 } else if delta < -43_200 { delta += 86_400 }
            if abs(delta) > parameters.drift {
                found.append(.object(["what": "wake-up", "recent": .string(RoutineModel.clock(a)), "before": .string(RoutineModel.clock(b)),
                                      "shiftMinutes": .number((delta / 60).rounded())]))
            }
        }
        func mean(_ xs: ArraySlice<Double>) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }
        if model.nightBathroomTrips.count >= 14 {
            let a = mean(model.nightBathroomTrips.suffix(7)), b = mean(model.nightBathroomTrips.dropLast(7))
            if a - b > 1.5 { found.append(.object(["what": "night bathroom trips", "recentPerNight": .number((a * 10).rounded() / 10), "beforePerNight": .number((b * 10).rounded() / 10)])) }
        }
        if model.kitchenVisits.count >= 14 {
            let a = mean(model.kitchenVisits.suffix(7)), b = mean(model.kitchenVisits.dropLast(7))
            if b >= 2 && a < b / 2 { found.append(.object(["what": "kitchen visits", "recentPerDay": .number((a * 10).rounded() / 10), "beforePerDay": .number((b * 10).rounded() / 10)])) }
        }
        if !found.isEmpty && !driftRaised {
            driftRaised = true
            emit(.routineDrift, .raised, t, ["changes": .array(found), "rule": "last 7 days against the earlier days of the last 28"])
        } else if found.isEmpty && driftRaised {
            driftRaised = false
            emit(.routineDrift, .cleared, t, ["rule": "last 7 days back in line with the earlier days"])
        }
    }

    // MARK: Emission

    func activityDetail(signal: SignalID?, time: Double) -> JSONObject {
        var o = JSONObject()
        let info = signal.flatMap { context.signals.info($0) }
        o["device"] = info.map { .string($0.deviceName) } ?? .null
        if let info, info.kind == .acceleration, let p = info.placement {
            o["placement"] = .string(p)
        } else if let info {
            o["room"] = .string(rooms.room(device: info.device, kind: info.kind).rawValue)
        }
        o["time"] = .string(Timestamp.rfc3339(time))
        o["local"] = .string(context.localTime.clockText(at: time))
        return o
    }

    func raise(_ kind: DetectionKind, at t: Double, quiet: Double, sod: Double, night: Bool = false) {
        var o = JSONObject()
        o["lastActivity"] = lastSignal == nil ? .null : .object(activityDetail(signal: lastSignal, time: quietStart))
        if kind == .inactivity && lastMovement > quietStart {
            // The quiet counts from the wearable's last movement: say so.
            o["lastMovement"] = .object(activityDetail(signal: movementSignal, time: lastMovement))
        }
        o["context"] = .string(quietContext.name)
        o["quietMinutes"] = .number((quiet / 6).rounded() / 10)
        let p = parameters
        func m(_ s: Double) -> String { JSONWriter.format((s / 6).rounded() / 10) }
        var limit = Double.nan
        var rule = ""
        switch kind {
        case .inactivity:
            let l = inactivityLimit(quietContext, sod: sod)
            let s = limitFromStart(quietContext, sod: context.localTime.secondsOfDay(at: quietStart))
            limit = min(l.limit, s.limit)
            if learning {
                rule = "learning (\(model.learnedDays) of \(JSONWriter.format(p.learningDays)) days): fixed limit"
            } else if s.limit < l.limit {
                let whose = s.used == quietContext ? "after \(quietContext.name)" : "at home (pooled: too few observations after \(quietContext.name))"
                if s.scale.isFinite {
                    rule = "quiets \(whose) that began around \(context.localTime.clockText(at: quietStart)): \(JSONWriter.format(s.observations)) periods, longest \(m(s.longest)) min; exponential tail over the \(Int(p.tailObservations)) longest (threshold \(m(s.threshold)) min, scale \(m(s.scale)) min) reaches the limit with probability \(JSONWriter.format((s.probability * 1e6).rounded() / 1e6)) (= \(JSONWriter.format(p.tailAlarmsPerDay)) / quiets per day), within \(m(p.minimumLimit))…\(m(p.maximumLimit)) min"
                } else {
                    rule = "too few quiets \(whose) that began around \(context.localTime.clockText(at: quietStart)) (\(JSONWriter.format(s.observations))) to fit a tail: \(m(p.maximumLimit)) min"
                }
            } else {
                rule = "longest normal quiet \(l.used == quietContext ? "after \(quietContext.name)" : "at home (pooled: too few observations after \(quietContext.name))") around \(context.localTime.clockText(at: t)) is \(m(l.longest)) min (\(JSONWriter.format(l.observations)) observations); limit = \(JSONWriter.format(p.limitFactor)) × \(m(l.longest)) + \(m(p.margin)) min, within \(m(p.minimumLimit))…\(m(p.maximumLimit)) min"
            }
            inactivityRaised = true
        case .notUp:
            limit = notUpTime ?? .nan
            o["usualWakeUp"] = .string(RoutineModel.clock(wakeMedian))
            o["notUpBy"] = .string(RoutineModel.clock(limit))
            rule = "median of \(model.wakeUps.count) learned wake-ups + max(\(m(p.notUpMargin)) min, 2.5 × \(m(wakeSigma.isFinite ? wakeSigma : 0)) min robust σ), not before the latest (\(RoutineModel.clock(wakeLatest))) + \(m(p.notUpMargin / 2)) min; no sign of life since \(m(upWindow)) min before the median"
            limit = limit - (wakeMedian - upWindow)
            notUpRaised = true
        case .bathroomDwell:
            let l = bathroomLimit(sod: sod)
            limit = l.limit
            rule = l.longest.isNaN ? "fixed limit (learning, or too few bathroom observations)"
                : "longest normal quiet after the bathroom around \(context.localTime.clockText(at: t)) is \(m(l.longest)) min (\(JSONWriter.format(l.observations)) observations) + \(m(p.margin / 2)) min"
            bathroomRaised = true
        case .notHome:
            let l = notHomeLimit(sod: sod)
            limit = l.limit
            if night {
                rule = "not back in the learned night (\(nightText)), and not out at this time on two occasions before"
            } else if learning {
                rule = "learning: fixed limit"
            } else {
                rule = "longest normal time out around \(context.localTime.clockText(at: t)) is \(m(l.longest)) min, at any time \(m(l.longestAnyTime)) min; limit = max(\(JSONWriter.format(p.limitFactor)) × \(m(l.longest)), \(m(l.longestAnyTime))) + \(m(p.margin)) min"
            }
            notHomeRaised = true
        default: break
        }
        o["limitMinutes"] = limit.isFinite ? .number((limit / 6).rounded() / 10) : .null
        o["rule"] = .string(rule)
        o["learning"] = .bool(learning)
        if now.isFinite && now - t > 1 { o["noticedAt"] = .string(Timestamp.rfc3339(now)) }
        emit(kind, .raised, t, o)
    }

    /// The front door opened in the learned night and no sign of life inside followed within `nightDoorMinutes`.
    func raiseNightWandering(at t: Double) {
        wanderingRaised = true
        var o = JSONObject()
        o["lastActivity"] = .object(activityDetail(signal: nightDoorSignal, time: nightDoorOpened))
        o["night"] = .string(nightText)
        o["rule"] = .string("front door opened in the learned night while at home, no sign of life inside within \(JSONWriter.format(parameters.nightDoorConfirm / 60)) min")
        nightDoorOpened = .nan
        nightDoorSignal = nil
        emit(.nightWandering, .raised, t, o)
    }

    func emit(_ kind: DetectionKind, _ state: DetectionState, _ t: Double, _ detail: JSONObject) {
        context.emit(context.detection(kind, state, time: t, signal: nil, detail: detail))
    }

    /// Away: nobody was home, so the quiet clock starts again now, in the pooled home context, and the stretch
    /// is not learned (as after a clock step).
    public func resume(at time: Double) {
        latest = time
        quietStart = time
        lastCheck = time
        quietLearnable = false
        quietContext = .home
        startLimit = .infinity
        day = context.localTime.dayNumber(at: time)
    }

    /// The last sign of life (device, room, time, local time), nil before the first.
    public var lastActivity: JSONObject? {
        guard lastSignal != nil, quietStart.isFinite else { return nil }
        return activityDetail(signal: lastSignal, time: quietStart)
    }

    // MARK: Summary

    /// What was learned, for people (`careMonitord learn` prints it): wake-up, night, and the limits each rule would
    /// apply at every full hour of the local day, by context (null: the rule is not raised at that hour).
    public func summary() -> JSONObject {
        var o = JSONObject()
        o["learnedDays"] = .number(Double(model.learnedDays))
        o["learning"] = .bool(learning)
        o["firstSeen"] = model.firstSeen.isFinite ? .string(Timestamp.rfc3339(model.firstSeen)) : .null
        o["lastSeen"] = model.lastSeen.isFinite ? .string(Timestamp.rfc3339(model.lastSeen)) : .null
        func minutes(_ s: Double) -> JSONValue { s.isFinite ? .number((s / 60).rounded()) : .null }
        var wake = JSONObject()
        wake["days"] = .number(Double(model.wakeUps.count))
        wake["median"] = wakeMedian.isFinite ? .string(RoutineModel.clock(wakeMedian)) : .null
        wake["sigmaMinutes"] = minutes(wakeSigma)
        wake["notUpBy"] = notUpTime.map { .string(RoutineModel.clock($0)) } ?? .null
        o["wakeUp"] = .object(wake)
        o["bedtime"] = .object(["days": .number(Double(model.bedtimes.count)),
                                "median": bedMedian.isFinite ? .string(RoutineModel.clock(bedMedian)) : .null])
        o["night"] = night == nil ? .null : .string(nightText)
        var limits = JSONObject()
        for c in RoutineContext.allCases where c != .out {
            limits[c.name] = .array((0..<24).map { h in minutes(inactivityLimit(c, sod: Double(h) * 3600).limit) })
        }
        o["inactivityLimitMinutesAtHour"] = .object(limits)
        o["notHomeLimitMinutesAtHour"] = .array((0..<24).map { h in minutes(notHomeLimit(sod: Double(h) * 3600).limit) })
        o["bathroomDwellLimitMinutesAtHour"] = .array((0..<24).map { h in minutes(bathroomLimit(sod: Double(h) * 3600).limit) })
        o["bathroomVisits"] = .number(Double(model.bathroomVisits.count))
        func mean(_ xs: [Double]) -> JSONValue { xs.isEmpty ? .null : .number((xs.reduce(0, +) / Double(xs.count) * 10).rounded() / 10) }
        o["nightBathroomTripsPerNight"] = mean(model.nightBathroomTrips)
        o["kitchenVisitsPerDay"] = mean(model.kitchenVisits)
        return o
    }

    // MARK: Learned state

    public func learnedState() -> JSONValue? { model.json }

    public func restore(learnedState: JSONValue) throws(DetectorStateError) {
        model = try RoutineModel(json: learnedState)
        refreshSummaries()
        // The live quiet period is not part of the model: it restarts at the first time seen.
        quietStart = .nan
        latest = .nan
        lastCheck = .nan
        quietContext = .home
        quietLearnable = false
        startLimit = .infinity
        lastMovement = -.infinity
    }
}
