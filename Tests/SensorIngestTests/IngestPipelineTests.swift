import Anomaly
import Foundation
import CareSupport
import Synchronization
import Testing
import TestSupport
@testable import SensorIngest

/// A routing for tests: `acc/<device>` is an accelerometer source, `sos/<device>` gives one SOS reading per message
/// (payload "1"), `num/<device>` a temperature (payload a number), anything else is unmatched.
struct TestRouting: TopicRouting {
    var sourceNames: [String] { ["acc/+", "sos/+", "num/+"] }
    func route(topic: String) -> TopicRoute? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "acc":
            return TopicRoute(sourceIndex: 0, sourceName: "acc/+", device: parts[1], isAccelerometer: true, placement: "wrist") {
                (_, _, _) throws(DecodeError) -> DecodedMessage in throw DecodeError(.unsupported, "only the fast path in this test")
            }
        case "sos":
            return TopicRoute(sourceIndex: 1, sourceName: "sos/+", device: parts[1], isAccelerometer: false, placement: nil) {
                (_, _, payload) throws(DecodeError) -> DecodedMessage in
                DecodedMessage(readings: [Reading(signal: .sos, value: .bool(payload.first == UInt8(ascii: "1")), field: "", raw: .string("1"))])
            }
        case "num":
            return TopicRoute(sourceIndex: 2, sourceName: "num/+", device: parts[1], isAccelerometer: false, placement: nil) {
                (_, _, payload) throws(DecodeError) -> DecodedMessage in
                guard let v = Double(String(decoding: payload, as: UTF8.self)) else {
                    throw DecodeError(.wrongType, "expected a number")
                }
                return DecodedMessage(readings: [Reading(signal: .temperature, value: .number(v), unit: "°C", field: "", raw: .number(v))])
            }
        default: return nil
        }
    }
}

/// Collects what the consumer received.
final class RecordingProcessor: SampleProcessor, @unchecked Sendable {
    // @unchecked Sendable: written by the consumer thread, read after it was joined.
    var samples: [Sample] = []
    func process(_ sample: Sample) { samples.append(sample) }
    func advance(to time: Double) {}
}

func feed(_ p: IngestPipeline, _ topic: String, _ payload: String, at t: Double = 1000) {
    var topic = topic, payload = payload
    topic.withUTF8 { tb in payload.withUTF8 { pb in
        p.ingest(topic: UnsafeRawBufferPointer(tb), payload: UnsafeRawBufferPointer(pb), arrival: t)
    } }
}

func accelBatch(count: Int, t0: Double = 1000) -> String {
    let xs = (0..<count).map { String(Double($0) / 100) }.joined(separator: ",")
    return "{\"t0\":\(t0),\"hz\":100,\"unit\":\"g\",\"x\":[\(xs)],\"y\":[\(xs)],\"z\":[\(xs)]}"
}

@Suite("Ingest pipeline")
struct IngestPipelineTests {
    @Test func countsUnmatchedRejectedReadingsAndSamples() {
        let p = IngestPipeline(routing: TestRouting(), backpressure: .wait)
        let proc = RecordingProcessor()
        let t = OSThread(name: "c") { [p, proc] in p.runConsumer(proc) }
        feed(p, "acc/band1", accelBatch(count: 50))
        feed(p, "num/kitchen", "21.5")
        feed(p, "num/kitchen", "warm")       // rejected
        feed(p, "elsewhere/x", "1")          // unmatched
        feed(p, "elsewhere/x", "1")          // unmatched, from the cache
        feed(p, "sos/button", "1")
        p.finish()
        t.join()
        let c = p.counts
        #expect(c.messages == 6)
        #expect(c.unmatched == 2)
        #expect(c.rejected == 1)
        #expect(c.readings == 2)
        #expect(c.samples == 50)
        #expect(proc.samples.count == 52)
        #expect(p.rejections.first?.source == "num/+")
        #expect(p.rejections.first?.lastReason.contains("expected a number") == true)
        let band = p.registry.all.first { $0.device == "band1" }
        #expect(band?.kind == .acceleration && band?.placement == "wrist")
        // times of a regular batch: t0 + i/hz
        #expect(abs(proc.samples[49].time - (1000 + 49.0 / 100)) < 1e-9)
    }

    @Test func fullRingDropsSamplesPerSignalButNeverAlarmReadings() {
        let p = IngestPipeline(routing: TestRouting(), ringCapacity: 64, backpressure: .dropWhenFull)
        // No consumer yet: the ring fills.
        for i in 0..<4 { feed(p, "acc/band1", accelBatch(count: 40, t0: Double(i))) }
        for _ in 0..<10 { feed(p, "sos/button", "1") }
        let c = p.counts
        #expect(c.samples == 160)
        #expect(c.dropped == 160 - 64)
        let accelID = p.registry.all.first { $0.kind == .acceleration }!.id
        #expect(p.droppedBySignal[accelID] == 96)
        let proc = RecordingProcessor()
        let t = OSThread(name: "c") { [p, proc] in p.runConsumer(proc) }
        p.finish()
        t.join()
        let sos = proc.samples.filter { p.registry.info($0.signal)?.kind == .sos }
        #expect(sos.count == 10, "every SOS reading must reach the detectors even when the ring was full")
        #expect(proc.samples.count == 64 + 10)
    }

    @Test func losslessModeWaitsForTheConsumerInsteadOfDropping() {
        let p = IngestPipeline(routing: TestRouting(), ringCapacity: 16, backpressure: .wait)
        let proc = RecordingProcessor()
        let t = OSThread(name: "c") { [p, proc] in p.runConsumer(proc) }
        for i in 0..<200 { feed(p, "acc/band\(i % 3)", accelBatch(count: 37, t0: Double(i))) }
        p.finish()
        t.join()
        #expect(p.counts.dropped == 0)
        #expect(proc.samples.count == 200 * 37)
        // Per device, samples arrive in time order.
        for d in 0..<3 {
            let id = p.registry.all.first { $0.device == "band\(d)" }!.id
            let times = proc.samples.filter { $0.signal == id }.map(\.time)
            #expect(times == times.sorted())
        }
    }

    @Test func garbageOnAnAccelerometerTopicIsRejectedAndDoesNotStallOtherInputs() {
        let p = IngestPipeline(routing: TestRouting(), backpressure: .wait)
        let proc = RecordingProcessor()
        let t = OSThread(name: "c") { [p, proc] in p.runConsumer(proc) }
        for junk in ["", "{", "{\"t0\":1,\"hz\":100,\"x\":[1,2", String(repeating: "[", count: 100_000), "\u{0}\u{1}"] {
            feed(p, "acc/band1", junk)
            feed(p, "num/hall", "19")
        }
        p.finish()
        t.join()
        #expect(p.counts.rejected == 5)
        #expect(proc.samples.count == 5)
    }
}

@Suite("Ingest pipeline with the real decoders")
struct IngestPipelineDecoderTests {
    /// SenML and Edge Impulse name their axes differently (`accX`, `band1:accX`): the pipeline takes the three
    /// series in order, so these batches reach the detectors as acceleration samples.
    @Test func everyAccelerometerFormatBecomesSamples() throws {
        let routing = try SourceRouting(sources: [SourceConfiguration(topic: "wearable/+/accel", format: "accel")])
        let shared = URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("highrate")
        let files = try FileManager.default.contentsOfDirectory(atPath: shared.path).filter { $0.hasSuffix(".json") }
        try #require(!files.isEmpty, "fixtures not found at \(shared.path)")
        for f in files {
            let payload = try String(contentsOf: shared.appendingPathComponent(f), encoding: .utf8)
            let p = IngestPipeline(routing: routing, backpressure: .wait)
            let proc = RecordingProcessor()
            let t = OSThread(name: "c") { [p, proc] in p.runConsumer(proc) }
            feed(p, "wearable/band1/accel", payload)
            p.finish()
            t.join()
            if f.contains("senml") && !payload.contains("acc") { continue }
            #expect(p.counts.rejected == 0, "\(f)")
            #expect(p.counts.samples > 0, "\(f) gave no accelerometer samples")
            #expect(proc.samples.allSatisfy { $0.x.isFinite && $0.y.isFinite && $0.z.isFinite })
        }
    }
}
