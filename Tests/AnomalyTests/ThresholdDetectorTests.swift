import Anomaly
import CareSupport
import Testing

/// A detector engine with only the families under test enabled, fed by name: signals are registered as a decoder
/// would register them, samples go through the engine's per-signal plans, detections are collected in order.
final class WatchHarness: @unchecked Sendable {
    let registry = SignalRegistry()
    let engine: DetectorEngine
    private var ids: [String: SignalID] = [:]

    /// `families`: the families to keep enabled with their settings; every other family is disabled.
    init(_ families: [String: JSONObject], timezone: String = "Europe/London") throws {
        var settings = JSONObject()
        for name in DetectorRegistry.names {
            settings[name] = .object(families[name] ?? ["enabled": false])
        }
        let box = WatchDetections()
        let context = DetectorContext(person: "linda", localTime: LocalTime(identifier: timezone)!, signals: registry,
                                      emit: { box.items.append($0) })
        engine = try DetectorEngine(context: context, settings: settings)
        self.box = box
    }
    private let box: WatchDetections

    var emitted: [Detection] { box.items }

    /// The id of `device`'s `kind` signal (registered on first use).
    func id(_ device: String, _ kind: SignalKind, placement: String? = nil) -> SignalID {
        let key = "\(device)|\(kind)"
        if let id = ids[key] { return id }
        let id = registry.id(device: device, channel: nil, kind: kind, topic: "zigbee2mqtt/\(device)", sourceIndex: 0,
                             placement: placement)
        ids[key] = id
        return id
    }

    func send(_ device: String, _ kind: SignalKind, _ value: Double, at t: Double, placement: String? = nil) {
        engine.process(Sample(signal: id(device, kind, placement: placement), time: t, value: value))
    }

    func accel(_ device: String, x: Float, y: Float, z: Float, at t: Double, placement: String = "wrist") {
        engine.process(Sample(signal: id(device, .acceleration, placement: placement), time: t, x: x, y: y, z: z))
    }

    func advance(to t: Double) { engine.advance(to: t) }

    /// (kind, state, seconds after `t0`) of every detection, for table comparisons.
    func timeline(from t0: Double) -> [String] {
        emitted.map { "\($0.kind.rawValue) \($0.state.rawValue) +\(Int(($0.time - t0).rounded()))" }
    }
}

final class WatchDetections: @unchecked Sendable {
    // @unchecked Sendable: the engine runs on the test's thread only.
    var items: [Detection] = []
}

/// 2026-11-23 00:00 UTC (London is on UTC in November).
let watchDay = Timestamp.parse("2026-11-23T00:00:00Z")!

@Suite("Threshold detector")
struct ThresholdDetectorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var settings: JSONObject = [:]
        var readings: [(Double, String, SignalKind, Double)]
        var untilMinute: Double
        var expected: [String]
        var testDescription: String { name }
    }

    /// Readings every `step` minutes of one value from `from` to `to` (inclusive of `from`).
    static func series(_ device: String, _ kind: SignalKind, _ value: Double, from: Double, to: Double, step: Double = 5) -> [(Double, String, SignalKind, Double)] {
        stride(from: from, to: to, by: step).map { ($0, device, kind, value) }
    }

    static let cases: [Case] = [
        Case(name: "coldHomeRaisesAfterThirtyMinutesBelowSixteen",
             readings: series("living room", .temperature, 15.5, from: 0, to: 45),
             untilMinute: 45, expected: ["cold-home raised +1800"]),
        Case(name: "aColdDipShorterThanTheMinimumDurationRaisesNothing",
             readings: series("living room", .temperature, 15.5, from: 0, to: 25) + series("living room", .temperature, 16.4, from: 25, to: 90),
             untilMinute: 90, expected: []),
        Case(name: "coldHomeStaysRaisedInsideTheHysteresisBandAndClearsAfterTenMinutesAtSeventeen",
             readings: series("living room", .temperature, 15, from: 0, to: 40) + series("living room", .temperature, 16.6, from: 40, to: 80)
                + series("living room", .temperature, 17.2, from: 80, to: 100),
             untilMinute: 100, expected: ["cold-home raised +1800", "cold-home cleared +5400"]),
        Case(name: "aRecoveryInterruptedByColdAgainDoesNotClear",
             readings: series("hall", .temperature, 15, from: 0, to: 40) + series("hall", .temperature, 17.5, from: 40, to: 45)
                + series("hall", .temperature, 15.9, from: 45, to: 60),
             untilMinute: 60, expected: ["cold-home raised +1800"]),
        Case(name: "hotHomeRaisesAboveTwentyEightAndClearsAtTwentySeven",
             readings: series("bedroom", .temperature, 29, from: 0, to: 40) + series("bedroom", .temperature, 27.5, from: 40, to: 60)
                + series("bedroom", .temperature, 26.9, from: 60, to: 75),
             untilMinute: 75, expected: ["hot-home raised +1800", "hot-home cleared +4200"]),
        Case(name: "perPersonLimitsMoveTheColdThreshold",
             settings: ["coldBelow": 18, "coldClearAt": 19, "temperatureMinimumSeconds": 600],
             readings: series("living room", .temperature, 17.5, from: 0, to: 15),
             untilMinute: 15, expected: ["cold-home raised +600"]),
        Case(name: "aFridgeTemperatureIsNotARoom",
             readings: series("kitchen fridge", .temperature, 4, from: 0, to: 60),
             untilMinute: 60, expected: []),
        Case(name: "twoColdRoomsRaiseOnceAndClearWhenTheLastOneWarms",
             readings: (series("hall", .temperature, 15, from: 0, to: 60) + series("bedroom", .temperature, 15, from: 10, to: 50)
                + series("bedroom", .temperature, 18, from: 50, to: 70) + series("hall", .temperature, 18, from: 60, to: 80))
                .sorted { $0.0 < $1.0 },
             untilMinute: 80, expected: ["cold-home raised +1800", "cold-home cleared +4200"]),
        Case(name: "lowHeartRateForTenMinutesRaisesAVitalAlarmAndRecoveryClearsIt",
             readings: series("band1", .heartRate, 35, from: 0, to: 12, step: 1) + series("band1", .heartRate, 42, from: 12, to: 15, step: 1)
                + series("band1", .heartRate, 62, from: 15, to: 20, step: 1),
             untilMinute: 20, expected: ["vital-out-of-range raised +600", "vital-out-of-range cleared +1020"]),
        Case(name: "heartRateZeroIsNoSkinContactNotAVitalSign",
             readings: series("band1", .heartRate, 0, from: 0, to: 30, step: 1),
             untilMinute: 30, expected: []),
        Case(name: "lowSpO2ForFiveMinutesRaisesOnceEvenWithALowHeartRateToo",
             readings: (series("band1", .spo2, 87, from: 0, to: 20, step: 1) + series("band1", .heartRate, 38, from: 0, to: 20, step: 1))
                .sorted { $0.0 < $1.0 },
             untilMinute: 20, expected: ["vital-out-of-range raised +300"]),
        Case(name: "aKettleLeftOnForFifteenMinutesRaisesAndClearsFiveMinutesAfterOff",
             readings: [(0, "kettle plug", .applianceOn, 1), (20, "kettle plug", .applianceOn, 0)],
             untilMinute: 30, expected: ["appliance-left-on raised +900", "appliance-left-on cleared +1500"]),
        Case(name: "aKettleBoilingForThreeMinutesRaisesNothing",
             readings: [(0, "kettle", .power, 2200), (3, "kettle", .power, 0)],
             untilMinute: 60, expected: []),
        Case(name: "aPlugSwitchedOnWithTheKettleOffDrawsNothingAndRaisesNothing",
             readings: [(0, "kettle plug", .applianceOn, 1)] + series("kettle plug", .power, 0.4, from: 0, to: 60),
             untilMinute: 60, expected: []),
        Case(name: "aCyclingCookerIsStillOnThroughItsThermostatPauses",
             readings: (0..<30).flatMap { k -> [(Double, String, SignalKind, Double)] in
                 [(Double(k) * 5, "cooker", .power, 2000), (Double(k) * 5 + 3, "cooker", .power, 0)] },
             untilMinute: 160, expected: ["appliance-left-on raised +7200", "appliance-left-on cleared +9180"]),
        Case(name: "aToasterIsNotWatchedByDefault",
             readings: [(0, "kitchen toaster", .applianceOn, 1)],
             untilMinute: 600, expected: []),
        Case(name: "configuredAppliancesAreMatchedByTheirFullName",
             settings: ["applianceLimits": ["iron socket": 600]],
             readings: [(0, "iron socket", .applianceOn, 1)],
             untilMinute: 12, expected: ["appliance-left-on raised +600"]),
    ]

    @Test(arguments: cases)
    func thresholdRule(_ c: Case) throws {
        let h = try WatchHarness(["thresholds": c.settings])
        // The daemon's clock ticks every 30 s while nothing arrives; readings come in between.
        var tick = watchDay
        for (minute, device, kind, value) in c.readings {
            let t = watchDay + minute * 60
            while tick < t { h.advance(to: tick); tick += 30 }
            h.send(device, kind, value, at: t)
        }
        while tick <= watchDay + c.untilMinute * 60 { h.advance(to: tick); tick += 30 }
        #expect(h.timeline(from: watchDay) == c.expected, "\(c.name)")
    }

    @Test func coldHomeIsHomeLevelAndNamesTheRoomInItsDetail() throws {
        let h = try WatchHarness(["thresholds": [:]])
        for m in stride(from: 0.0, to: 35, by: 5) { h.send("living room", .temperature, 14.8, at: watchDay + m * 60) }
        let d = try #require(h.emitted.first)
        #expect(d.kind == .coldHome && d.device == nil && d.topic == nil && d.severity == .warning)
        #expect(d.detail["room"] == "living room")
        #expect(d.detail["temperature"] == .number(14.8))
        #expect(d.detail["limit"] == .number(16))
    }

    @Test func aClockJumpBackwardsRestartsTheWaitAndFiresNothing() throws {
        let h = try WatchHarness(["thresholds": [:]])
        for m in stride(from: 0.0, to: 25, by: 5) { h.send("hall", .temperature, 15, at: watchDay + m * 60) }
        // The gateway's clock steps back a day: 25 more minutes of cold, 50 in all, but never 30 in a row.
        let back = watchDay - 86_400
        for m in stride(from: 0.0, to: 25, by: 5) { h.send("hall", .temperature, 15, at: back + m * 60); h.advance(to: back + m * 60 + 1) }
        #expect(h.emitted.isEmpty, "\(h.timeline(from: watchDay))")
    }

    @Test func aForwardClockStepFromNineteenSeventyFiresNothing() throws {
        let h = try WatchHarness(["thresholds": [:]])
        let boot = 86_400.0 * 3   // a gateway without a real-time clock boots in 1970
        for m in stride(from: 0.0, to: 10, by: 5) { h.send("hall", .temperature, 15, at: boot + m * 60) }
        h.send("kettle", .applianceOn, 1, at: boot + 60)
        // NTP steps the clock to 2026: the waits do not span the step.
        h.advance(to: watchDay)
        h.send("hall", .temperature, 15, at: watchDay + 1)
        h.advance(to: watchDay + 60)
        #expect(h.emitted.isEmpty, "\(h.timeline(from: watchDay))")
    }

    @Test func badSettingsNameTheFieldAndTheRule() {
        do {
            _ = try WatchHarness(["thresholds": ["coldBelow": 18, "coldClearAt": 17, "applianceLimits": ["kettle": "long"], "colder": 1]])
            Issue.record("expected a configuration error")
        } catch let e as DetectorConfigurationError {
            let text = e.description
            #expect(text.contains("detectors.thresholds.coldClearAt"))
            #expect(text.contains("detectors.thresholds.applianceLimits.kettle"))
            #expect(text.contains("detectors.thresholds.colder"))
        } catch {
            Issue.record("\(error)")
        }
    }
}
