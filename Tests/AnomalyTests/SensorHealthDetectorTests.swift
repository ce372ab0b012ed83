import Anomaly
import CareSupport
import Foundation
import Testing

@Suite("Sensor health detector")
struct SensorHealthDetectorTests {
    /// A temperature sensor reporting every `every` seconds from `from` for `seconds`, with the clock ticking.
    static func report(_ h: WatchHarness, _ device: String, every: Double, from: Double, seconds: Double, value: Double = 20) {
        var t = from
        while t < from + seconds {
            h.send(device, .temperature, value, at: t)
            t += every
        }
    }

    /// Ticks the clock every `step` seconds from `from` to `to`.
    static func tick(_ h: WatchHarness, from: Double, to: Double, step: Double = 30) {
        var t = from
        while t <= to { h.advance(to: t); t += step }
    }

    @Test func aLearnedSensorIsSilentAfterFourTimesItsIntervalWithTheFloor() throws {
        let h = try WatchHarness(["health": [:]])
        // Two days every 5 minutes (past learning): the limit is max(900, 4 × 300) = 1200 s.
        Self.report(h, "kitchen/temp", every: 300, from: watchDay, seconds: 2 * 86_400)
        let last = watchDay + 2 * 86_400 - 300
        Self.tick(h, from: last, to: last + 3600)
        #expect(h.timeline(from: last) == ["sensor-silent raised +1230"])
        let d = try #require(h.emitted.first)
        #expect(d.device == "kitchen/temp" && d.severity == .info)
        #expect(d.detail["message"]?.stringValue == "Temperature monitoring is off since 23:55: kitchen/temp is silent")
        #expect(d.detail["learnedIntervalSeconds"]?.doubleValue.map { abs($0 - 300) < 1 } == true)
        // Its next report clears it.
        h.send("kitchen/temp", .temperature, 20, at: last + 4000)
        #expect(h.emitted.last?.state == .cleared && h.emitted.last?.kind == .sensorSilent)
    }

    /// Two thermometers: the first to go silent leaves temperature monitoring with the other one, and the message says
    /// so; when the second goes silent too, temperature monitoring is off.
    @Test func oneSilentSensorOfSeveralIsALossNotProtectionOff() throws {
        let h = try WatchHarness(["health": [:]])
        // Both every 5 minutes for two days; then the hall alone for three hours more.
        var t = watchDay
        while t < watchDay + 2 * 86_400 + 3 * 3600 {
            if t < watchDay + 2 * 86_400 { h.send("kitchen/temp", .temperature, 20, at: t) }
            h.send("hall/temp", .temperature, 20, at: t + 1)
            h.advance(to: t + 150)
            t += 300
        }
        Self.tick(h, from: t, to: t + 3600)
        let silent = h.emitted.filter { $0.kind == .sensorSilent && $0.state == .raised }
        #expect(silent.map(\.device) == ["kitchen/temp", "hall/temp"], "\(silent.map(\.detail))")
        #expect(silent.first?.detail["message"]?.stringValue
                == "Temperature monitoring has lost kitchen/temp since 23:55 (it is silent); 1 other device has reported since")
        #expect(silent.last?.detail["message"]?.stringValue?.hasPrefix("Temperature monitoring is off since ") == true)
    }

    @Test func theWristbandSilentReportsLostFallDetectionInItsOwnWords() throws {
        let h = try WatchHarness(["health": ["learningSeconds": 0]])
        let start = watchDay + 13 * 3600   // 50 Hz from 13:00 to 14:00
        for i in 0...180_000 {
            let t = start + Double(i) * 0.02
            h.accel("band1", x: Float(sin(t)) * 0.3, y: -1, z: 0.1, at: t)
        }
        let t = start + 3600
        Self.tick(h, from: t + 30, to: t + 1800)
        let d = try #require(h.emitted.first { $0.kind == .sensorSilent })
        #expect(d.detail["message"]?.stringValue == "Fall detection is off since 14:00: the wristband band1 is silent")
        #expect(d.time - t >= 900 && d.time - t < 960, "the floor of 15 minutes")
    }

    @Test func aNewSensorIsGivenThreeHoursWhileItsIntervalIsLearned() throws {
        let h = try WatchHarness(["health": [:]])
        Self.report(h, "hall/temp", every: 60, from: watchDay, seconds: 3600)
        let last = watchDay + 3540
        Self.tick(h, from: last, to: last + 4 * 3600)
        #expect(h.timeline(from: last) == ["sensor-silent raised +10830"])
    }

    @Test func anEventOnlyDoorContactIsNotSilentForDays() throws {
        let h = try WatchHarness(["health": [:]])
        h.send("front door", .contact, 1, at: watchDay)
        h.send("front door", .contact, 0, at: watchDay + 60)
        Self.report(h, "hall/temp", every: 600, from: watchDay, seconds: 10 * 86_400)
        #expect(h.emitted.filter { $0.device == "front door" }.isEmpty)
        Self.tick(h, from: watchDay + 10 * 86_400, to: watchDay + 15 * 86_400, step: 600)
        #expect(h.emitted.filter { $0.device == "front door" }.map(\.kind) == [.sensorSilent], "after 14 days")
    }

    @Test func aDoorContactWithAHeartbeatLearnsItsHourlyReports() throws {
        let h = try WatchHarness(["health": [:]])
        // Zigbee2MQTT: the contact and its link quality in every message, a heartbeat every hour, three days.
        var t = watchDay
        while t < watchDay + 3 * 86_400 {
            h.send("back door", .contact, 1, at: t)
            h.send("back door", .linkQuality, 120, at: t)
            t += 3600
        }
        let last = t - 3600
        Self.tick(h, from: last, to: last + 5 * 3600, step: 60)
        #expect(h.timeline(from: last) == ["sensor-silent raised +14460"], "4 × 1 h, at the next minute tick")
    }

    struct BatteryCase: Sendable, CustomTestStringConvertible {
        var name: String
        var kind: SignalKind
        var values: [Double]
        var expected: [String]
        var testDescription: String { name }
    }

    static let batteryCases: [BatteryCase] = [
        BatteryCase(name: "lowBatteryRaisesBelowFifteenPercentOnce", kind: .battery, values: [40, 20, 15, 14, 12, 10],
                    expected: ["battery-low raised +180"]),
        BatteryCase(name: "aBatteryWobblingAroundTheLimitDoesNotClearUntilANewOne", kind: .battery, values: [14, 16, 20, 14, 24, 80],
                    expected: ["battery-low raised +0", "battery-low cleared +300"]),
        BatteryCase(name: "aCoinCellBelowTwoAndAHalfVoltsRaises", kind: .batteryVoltage, values: [3.0, 2.8, 2.6, 2.45, 2.6, 3.1],
                    expected: ["battery-low raised +180", "battery-low cleared +300"]),
        BatteryCase(name: "anImpossibleBatteryPercentageIsIgnored", kind: .battery, values: [-5, 250, 50],
                    expected: []),
    ]

    @Test(arguments: batteryCases)
    func battery(_ c: BatteryCase) throws {
        let h = try WatchHarness(["health": [:]])
        for (i, v) in c.values.enumerated() { h.send("bathroom/motion", c.kind, v, at: watchDay + Double(i) * 60) }
        #expect(h.timeline(from: watchDay) == c.expected)
    }

    @Test func offlineForAMinuteRaisesAndOnlineClearsButARestartRaisesNothing() throws {
        let h = try WatchHarness(["health": [:]])
        h.send("smoke alarm", .smoke, 0, at: watchDay)
        h.send("smoke alarm", .availability, 0, at: watchDay + 100)
        h.send("smoke alarm", .availability, 1, at: watchDay + 130)   // a bridge restart
        Self.tick(h, from: watchDay + 130, to: watchDay + 400)
        h.send("smoke alarm", .availability, 0, at: watchDay + 400)
        Self.tick(h, from: watchDay + 400, to: watchDay + 600)
        h.send("smoke alarm", .availability, 1, at: watchDay + 700)
        #expect(h.timeline(from: watchDay) == ["device-offline raised +460", "device-offline cleared +700"])
        #expect(h.emitted.first?.detail["message"]?.stringValue == "Smoke detection is off since 00:06: smoke alarm is offline")
    }

    /// A wristband lying still from 07:00, the home active (motion every 10 minutes) until `until`.
    static func stillBand(_ h: WatchHarness, from: Double, until: Double, homeActive: Bool, moveAt: Double? = nil) {
        var t = from
        var nextMotion = from
        while t < until {
            let moving = moveAt.map { t >= $0 && t < $0 + 5 } ?? false
            h.accel("band1", x: moving ? Float(sin(t * 7)) : 0.02, y: moving ? 0 : -0.99, z: 0.05, at: t)
            if homeActive && t >= nextMotion {
                h.send("kitchen/motion", .motion, 1, at: t)
                nextMotion += 600
            }
            t += 0.2   // 5 Hz keeps the test short; the rule does not depend on the rate
        }
    }

    @Test func aWristbandStillForTwoHoursOfTheDayWhileTheHomeIsActiveIsNotWorn() throws {
        let h = try WatchHarness(["health": ["learningSeconds": 0]])
        let seven = watchDay + 7 * 3600
        Self.stillBand(h, from: seven, until: watchDay + 10.5 * 3600, homeActive: true, moveAt: watchDay + 10.25 * 3600)
        let notWorn = h.emitted.filter { $0.kind == .notWorn }
        #expect(notWorn.map(\.state) == [.raised, .cleared])
        // Night-time stillness does not count: two hours from 08:00, not from 07:00.
        #expect(notWorn.first.map { abs($0.time - (watchDay + 10 * 3600)) < 2 } == true, "\(h.timeline(from: watchDay))")
        #expect(notWorn.first?.detail["message"]?.stringValue == "Fall detection is off since 08:00: the wristband band1 has not moved while the home is active")
        #expect(notWorn.last.map { abs($0.time - (watchDay + 10.25 * 3600)) < 2 } == true)
    }

    /// Two wristbands' batches and the home's events interleave a few seconds out of time order: that is not a
    /// clock step, so the not-worn wait is not restarted by it.
    @Test func samplesOfSeveralDevicesSlightlyOutOfOrderAreNotAClockStep() throws {
        let h = try WatchHarness(["health": ["learningSeconds": 0]])
        var t = watchDay + 7 * 3600
        var nextMotion = t
        while t < watchDay + 10.5 * 3600 {
            h.accel("band1", x: 0.02, y: -0.99, z: 0.05, at: t)
            h.accel("band2", x: 0.3 * Float(sin(t * 7)), y: -0.9, z: 0.1, at: t - 3)   // a batch 3 s behind
            if t >= nextMotion {
                h.send("kitchen/motion", .motion, 1, at: t - 1)
                nextMotion += 600
            }
            t += 0.2
        }
        let notWorn = h.emitted.filter { $0.kind == .notWorn && $0.device == "band1" }
        #expect(notWorn.first.map { abs($0.time - (watchDay + 10 * 3600)) < 5 } == true, "\(h.timeline(from: watchDay))")
    }

    @Test func aStillWristbandInAQuietHomeIsNotReported() throws {
        let h = try WatchHarness(["health": ["learningSeconds": 0]])
        Self.stillBand(h, from: watchDay + 8 * 3600, until: watchDay + 11 * 3600, homeActive: false)
        #expect(h.emitted.filter { $0.kind == .notWorn }.isEmpty)
    }

    @Test func aStillWristbandAtNightIsNotReported() throws {
        let h = try WatchHarness(["health": ["learningSeconds": 0]])
        Self.stillBand(h, from: watchDay + 1 * 3600, until: watchDay + 6 * 3600, homeActive: true)
        #expect(h.emitted.filter { $0.kind == .notWorn }.isEmpty)
    }

    @Test func aClockJumpBackwardsFiresNothingAndLearnsNothing() throws {
        let h = try WatchHarness(["health": [:]])
        Self.report(h, "kitchen/temp", every: 300, from: watchDay, seconds: 2 * 86_400)
        // The clock steps back a day; the sensor keeps reporting every 5 minutes.
        Self.report(h, "kitchen/temp", every: 300, from: watchDay + 86_400, seconds: 86_400)
        #expect(h.emitted.isEmpty, "\(h.timeline(from: watchDay))")
        let state = try #require(h.engine.learnedState()["health"]?["devices"]?["kitchen/temp"]?["intervalSeconds"]?.doubleValue)
        #expect(abs(state - 300) < 1)
    }

    @Test func aForwardStepFromNineteenSeventyFiresNothing() throws {
        let h = try WatchHarness(["health": [:]])
        Self.report(h, "kitchen/temp", every: 60, from: 86_400, seconds: 600)
        h.send("smoke alarm", .availability, 0, at: 86_400 + 300)
        Self.report(h, "kitchen/temp", every: 60, from: watchDay, seconds: 600)
        Self.tick(h, from: watchDay + 600, to: watchDay + 700)
        #expect(h.emitted.filter { $0.kind == .sensorSilent }.isEmpty, "\(h.timeline(from: watchDay))")
    }

    @Test func learnedIntervalsSurviveARestart() throws {
        let first = try WatchHarness(["health": [:]])
        Self.report(first, "kitchen/temp", every: 600, from: watchDay, seconds: 2 * 86_400)
        let saved = first.engine.learnedState()
        // A new process: the sensor reports once, then stops; no three-hour learning grace, 4 × 10 min.
        let second = try WatchHarness(["health": [:]])
        #expect(second.engine.restore(saved).isEmpty)
        let t = watchDay + 3 * 86_400
        second.send("kitchen/temp", .temperature, 20, at: t)
        Self.tick(second, from: t, to: t + 3 * 3600, step: 60)
        #expect(second.timeline(from: t) == ["sensor-silent raised +2460"])
    }

    @Test func damagedLearnedStateIsATypedProblemNotACrash() throws {
        let h = try WatchHarness(["health": [:]])
        let problems = h.engine.restore(["person": "linda", "health": ["version": 1, "devices": ["x": ["intervalSeconds": "soon"]]]])
        #expect(problems.count == 1 && problems[0].hasPrefix("health:"))
    }
}
