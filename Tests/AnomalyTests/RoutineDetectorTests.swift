import CareSupport
import Testing
@testable import Anomaly

/// A synthetic person with a regular day in her own time zone, fed straight into a `RoutineDetector`.
final class RoutineHarness {
    let registry = SignalRegistry()
    let local: LocalTime
    let context: DetectorContext
    let detector: RoutineDetector
    var signals: [String: SignalID] = [:]
    var rng = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)

    init(timezone: String = "Europe/London", settings: JSONObject? = nil) throws {
        local = LocalTime(identifier: timezone)!
        let box = DetectionBox()
        context = DetectorContext(person: "linda", localTime: local, signals: registry) { box.items.append($0) }
        detector = try RoutineDetector.make(settings, "detectors.routine", context) as! RoutineDetector
        self.box = box
        for (device, kind) in [("bedroom_bed", SignalKind.motion), ("living_seat", .motion), ("bathroom_toilet", .waterLeak),
                               ("bathroom_basin", .motion), ("kitchen_fridge", .contact), ("kitchen_kettle", .applianceOn),
                               ("living_motion", .motion), ("front_door", .contact), ("hall_thermometer", .temperature),
                               ("hall_bedroom_door", .contact), ("hall_toilet_door", .contact)] {
            let id = registry.id(device: device, channel: nil, kind: kind, topic: "zigbee2mqtt/\(device)", sourceIndex: 0)
            signals[device] = id
            _ = detector.accepts(registry.info(id)!)
        }
        let band = registry.id(device: "band1", channel: nil, kind: .acceleration, topic: "wearable/band1/accel", sourceIndex: 1,
                               placement: "wrist")
        signals["band1"] = band
        _ = detector.accepts(registry.info(band)!)
    }
    let box: DetectionBox

    var raised: [Detection] { box.items.filter { $0.state == .raised } }
    func raised(_ kind: DetectionKind) -> [Detection] { raised.filter { $0.kind == kind } }

    func random() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    /// Epoch seconds of local `hour` (fractional) on the local day `day` (days since 1970-01-01, local).
    func time(day: Int, hour: Double) -> Double {
        var t = Double(day) * 86_400 + hour * 3600
        for _ in 0..<3 { t = Double(day) * 86_400 + hour * 3600 - Double(local.offset(at: t)) }
        return t
    }

    /// A wristband's orientation at `t` (one sample: one movement block).
    func band(_ x: Float, at t: Double) {
        detector.process(Sample(signal: signals["band1"]!, time: t, x: x, y: 0, z: 1))
    }

    /// A wristband's batch as the engine hands it over (one run): `x` at 10 Hz for two seconds.
    func bandRun(_ x: Float, at t: Double) {
        let run = (0..<20).map { Sample(signal: signals["band1"]!, time: t + Double($0) / 10, x: x, y: 0, z: 1) }
        run.withUnsafeBufferPointer { detector.process($0) }
    }

    func send(_ device: String, _ value: Double, at t: Double) {
        detector.process(Sample(signal: signals[device]!, time: t, value: value))
    }

    /// Ticks like the engine: at least once a minute of sample time up to `t`.
    func tick(to t: Double, every step: Double = 60) {
        var x = detector.now.isFinite ? detector.now : t
        while x < t { x = min(t, x + step); detector.advance(to: x) }
    }

    /// One ordinary day (local): up around 07:30, bathroom, kitchen, activity every 10–40 min, an armchair after lunch,
    /// to bed around 22:45, one night toilet trip at about 03:00 the next night. Stops (no more events) at `stop`.
    /// Returns false when the stop was reached.
    @discardableResult
    func ordinaryDay(_ day: Int, stop: Double = .infinity, tickEvery: Double = 60, wakeUp: Double = 7.5) -> Bool {
        var events: [(Double, String, Double)] = []
        let wake = wakeUp + (random() - 0.5) * 0.8
        events.append((wake, "bedroom_bed", 0))
        events.append((wake + 0.05, "bathroom_toilet", 1))
        events.append((wake + 0.06, "bathroom_toilet", 0))
        events.append((wake + 0.1, "bathroom_basin", 1))
        var h = wake + 0.3
        while h < 22.5 {
            if h > 13.5 && h < 13.7 {
                events.append((13.7, "living_seat", 1))
                let end = 15.0 + random() * 0.5
                events.append((end, "living_seat", 0))
                h = end + 0.05
                continue
            }
            let r = random()
            let device = r < 0.4 ? "kitchen_fridge" : r < 0.55 ? "kitchen_kettle" : r < 0.7 ? "bathroom_basin" : "living_motion"
            let value: Double = device == "kitchen_fridge" ? (Int(h * 10) % 2 == 0 ? 0 : 1) : 1
            events.append((h, device, value))
            h += 0.17 + random() * 0.5
        }
        let bed = 22.75 + (random() - 0.5) * 0.5
        events.append((bed, "bathroom_toilet", 1))
        events.append((bed + 0.1, "bedroom_bed", 1))
        events.append((24 + 3 + random() * 0.5, "bedroom_bed", 0))
        events.append((24 + 3.6, "bathroom_toilet", 1))
        events.append((24 + 3.7, "bedroom_bed", 1))
        events.sort { $0.0 < $1.0 }
        for (hour, device, value) in events {
            let t = time(day: day, hour: hour)
            if t >= stop { tick(to: stop, every: tickEvery); return false }
            tick(to: t, every: tickEvery)
            send(device, value, at: t)
        }
        return true
    }

    func days(_ range: Range<Int>) { for d in range { ordinaryDay(d) } }

    /// Plays `(local hour, device, value)` events of the local day `day` in time order (hours may pass 24), ticking
    /// between them; stops at `stop`. Returns false when the stop was reached.
    @discardableResult
    func play(_ day: Int, _ events: [(Double, String, Double)], stop: Double = .infinity) -> Bool {
        for (hour, device, value) in events.sorted(by: { $0.0 < $1.0 }) {
            let t = time(day: day, hour: hour)
            if t >= stop { tick(to: stop); return false }
            tick(to: t)
            send(device, value, at: t)
        }
        return true
    }

    /// A harness after two ordinary weeks, and the third day up to its local `hour` (returned: the stop time).
    static func afterAFortnight(stopAt hour: Double) throws -> (RoutineHarness, Double) {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 14)
        let stop = h.time(day: mondayMarch4 + 14, hour: hour)
        h.ordinaryDay(mondayMarch4 + 14, stop: stop)
        return (h, stop)
    }

    /// A day of someone who dozes in the armchair before going to bed: out of bed at `up` (about, ±0.2 h), a sign of
    /// life every 12–36 min until `activeUntil`, in the armchair from about `chair`, to bed at about `bed` past the
    /// toilet. Hours may pass 24 (the next morning).
    func armchairThenBed(up: Double, activeUntil: Double, chair: Double, bed: Double) -> [(Double, String, Double)] {
        let up = up + (random() - 0.5) * 0.4
        var e: [(Double, String, Double)] = [(up, "bedroom_bed", 0), (up + 0.05, "bathroom_toilet", 1)]
        var hour = up + 0.3
        while hour < activeUntil { e.append((hour, random() < 0.5 ? "kitchen_kettle" : "living_motion", 1)); hour += 0.2 + random() * 0.4 }
        let chair = chair + (random() - 0.5) * 0.3, bed = bed + (random() - 0.5) * 0.3
        return e + [(chair, "living_seat", 1), (bed - 0.1, "living_seat", 0), (bed - 0.05, "bathroom_toilet", 1), (bed, "bedroom_bed", 1)]
    }

    /// A late sleeper's day in a flat with door sensors only (no bed sensor): to bed about midnight, up about
    /// 11:00 (±1 h), a toilet trip most nights, on alternate days a quiet 3 h in the living room from noon, out in
    /// the late afternoon. Hours may pass 24 (the next morning).
    @discardableResult
    func lateSleeperDay(_ day: Int, stop: Double = .infinity) -> Bool {
        var events: [(Double, String, Double)] = []
        func door(_ device: String, _ h: Double) { events.append((h, device, 0)); events.append((h + 0.01, device, 1)) }
        func toilet(_ h: Double) {
            door("hall_toilet_door", h); events.append((h + 0.05, "bathroom_toilet", 1)); door("hall_toilet_door", h + 0.07)
        }
        let wake = 11 + (random() - 0.5) * 2
        door("hall_bedroom_door", wake); toilet(wake + 0.1)
        var h = wake + 0.4
        if day % 2 == 0 { events.append((h, "living_motion", 1)); h += 3.2 }
        while h < 23.5 {
            if h > 16 && h < 16.4 { door("front_door", h); h += 1.5 + random(); door("front_door", h); h += 0.1; continue }
            events.append((h, random() < 0.5 ? "kitchen_fridge" : "living_motion", random() < 0.5 ? 0 : 1))
            h += 0.2 + random() * 0.5
        }
        let bed = 24 + (random() - 0.5) * 1.4
        toilet(bed - 0.2); door("hall_bedroom_door", bed)
        if random() < 0.7 { let trip = 24 + 3.5 + random() * 2; door("hall_bedroom_door", trip); toilet(trip + 0.02); door("hall_bedroom_door", trip + 0.15) }
        return play(day, events, stop: stop)
    }
}

final class DetectionBox: @unchecked Sendable {
    // @unchecked Sendable: a test's detector runs on the test's own thread.
    var items: [Detection] = []
}

/// 2024-03-04 (a Monday) as a local day number; the DST tests start near the transitions.
let mondayMarch4 = Timestamp.daysFromCivil(year: 2024, month: 3, day: 4)
/// 96 zeros, a slot array in a learned-state test.
let zeros = "[" + Array(repeating: "0", count: 96).joined(separator: ",") + "]"

@Suite struct RoutineDetectorTests {
    @Test func inactivityLimitsPerHourFollowTheLearnedDay() throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 14)
        #expect(h.raised(.inactivity).isEmpty, "an ordinary fortnight raises nothing: \(h.raised(.inactivity).map(\.detail))")
        let cases: [(RoutineContext, Double, ClosedRange<Double>)] = [
            (.kitchen, 11, 30 * 60...4 * 3600),          // busy late morning: far shorter than the night
            (.bed, 3, 6 * 3600...12 * 3600),              // in bed at 03:00: the night
            (.seat, 14, 2 * 3600...5 * 3600),             // the armchair after lunch (up to ~1 h 50)
        ]
        for (ctx, hour, range) in cases {
            let l = min(h.detector.inactivityLimit(ctx, sod: hour * 3600).limit, h.detector.limitFromStart(ctx, sod: hour * 3600).limit)
            #expect(range.contains(l), "\(ctx.name) at \(hour):00: limit \(l / 60) min")
        }
        let s = h.detector.summary()
        #expect(s["inactivityLimitMinutesAtHour"]?["kitchen"]?.arrayValue?.count == 24)
        #expect(s["wakeUp"]?["median"]?.stringValue?.hasPrefix("07:") == true, "\(s["wakeUp"]!)")
    }

    @Test(arguments: [(3, 4.0, false), (3, 13.0, true), (9, 4.0, true)])
    func onlyFixedLimitsFireDuringTheLearningDays(daysBefore: Int, stopHours: Double, fires: Bool) throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + daysBefore)
        let stop = h.time(day: mondayMarch4 + daysBefore, hour: 11)
        h.ordinaryDay(mondayMarch4 + daysBefore, stop: stop)
        h.tick(to: stop + stopHours * 3600)
        let r = h.raised(.inactivity)
        #expect(r.isEmpty != fires, "\(daysBefore) days learned, \(stopHours) h stop: \(r.map(\.detail))")
        if let d = r.first { #expect(d.detail["learning"]?.boolValue == (daysBefore < 7)) }
    }

    @Test(arguments: [9.2, 11.0, 12.4, 16.3, 19.5, 21.0])
    func injectedDaytimeStopIsFoundAndClearedAtTheNextActivity(hour: Double) throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 14)
        let day = mondayMarch4 + 14
        let stop = h.time(day: day, hour: hour)
        h.ordinaryDay(day, stop: stop)
        h.tick(to: stop + 12 * 3600)
        let r = h.raised(.inactivity)
        #expect(r.count == 1)
        guard let d = r.first else { return }
        #expect(d.time - stop <= 4 * 3600, "stop at \(hour): found after \((d.time - stop) / 60) min")
        #expect(d.device == nil && d.topic == nil && d.severity == .critical)
        #expect(d.detail["lastActivity"]?["device"]?.stringValue != nil)
        #expect(d.detail["limitMinutes"]?.doubleValue != nil && d.detail["rule"]?.stringValue != nil)
        let before = h.box.items.count
        h.send("living_motion", 1, at: stop + 12 * 3600 + 1)
        #expect(h.box.items[before...].contains { $0.kind == .inactivity && $0.state == .cleared })
    }

    @Test func nightStopIsFoundSoonAfterTheLearnedWakeUp() throws {
        // She went to bed (the night toilet trip of the previous day was the last sign of life) and never got up.
        let (h, stop) = try RoutineHarness.afterAFortnight(stopAt: 4)
        h.tick(to: stop + 12 * 3600)
        let notUp = try #require(h.raised(.notUp).first)
        let wake = h.time(day: mondayMarch4 + 14, hour: 7.5)
        #expect(notUp.time > wake && notUp.time - wake <= 2.5 * 3600, "not-up \((notUp.time - wake) / 60) min after 07:30")
        let inactivity = try #require(h.raised(.inactivity).first)
        #expect(inactivity.time - wake <= 4 * 3600, "inactivity \((inactivity.time - wake) / 60) min after 07:30")
    }

    /// Spring forward (2024-03-31) and fall back (2024-10-27) in London: an ordinary routine raises nothing around
    /// the change, the wake-up stays learned at 07:30 local, and a stop on the change day is still found.
    @Test(arguments: [Timestamp.daysFromCivil(year: 2024, month: 3, day: 31), Timestamp.daysFromCivil(year: 2024, month: 10, day: 27)])
    func dstChangesKeepLocalRoutines(changeDay: Int) throws {
        let h = try RoutineHarness()
        h.days(changeDay - 14..<changeDay + 3)
        #expect(h.raised.isEmpty, "\(h.raised.map { "\($0.kind) \($0.detail)" })")
        let wake = RobustStats.clockMedian(h.detector.model.wakeUps).median
        #expect(abs(wake - 7.5 * 3600) < 25 * 60, "wake-up median \(RoutineModel.clock(wake))")
        let stop = h.time(day: changeDay + 3, hour: 11)
        h.ordinaryDay(changeDay + 3, stop: stop)
        h.tick(to: stop + 12 * 3600)
        #expect(h.raised(.inactivity).count == 1)
    }

    @Test(arguments: [-86_400.0, -3600.0, -30.0])
    func clockStepBackwardsFiresNothingAndLearnsNothing(step: Double) throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 10)
        let t = h.time(day: mondayMarch4 + 10, hour: 10)
        h.tick(to: t)
        h.send("kitchen_fridge", 0, at: t)
        h.detector.advance(to: t + 600)
        let before = h.detector.model
        let count = h.box.items.count
        // NTP steps the clock back: the next message carries an earlier time than the last one.
        h.send("kitchen_fridge", 1, at: t + 600 + step)
        #expect(h.detector.model.longest == before.longest && h.detector.model.observations == before.observations,
                "the quiet period spanning the step is not learned")
        // An ordinary hour on the new time base raises nothing.
        var x = t + 600 + step
        for _ in 0..<6 { x += 600; h.send("living_motion", 1, at: x); h.detector.advance(to: x + 60) }
        let raised = h.box.items[count...].filter { $0.state == .raised }
        #expect(raised.isEmpty, "\(raised.map { "\($0.kind) \($0.detail)" })")
    }

    @Test func forwardClockStepBeyondTheLimitFiresNothing() throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 10)
        let t = h.time(day: mondayMarch4 + 10, hour: 10)
        h.tick(to: t)
        h.send("kitchen_fridge", 0, at: t)
        let count = h.box.items.count
        h.send("kitchen_fridge", 1, at: t + 5 * 365 * 86_400)   // a gateway that booted in the past, then NTP
        let raised = h.box.items[count...].filter { $0.state == .raised }
        #expect(raised.isEmpty, "\(raised.map { "\($0.kind) \($0.detail)" })")
    }

    @Test func silentSensorsAndThermometersDoNotHideAStop() throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 14)
        let day = mondayMarch4 + 14
        let stop = h.time(day: day, hour: 12)
        h.ordinaryDay(day, stop: stop)
        // The thermometer is not accepted; a motion sensor that times out (false) is no sign of life.
        #expect(!h.detector.accepts(h.registry.info(h.signals["hall_thermometer"]!)!))
        var t = stop
        while t < stop + 8 * 3600 {
            t += 300
            h.send("living_motion", 0, at: t)
            h.detector.advance(to: t)
        }
        #expect(h.raised(.inactivity).count == 1)
    }

    /// The start limit is fitted to the longest quiets that began around that time (not only the longest ever): one
    /// unusually long afternoon quiet among ordinary ones raises the limit less than "1.5 × the longest + 90 min".
    @Test func startLimitFollowsTheTailOfQuietsThatBeganThen() throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 14)
        let model = h.detector.model
        let week = try #require(model.weekOfBucket.firstIndex(of: model.currentWeek))
        let i = (week * RoutineModel.perWeek + RoutineModel.index(.home, 44)) * RoutineModel.topK
        let top = Array(model.longestFromStart[i..<i + RoutineModel.topK])
        #expect(top == top.sorted(by: >), "kept longest first: \(top)")
        let s = h.detector.limitFromStart(.kitchen, sod: 11 * 3600)
        #expect(s.scale.isFinite && s.threshold.isFinite && s.probability > 0 && s.probability < 0.001, "\(s)")
        #expect(s.limit >= s.threshold && s.limit <= h.detector.parameters.maximumLimit)
        #expect(s.limit < 1.5 * s.longest + 5400, "tail limit \(s.limit / 60) min, longest \(s.longest / 60) min")
        #expect(s.limit >= s.longest + 5400, "never below the longest quiet that began then + the margin")
    }

    @Test func learnedStateRoundTripsThroughJSONText() throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 9)
        let saved = try #require(h.detector.learnedState())
        let text = JSONWriter.serialize(saved)
        let h2 = try RoutineHarness()
        try h2.detector.restore(learnedState: try JSONParser.parse(text))
        #expect(JSONWriter.serialize(try #require(h2.detector.learnedState())) == text)
        #expect(h2.detector.model.learnedDays == h.detector.model.learnedDays)
        // Minutes are kept to 0.1 in the file: limits agree within 6 s.
        #expect(abs(h2.detector.inactivityLimit(.kitchen, sod: 40_000).limit - h.detector.inactivityLimit(.kitchen, sod: 40_000).limit) <= 6)
    }

    /// A learned state of version 2 (no weeks) is read as one week, the week of its last day.
    @Test func versionTwoStateIsReadAsItsLastWeek() throws {
        let h = try RoutineHarness()
        let slots = "[" + (0..<96).map { $0 == 44 ? "50" : "0" }.joined(separator: ",") + "]"
        let counts = "[" + (0..<96).map { $0 == 44 ? "60" : "0" }.joined(separator: ",") + "]"
        let empty = "[" + Array(repeating: "[]", count: 96).joined(separator: ",") + "]"
        let text = #"{"version": 2, "learnedDays": 9, "lastDay": \#(mondayMarch4 + 8), "quietBySlot": {"kitchen": {"longestQuietMinutes": \#(slots), "observations": \#(counts), "longestFromStartMinutes": \#(empty), "starts": \#(zeros)}}, "wakeUps": [], "bedtimes": [], "bathroomVisitsMinutes": [], "nightBathroomTrips": [], "kitchenVisits": []}"#
        try h.detector.restore(learnedState: try JSONParser.parse(text))
        let e = h.detector.model.envelope(.kitchen, secondsOfDay: 11 * 3600, windowSlots: 4, minimumObservations: 40)
        #expect(e.longest == 50 * 60 && e.observations == 60 && e.context == .kitchen, "\(e)")
        #expect(h.detector.model.daysKept == 9 && h.detector.learnedState()?["version"] == .number(3))
    }

    @Test(arguments: [
        ("[]", "expected an object"),
        (#"{"version": 4}"#, "routine.version"),
        // Version 1 (only the longest quiet per start slot) is refused: bootstrap again with `learn`.
        (#"{"version": 1, "learnedDays": 3, "quietBySlot": {}}"#, "routine.version: 1 is not 2 or 3"),
        (#"{"version": 3, "learnedDays": 3, "weeks": [{"week": 2}]}"#, "routine.weeks[0]"),
        (#"{"version": 2, "learnedDays": -3}"#, "routine.learnedDays"),
        (#"{"version": 2, "learnedDays": 3, "quietBySlot": {"garage": {}}}"#, "routine.quietBySlot.garage"),
        (#"{"version": 2, "learnedDays": 3, "quietBySlot": {"kitchen": {"longestQuietMinutes": [1, 2], "observations": []}}}"#, "longestQuietMinutes: expected 96"),
        (#"{"version": 2, "learnedDays": 3, "quietBySlot": {"kitchen": {"longestQuietMinutes": \#(zeros), "observations": \#(zeros), "longestFromStartMinutes": [1], "starts": \#(zeros)}}}"#, "longestFromStartMinutes: expected 96 arrays"),
        (#"{"version": 2, "learnedDays": 3, "quietBySlot": {}, "wakeUps": ["25:00"]}"#, "routine.wakeUps[0]"),
    ])
    func badStateIsATypedErrorNamingTheField(text: String, expected: String) throws {
        let h = try RoutineHarness()
        let value = try JSONParser.parse(text)
        do {
            try h.detector.restore(learnedState: value)
            Issue.record("restored \(text)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test(arguments: [
        ("bedroom_bed", SignalKind.motion, Room.bed), ("living_seat", .motion, .seat), ("hall_bedroom_door", .motion, .bedroom),
        ("bathroom_toilet", .waterLeak, .bathroom), ("toilet_flush", .waterLeak, .bathroom), ("hall_bathroom_door", .contact, .bathroom),
        ("front_door", .contact, .entrance), ("entrance_maindoor", .contact, .entrance), ("kitchen_cooktop", .motion, .kitchen),
        ("fridge", .contact, .kitchen), ("groceries_cupboard", .contact, .kitchen), ("KitchenKettle", .applianceOn, .kitchen),
        ("id4", .contact, .other), ("washing_machine", .contact, .other),
    ])
    func roomsFollowDeviceNames(device: String, kind: SignalKind, room: Room) {
        #expect(RoomClassifier().room(device: device, kind: kind) == room)
    }

    @Test func roomOverridesAndSettingErrorsAreReportedWithPaths() throws {
        let ok = try RoutineHarness(settings: ["rooms": ["bathroom": ["id4"], "ignore": ["washing_machine"]]])
        #expect(ok.detector.rooms.room(device: "id4", kind: .contact) == .bathroom)
        #expect(ok.detector.rooms.room(device: "washing_machine", kind: .contact) == .ignore)
        let local = LocalTime(identifier: "UTC")!
        let ctx = DetectorContext(person: "p", localTime: local, signals: SignalRegistry()) { _ in }
        do {
            _ = try RoutineDetector.make(["rooms": ["garage": ["x"]], "limitFactor": 0.5, "bogus": 1], "detectors.routine", ctx)
            Issue.record("accepted bad settings")
        } catch {
            let paths = error.issues.map(\.path)
            #expect(paths.contains("detectors.routine.rooms.garage"))
            #expect(paths.contains("detectors.routine.limitFactor"))
            #expect(paths.contains("detectors.routine.bogus"))
        }
    }

    /// The front door opened in the learned night: wandering only when no sign of life inside follows within
    /// `nightDoorMinutes` (5); a door opened just after coming home is not wandering at all.
    @Test(arguments: [(false, true), (true, false)])
    func nightDoorIsWanderingOnlyWhenNoOneIsSeenInsideAfterIt(seenInside: Bool, wanders: Bool) throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 13)
        let day = mondayMarch4 + 14
        let door = h.time(day: day, hour: 1.5)
        h.ordinaryDay(day - 1, stop: door)
        h.send("front_door", 0, at: door)
        h.send("front_door", 1, at: door + 5)
        if seenInside { h.tick(to: door + 120); h.send("living_motion", 1, at: door + 120) }
        h.tick(to: door + 20 * 60)
        let r = h.raised(.nightWandering)
        #expect(r.isEmpty != wanders, "\(r.map(\.detail))")
        if let d = r.first {
            #expect(d.time - door >= 5 * 60 && d.time - door <= 6 * 60, "raised \((d.time - door) / 60) min after the door")
            #expect(d.detail["lastActivity"]?["device"]?.stringValue == "front_door")
        }
    }

    /// A man who sleeps from about midnight to 11:00, in a flat without a bed sensor: the night learned from his
    /// quiets lies inside his sleep, and the front door at 15:41 is no `night-wandering`.
    @Test func aLateSleepersLearnedNightStaysInTheNight() throws {
        let h = try RoutineHarness(timezone: "Europe/Amsterdam")
        for d in mondayMarch4..<mondayMarch4 + 24 { h.lateSleeperDay(d) }
        let day = mondayMarch4 + 24
        let door = h.time(day: day, hour: 15 + 41 / 60)
        h.lateSleeperDay(day, stop: door)
        h.send("front_door", 0, at: door)
        h.send("front_door", 1, at: door + 5)
        h.tick(to: door + 30 * 60)
        #expect(h.raised(.nightWandering).isEmpty, "\(h.raised(.nightWandering).map(\.detail)) night \(h.detector.nightText)")
        for w in h.detector.model.wakeUps { #expect(w >= 9 * 3600 && w <= 13.5 * 3600, "wake-up \(RoutineModel.clock(w))") }
        let night = try #require(h.detector.night, "a regular sleeper has a learned night")
        for hour in [2.0, 4.0] { #expect(h.detector.isNight(hour * 3600), "\(hour) h in the night \(h.detector.nightText)") }
        for hour in [12.0, 15.7, 20.0] { #expect(!h.detector.isNight(hour * 3600), "\(hour) h not in the night \(h.detector.nightText)") }
        #expect(night.from != night.to)
    }

    /// Margins wider than the sleep they are taken from leave no night: never the day instead.
    @Test func aNightTheMarginsWouldInvertIsNoNight() throws {
        let h = try RoutineHarness()
        h.detector.model.bedtimes = [0, 1800, 84_600, 3600, 82_800].map { $0 }
        h.detector.model.wakeUps = [4, 18, 7, 15, 11].map { $0 * 3600 }
        h.detector.refreshSummaries()
        #expect(h.detector.night == nil, "night \(h.detector.nightText)")
        #expect(!h.detector.isNight(15.7 * 3600))
    }

    /// A month whose routine shifts: up at 10:30 for two weeks, then at 07:30. The weeks of late mornings are
    /// forgotten, so five weeks on, still in bed at 10:30 is a stop again; the change itself raised nothing.
    @Test func learnedQuietsAreForgottenAfterFourWeeksSoAChangedRoutineIsRelearned() throws {
        let h = try RoutineHarness()
        for d in mondayMarch4..<mondayMarch4 + 14 { h.ordinaryDay(d, wakeUp: 10.5) }
        for d in mondayMarch4 + 14..<mondayMarch4 + 49 { h.ordinaryDay(d) }
        #expect(h.raised(.inactivity).isEmpty, "the change raised \(h.raised(.inactivity).map(\.detail))")
        let old = h.detector.model.envelope(.bed, secondsOfDay: 10 * 3600, windowSlots: 2, minimumObservations: 0)
        #expect(old.longest < 4 * 3600, "bed at 10:00 still remembers \(old.longest / 3600) h")
        let day = mondayMarch4 + 49
        let stop = h.time(day: day, hour: 7)   // in bed, and does not get up
        h.ordinaryDay(day - 1, stop: stop)
        h.tick(to: h.time(day: day, hour: 10.5))
        #expect(h.raised(.inactivity).count == 1, "in bed at 10:30 after five weeks up at 07:30")
    }

    /// Up at 07:30 on weekdays and at 10:00 on Sundays: a Sunday like the ones before is no `not-up`, however
    /// regular the weekdays (their median and spread alone would say 08:30).
    @Test func aLateSundayLikeTheOnesBeforeIsNotNotUp() throws {
        let h = try RoutineHarness()
        for d in mondayMarch4..<mondayMarch4 + 28 { h.ordinaryDay(d, wakeUp: (d - mondayMarch4) % 7 == 6 ? 10 : 7.5) }
        // The first late Sunday is news; the later ones are her routine.
        let later = h.raised(.notUp).filter { $0.time > h.time(day: mondayMarch4 + 7, hour: 0) }
        #expect(later.isEmpty, "\(later.map(\.detail))")
        let due = try #require(h.detector.notUpTime)
        #expect(due >= 10 * 3600, "not up by \(RoutineModel.clock(due))")
    }

    /// A worn wristband's movement is a sign of life where no room sensor sees her; once it stops, the quiet counts
    /// from its last movement and the detection names it.
    @Test func aWornWristbandsMovementIsASignOfLife() throws {
        let (h, lastSeen) = try RoutineHarness.afterAFortnight(stopAt: 10)
        // In a room without sensors for eight hours, moving (batches of a band streaming at 10 Hz).
        var t = lastSeen
        var x: Float = 0
        while t < lastSeen + 8 * 3600 {
            t += 120
            x = x == 0 ? 0.3 : 0
            h.tick(to: t)
            h.bandRun(x, at: t)
        }
        #expect(h.raised(.inactivity).isEmpty, "moving all along: \(h.raised(.inactivity).map(\.detail))")
        // Then the band lies still (worn: she stopped moving).
        let still = t
        while t < still + 12 * 3600 { t += 60; h.tick(to: t); h.band(x, at: t) }
        let r = h.raised(.inactivity)
        #expect(r.count == 1)
        guard let d = r.first else { return }
        #expect(d.time > still && d.detail["lastMovement"]?["device"]?.stringValue == "band1", "\(d.detail)")
        #expect(d.detail["lastMovement"]?["placement"]?.stringValue == "wrist")
        let quiet = try #require(d.detail["quietMinutes"]?.doubleValue)
        #expect(abs(quiet * 60 - (d.time - still)) <= 120, "quiet from the last movement: \(quiet) min")
        // It moves again: cleared, naming the band.
        h.band(0.5, at: t + 60)
        h.band(0.5, at: t + 61.5)   // its block closes
        let cleared = h.box.items.filter { $0.kind == .inactivity && $0.state == .cleared }
        #expect(cleared.last?.detail["activity"]?["device"]?.stringValue == "band1")
    }

    /// A bathroom door opened twice and shut (in and out again) is no `bathroom-dwell`; opened once (she went in and
    /// shut it) it is.
    @Test(arguments: [(2, false), (1, true)])
    func bathroomDoorOpenedTwiceMeansSheCameOut(openings: Int, dwells: Bool) throws {
        let h = try RoutineHarness()
        let id = h.registry.id(device: "bathroom_door", channel: nil, kind: .contact, topic: "zigbee2mqtt/bathroom_door", sourceIndex: 0)
        h.signals["bathroom_door"] = id
        _ = h.detector.accepts(h.registry.info(id)!)
        h.days(mondayMarch4..<mondayMarch4 + 14)
        let day = mondayMarch4 + 14
        let visit = h.time(day: day, hour: 11)
        h.ordinaryDay(day, stop: visit)
        for k in 0..<openings {
            h.send("bathroom_door", 0, at: visit + Double(k) * 60)
            h.send("bathroom_door", 1, at: visit + Double(k) * 60 + 4)
        }
        h.tick(to: visit + 4 * 3600)
        let r = h.raised(.bathroomDwell)
        #expect(r.isEmpty != dwells, "\(r.map(\.detail))")
    }

    /// While learning (no night learned yet), `bathroom-dwell` keeps to its fixed 120 min by day and stays quiet from
    /// 22:00 to 07:00: the bathroom is often the last stop before bed.
    @Test(arguments: [(11.0, true), (22.3, false)])
    func learningBathroomDwellKeepsToTheDay(hour: Double, dwells: Bool) throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 2)
        let day = mondayMarch4 + 2
        let visit = h.time(day: day, hour: hour)
        h.ordinaryDay(day, stop: visit)
        h.send("bathroom_basin", 1, at: visit)
        h.tick(to: visit + 3 * 3600)
        let r = h.raised(.bathroomDwell)
        #expect(r.isEmpty != dwells, "\(r.map(\.detail))")
        if let d = r.first {
            #expect(d.detail["learning"]?.boolValue == true)
            #expect(abs(d.time - visit - 7200) <= 120, "raised \((d.time - visit) / 60) min after the visit")
        }
    }

    /// A day with a 3 h outing at 10:00: out of the front door, nothing until she is back.
    func dayWithMorningOuting(_ h: RoutineHarness, _ day: Int) {
        var events: [(Double, String, Double)] = [(7.5, "bedroom_bed", 0)]
        var hour = 7.6
        while hour < 22.5 {
            if hour >= 10 && hour < 13 { hour = 13.05; continue }
            events.append((hour, "kitchen_kettle", 1))
            hour += 0.33
        }
        events += [(10, "front_door", 0), (10.01, "front_door", 1), (13, "front_door", 0), (13.01, "front_door", 1),
                   (22.75, "bedroom_bed", 1)]
        h.play(day, events)
    }

    /// `not-home` learns her outings: an evening outing shorter than her longest outing at any hour is not alarming
    /// just because she was never out at that hour; one far longer is.
    @Test(arguments: [(3.0, false), (12.0, true)])
    func notHomeKnowsHerLongestOutingAtAnyHour(hoursOut: Double, raised: Bool) throws {
        let h = try RoutineHarness()
        for d in mondayMarch4..<mondayMarch4 + 14 { dayWithMorningOuting(h, d) }
        #expect(h.raised.isEmpty, "\(h.raised.map { "\($0.kind) \($0.detail)" })")
        let day = mondayMarch4 + 14
        let leave = h.time(day: day, hour: 18)
        h.tick(to: leave)
        h.send("front_door", 0, at: leave)
        h.send("front_door", 1, at: leave + 30)
        let back = leave + hoursOut * 3600
        h.tick(to: back)
        h.send("front_door", 0, at: back)
        h.send("kitchen_kettle", 1, at: back + 60)
        let r = h.raised(.notHome)
        #expect(r.isEmpty != raised, "\(r.map(\.detail))")
        if let d = r.first { #expect(d.time - leave >= 3 * 3600, "raised \((d.time - leave) / 60) min after she left") }
    }

    /// A night-owl: in the armchair from about 01:30 to 05:30, then in bed until about 15:15. The armchair is no
    /// night and 05:30 no wake-up (she went back to sleep within the hour and slept past 15:00): nothing is learned
    /// as her wake-up, so `not-up` never fires an hour after she went to bed.
    @Test func anArmchairBeforeALateBedIsNoWakeUp() throws {
        let h = try RoutineHarness()
        h.play(mondayMarch4 - 1, [(23, "bedroom_bed", 1)])
        for d in mondayMarch4..<mondayMarch4 + 21 { h.play(d, h.armchairThenBed(up: 15.25, activeUntil: 25.3, chair: 25.5, bed: 29.6)) }
        #expect(h.raised(.notUp).isEmpty, "\(h.raised(.notUp).map(\.detail))")
        for w in h.detector.model.wakeUps { #expect(w < 5 * 3600 || w > 6 * 3600, "learned wake-up \(RoutineModel.clock(w))") }
    }

    /// Up between about 06:20 and 08:40 (her median about 07:20, robust σ about 40 min): seen getting up at 06:36 and
    /// then still is being up, not a night trip, so no `not-up` (`inactivity` is for that); last seen at 03:40 on a
    /// night trip still is `not-up`.
    @Test(arguments: [(6.6, false), (3.7, true)])
    func aSignOfLifeWithinHerUsualSpreadOfWakeUpsIsBeingUp(lastSeen: Double, notUp: Bool) throws {
        let h = try RoutineHarness()
        for d in mondayMarch4..<mondayMarch4 + 21 { h.ordinaryDay(d, wakeUp: 7.5 + Double((d - mondayMarch4) % 5 - 2) * 0.4) }
        let sigma = h.detector.wakeSigma
        #expect(sigma > 25 * 60, "robust σ of her wake-ups \(sigma / 60) min")
        let day = mondayMarch4 + 21
        let stop = h.time(day: day, hour: lastSeen)
        h.ordinaryDay(day - 1, stop: stop)
        if lastSeen > 6 {
            h.send("bedroom_bed", 0, at: stop - 120)
            h.send("bathroom_toilet", 1, at: stop)
        }
        h.tick(to: h.time(day: day, hour: 12))
        #expect(h.raised(.notUp).isEmpty != notUp, "\(h.raised(.notUp).map(\.detail))")
    }

    /// Out of bed at 05:00 for the toilet and back to bed past no sensor: the bathroom quiet began in the night, so it
    /// is no `bathroom-dwell` when the night ends at about 06:30 (`not-up` says she did not get up).
    @Test func aBathroomQuietThatBeganInTheNightIsNoDwell() throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 14)
        let trip = h.time(day: mondayMarch4 + 14, hour: 5)
        h.tick(to: trip)
        h.send("bedroom_bed", 0, at: trip)
        h.send("bathroom_toilet", 1, at: trip + 60)
        h.tick(to: h.time(day: mondayMarch4 + 14, hour: 11))
        #expect(h.raised(.bathroomDwell).isEmpty, "\(h.raised(.bathroomDwell).map(\.detail)) night \(h.detector.nightText)")
        #expect(h.raised(.notUp).count == 1)
    }

    /// Every afternoon she washes at 14:00 and then sits two and a half hours where no sensor sees her: once learned,
    /// a long quiet after the bathroom is normal then, so it raises no `bathroom-dwell` (only `inactivity`, at its own
    /// limit; while learning, the fixed 120 min applies).
    @Test func noBathroomDwellWhereLongQuietsAfterTheBathroomAreNormal() throws {
        let h = try RoutineHarness()
        func day(_ d: Int, stop: Double = .infinity) -> Bool {
            var e: [(Double, String, Double)] = [(7.5, "bedroom_bed", 0), (7.55, "bathroom_toilet", 1)]
            var hour = 7.7
            var washed = false
            while hour < 22.5 {
                if hour >= 14 && !washed {
                    e.append((14, "bathroom_basin", 1))
                    hour = 16.5 + h.random() * 0.25
                    washed = true
                    continue
                }
                e.append((hour, "kitchen_kettle", 1))
                hour += 0.25 + h.random() * 0.25
            }
            e.append((22.75, "bedroom_bed", 1))
            return h.play(d, e, stop: stop)
        }
        for d in mondayMarch4..<mondayMarch4 + 21 { _ = day(d) }
        let stop = h.time(day: mondayMarch4 + 21, hour: 14.01)
        _ = day(mondayMarch4 + 21, stop: stop)
        h.tick(to: stop + 5 * 3600)
        let learned = h.raised(.bathroomDwell).filter { $0.detail["learning"]?.boolValue == false }
        #expect(learned.isEmpty, "\(learned.map(\.detail))")
        let limit = h.detector.bathroomLimit(sod: 16 * 3600)
        #expect(limit.limit == .infinity && limit.longest >= 2.5 * 3600, "\(limit)")
    }

    /// She sits in the armchair after lunch for an hour and a half every day. Sitting down at 10:00 and not moving
    /// again is judged by the mornings, when she does not sit for long, not by her longest afternoon.
    @Test func theArmchairsLimitFollowsTheTimeOfDay() throws {
        let h = try RoutineHarness()
        h.days(mondayMarch4..<mondayMarch4 + 21)
        let afternoon = h.detector.inactivityLimit(.seat, sod: 15 * 3600)
        let morning = h.detector.inactivityLimit(.seat, sod: 10.5 * 3600)
        #expect(morning.limit < afternoon.limit, "morning \(morning), afternoon \(afternoon)")
        let day = mondayMarch4 + 21
        let sits = h.time(day: day, hour: 10)
        h.ordinaryDay(day, stop: sits)
        h.send("living_seat", 1, at: sits)
        h.tick(to: sits + 8 * 3600)
        let r = try #require(h.raised(.inactivity).first)
        #expect(r.detail["context"]?.stringValue == "seat")
        #expect(r.time - sits < afternoon.limit, "raised \((r.time - sits) / 60) min after she sat down; the afternoon's limit is \(afternoon.limit / 60) min")
    }

    /// Dozing in the armchair from about 21:00 to 04:00, then to bed until about 08:00: the bed is her night and 08:00
    /// her wake-up, not 04:00, although the armchair lasted longer.
    @Test func aShorterBedAfterALongArmchairIsTheNight() throws {
        let h = try RoutineHarness()
        h.play(mondayMarch4 - 1, [(23, "bedroom_bed", 1)])
        for d in mondayMarch4..<mondayMarch4 + 14 { h.play(d, h.armchairThenBed(up: 8, activeUntil: 20.8, chair: 21, bed: 28.5)) }
        #expect(h.detector.model.wakeUps.count >= 10)
        for w in h.detector.model.wakeUps { #expect(w > 7.5 * 3600 && w < 8.5 * 3600, "learned wake-up \(RoutineModel.clock(w))") }
    }
}
