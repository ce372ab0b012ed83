// PROTOTYPE (benchmark-only): the replay path of IngestPipeline + DetectorEngine with the changes recommended to the
// lead, to measure them against the library in the same run. It uses the library's SPSCRing, TopicCache,
// SignalRegistry and DetectorEngine unchanged; what differs from `IngestPipeline.ingest` / `runConsumer` is marked
// CHANGE (1 and 2 are in ProtoScanner.swift).
import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

final class ProtoFinished: Sendable {
    let finished = Atomic<Bool>(false)
}

enum ProtoReplay {
    /// How long the detector thread spins (checking the ring) before it parks.
    static let spinBeforeParkNs: UInt64 = 50_000

    /// Replays the mapped capture through the prototype path. `libraryDecoders`: decode with the library's
    /// CaptureLineReader and AccelFastPath (to isolate the pipeline changes) instead of the Proto copies.
    static func run(_ capture: MappedFile, libraryDecoders: Bool) -> ReplayBenchmark.ReplayPass {
        let storage = SPSCRing<Sample>.make(capacity: 1 << 16)
        let shared = ProtoFinished()
        let consumerRecord = RunRecord()
        let registry = SignalRegistry()
        let engine = Handoff(makeBenchmarkDetectorEngine(signals: registry))
        let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
        let consumer = OSThread(name: "proto-detector") {
            let c0 = cmb_thread_cpu_ns()
            var c = storage.takeConsumer()
            let engine = engine.value
            while true {
                let n = c.drain(limit: 4096) { engine.process($0) }
                if n > 0 { continue }
                if shared.finished.load(ordering: .acquiring) {
                    if c.hasElements() { continue }
                    break
                }
                // CHANGE 3: spin briefly before parking. The feeder publishes once per message (every few µs in
                // replay); parking after 32 re-checks costs a membarrier (an IPI to the feeder's CPU), a futex
                // wake syscall on the feeder and two context switches per message.
                let deadline = cmb_now_ns() + spinBeforeParkNs
                var ready = false
                while !ready && cmb_now_ns() < deadline {
                    for _ in 0..<16 { cmb_cpu_relax() }
                    ready = c.hasElements()
                }
                if !ready { _ = c.wait(timeoutNanoseconds: 1_000_000) }
            }
            consumerRecord.checksum = Double(engine.samples)
            consumerRecord.endNs = cmb_thread_cpu_ns() - c0
        }

        var producer = storage.takeProducer()
        let topics = TopicCache()
        var signals: [SignalID] = []
        let routing = WearableAccelRouting()
        let libReader = CaptureLineReader(), libFast = AccelFastPath()
        let reader = ProtoLineReader(), fast = ProtoAccelFastPath()
        var samples = 0

        func signal(_ topic: UnsafeRawBufferPointer) -> SignalID {
            if let r = topics.lookup(topic) { return signals[r] }
            let name = String(decoding: topic, as: UTF8.self)
            guard let route = routing.route(topic: name) else { fail("unrouted topic \(name)") }
            signals.append(registry.id(device: route.device, channel: nil, kind: .acceleration, topic: name,
                                       sourceIndex: route.sourceIndex, placement: route.placement))
            topics.insert(topic, value: signals.count - 1)
            return signals[signals.count - 1]
        }

        let bytes = capture.bytes
        let base = bytes.baseAddress!
        var offset = 0
        while offset < bytes.count {
            let nl = memchr(base + offset, 0x0A, bytes.count - offset)
            let end = nl.map { UnsafeRawPointer($0) - base } ?? bytes.count
            let line = UnsafeRawBufferPointer(start: base + offset, count: end - offset)
            offset = end + 1
            if libraryDecoders {
                guard case .success(let l) = libReader.read(line, { $0 }), let b = libFast.scan(l.payload) else { fail("undecodable line") }
                emit(&producer, signal: signal(l.topic), count: b.count, t0: b.t0, hz: b.hz, scale: b.scale,
                     x: libFast.x, y: libFast.y, z: libFast.z)
                samples += b.count
            } else {
                guard case .success(let l) = reader.read(line, { $0 }), let b = fast.scan(l.payload), !b.explicitTimes else { fail("undecodable line") }
                emitProto(&producer, signal: signal(l.topic), count: b.count, t0: b.t0, hz: b.hz, scale: b.scale, fast: fast)
                samples += b.count
            }
        }
        producer.publish()
        shared.finished.store(true, ordering: .releasing)
        let feederCPU = cmb_thread_cpu_ns() - c0
        consumer.join()
        let seconds = Double(cmb_now_ns() - t0) / 1e9
        var counts = IngestCounts()
        counts.samples = Int(consumerRecord.checksum)
        precondition(counts.samples == samples, "the prototype detector did not see every sample")
        return .init(seconds: seconds, feederCPU: Double(feederCPU) / 1e9, consumerCPU: Double(consumerRecord.endNs) / 1e9,
                     counts: counts)
    }

    // CHANGE 4: the producer end is borrowed `inout` once per message (one exclusivity scope) instead of being
    // reached through a class property per sample (`ingestSide.producer.stage(s)`: a dynamic check per sample).
    @inline(__always)
    static func emit(_ p: inout SPSCRing<Sample>.Producer, signal: SignalID, count: Int, t0: Double, hz: Double,
                     scale: Double, x: DoubleScratch, y: DoubleScratch, z: DoubleScratch) {
        for i in 0..<count {
            stage(&p, Sample(signal: signal, time: t0 + Double(i) / hz,
                             x: Float(x[i] * scale), y: Float(y[i] * scale), z: Float(z[i] * scale)))
        }
        p.publish()
    }

    @inline(__always)
    static func emitProto(_ p: inout SPSCRing<Sample>.Producer, signal: SignalID, count: Int, t0: Double, hz: Double,
                          scale: Double, fast: ProtoAccelFastPath) {
        for i in 0..<count {
            stage(&p, Sample(signal: signal, time: t0 + Double(i) / hz,
                             x: Float(fast.x[i] * scale), y: Float(fast.y[i] * scale), z: Float(fast.z[i] * scale)))
        }
        p.publish()
    }

    /// Lossless backpressure, as IngestPipeline's `.wait`.
    @inline(__always)
    static func stage(_ p: inout SPSCRing<Sample>.Producer, _ s: Sample) {
        if p.stage(s) { return }
        p.publish()
        var spins = 0
        while !p.stage(s) {
            spins += 1
            if spins < 64 { continue }
            if spins < 1024 { sched_yield() } else { usleep(50) }
        }
    }
}
