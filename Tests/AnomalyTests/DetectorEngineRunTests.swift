@testable import Anomaly
import CareSupport
import Testing

/// The pipeline hands the engine what it drained from the ring as stretches of samples, and the engine gives each
/// family a run of one signal's samples at once. These tests hold it to its contract: exactly the detections (same
/// lines, same order) and the same learned state as one sample at a time, wherever the stretches happen to end.
@Suite("Detector engine: runs of samples")
struct DetectorEngineRunTests {
    /// Every family with its defaults, except that the health detector's learning period is off (so a silence of
    /// the wristband is reported after 15 minutes, inside the test's day).
    static func harness() throws -> WatchHarness {
        var families: [String: JSONObject] = [:]
        for name in DetectorRegistry.names { families[name] = [:] }
        families["health"] = ["learningSeconds": 0]
        return try WatchHarness(families)
    }

    /// One morning of a home, as the ring would carry it: a 50 Hz waist sensor in 1 s messages (walking, silent for
    /// half an hour, left on a table for two hours, worn again, a fall with lying still and getting up, a clock
    /// stepped back by NTP), interleaved in time with a motion sensor, a door, a cold living room that warms up,
    /// and the sensor's battery running low.
    static func morning(_ h: WatchHarness) -> [Sample] {
        let band = h.id("belt1", .acceleration, placement: "waist")
        let battery = h.id("belt1", .battery, placement: "waist")
        let motion = h.id("hall", .motion)
        let door = h.id("front door", .contact)
        let temperature = h.id("living room", .temperature)

        var b = TraceBuilder(hz: 50, mounting: (0, 0, 90))
        b.time = watchDay + 7 * 3600
        b.add(.walk(seconds: 5400))                       // 07:00-08:30
        b.add(.gap(seconds: 1800))                        // silent until 09:00
        b.add(.still(seconds: 8400, tiltDegrees: 70))     // on the table until 11:20
        b.add(.walk(seconds: 600))
        b.add(.fall(peak: 5, turn: 88))
        b.add(.still(seconds: 40, tiltDegrees: 88))       // still lying after 30 s
        b.add(.walk(seconds: 300))                        // got up
        let stepAt = b.samples.count
        b.add(.clockBack(seconds: 900))
        b.add(.walk(seconds: 600))

        func batches(_ range: Range<Int>) -> [(time: Double, samples: [Sample])] {
            stride(from: range.lowerBound, to: range.upperBound, by: 50).map { k in
                let batch = b.samples[k..<min(k + 50, range.upperBound)].map {
                    Sample(signal: band, time: $0.t, x: Float($0.v.x), y: Float($0.v.y), z: Float($0.v.z))
                }
                return (batch[0].time, batch)
            }
        }
        var messages = batches(0..<stepAt)
        var t = watchDay + 7 * 3600
        var open = false
        while t < watchDay + 12 * 3600 {
            messages.append((t + 1, [Sample(signal: motion, time: t + 1, value: 1)]))
            let hour = (t - watchDay) / 3600
            messages.append((t + 2, [Sample(signal: temperature, time: t + 2, value: hour < 10 ? 15 : 18)]))
            if Int(t) % 1800 == 0 {
                open.toggle()
                messages.append((t + 3, [Sample(signal: door, time: t + 3, value: open ? 0 : 1)]))
            }
            t += 300
        }
        messages.append((watchDay + 8 * 3600 + 4, [Sample(signal: battery, time: watchDay + 8 * 3600 + 4, value: 9)]))
        // Stable by time: a message's samples stay together, as the feeder stages them.
        let ordered = messages.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
        // After the clock stepped back, the wearable goes on from the new time, with a motion event among it.
        var after = batches(stepAt..<b.samples.count)
        after.insert((after[5].time + 0.5, [Sample(signal: motion, time: after[5].time + 0.5, value: 1)]), at: 6)
        return ordered.flatMap(\.element.samples) + after.flatMap(\.samples)
    }

    /// Seed 0: the whole morning as one stretch; others: random stretch sizes.
    @Test(arguments: [0 as UInt64, 1, 2, 3])
    func stretchesGiveTheSameDetectionsAsOneSampleAtATime(seed: UInt64) throws {
        let one = try Self.harness()
        let stream = Self.morning(one)
        for s in stream { one.engine.process(s) }
        one.engine.finish(at: stream.last!.time)

        let runs = try Self.harness()
        #expect(Self.morning(runs) == stream, "both harnesses name the signals alike")
        var random = SplitMix64(seed: seed)
        stream.withUnsafeBufferPointer { all in
            var i = 0
            while i < all.count {
                // Stretches of 1 to 6000 samples: single samples, part of a message, many messages.
                let n = seed == 0 ? all.count
                    : min(all.count - i, 1 + Int(random.next() % (random.next() % 2 == 0 ? 60 : 6000)))
                runs.engine.process(UnsafeBufferPointer(rebasing: all[i..<(i + n)]))
                i += n
            }
        }
        runs.engine.finish(at: stream.last!.time)

        let expected = one.emitted.map(\.eventLine)
        #expect(runs.emitted.map(\.eventLine) == expected)
        #expect(JSONWriter.serialize(.object(runs.engine.learnedState())) == JSONWriter.serialize(.object(one.engine.learnedState())))
        #expect(runs.engine.samples == one.engine.samples && runs.engine.samples == stream.count)

        // The stream exercises what a run can meet: detections of two families about the same samples, a silence
        // cleared and a not-worn cleared inside a wearable's run, and a fall raised inside one.
        let seen = Set(one.emitted.map { "\($0.kind.rawValue) \($0.state.rawValue)" })
        for needed in ["fall raised", "sensor-silent raised", "sensor-silent cleared", "not-worn raised",
                       "not-worn cleared", "battery-low raised", "cold-home raised", "cold-home cleared"] {
            #expect(seen.contains(needed), "the stream should raise \(needed); it raised \(seen.sorted())")
        }
        let phases = one.emitted.filter { $0.kind == .fall }.compactMap { $0.detail["phase"]?.stringValue }
        #expect(phases == ["impact", "still-lying", "got-up"])
    }

    /// Two families given one run emit one after the other; the context sends what they emitted in time order,
    /// and what happened at the same moment in the order the families emitted it (the engine's family order).
    @Test func heldDetectionsAreSentInTimeOrderTiesInEmissionOrder() {
        let sent = WatchDetections()
        let context = DetectorContext(person: "linda", localTime: LocalTime(identifier: "UTC")!, signals: SignalRegistry(),
                                      emit: { sent.items.append($0) })
        context.holdDetections()
        context.emit(Detection(time: 20, person: "linda", kind: .fall, state: .raised, detail: ["n": 1]))
        context.emit(Detection(time: 30, person: "linda", kind: .fall, state: .raised, detail: ["n": 2]))
        context.emit(Detection(time: 10, person: "linda", kind: .sensorSilent, state: .cleared, detail: ["n": 3]))
        context.emit(Detection(time: 20, person: "linda", kind: .notWorn, state: .cleared, detail: ["n": 4]))
        #expect(sent.items.isEmpty, "held until the run ends")
        context.releaseDetections()
        #expect(sent.items.compactMap { $0.detail["n"]?.doubleValue } == [3, 1, 4, 2])
        context.emit(Detection(time: 5, person: "linda", kind: .fall, state: .raised, detail: ["n": 5]))
        #expect(sent.items.count == 5 && context.emitted == 5, "not held outside a run")
    }
}
