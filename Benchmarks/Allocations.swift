import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest

/// Figure 3: heap allocations per sample from payload to ring, in steady state, counted by the malloc interposer
/// of BenchmarkC: on the feeder thread (the one calling `ingest`, as the MQTT callback thread does) and process-wide
/// (feeder + the detector thread running a `DetectorEngine` + anything else).
enum AllocationBenchmark {
    /// Proves the interposer sees the Swift runtime's allocations: one `[Int]` of 1000 elements is one malloc.
    static func verifyInterposer() {
        let before = cmb_alloc_count_thread()
        let array = [Int](repeating: 7, count: 1000)
        array.withUnsafeBufferPointer { cmb_black_hole($0.baseAddress) }
        let after = cmb_alloc_count_thread()
        var line = JSONLine(bench: "alloc_interposer")
        line.add("malloc_is_interposed", cmb_alloc_interposed() != 0)
        line.add("allocs_for_one_swift_array", after - before)
        line.emit()
        if cmb_alloc_interposed() == 0 || after - before != 1 {
            fail("the malloc interposer does not see Swift's allocations (\(after - before) counted for one Array)")
        }
    }

    /// Pre-generated messages: `batches` accel batches for each of 4 devices, payload bytes back to back.
    struct Messages {
        var topics: [[UInt8]] = []
        var payload: [UInt8] = []
        var spans: [(topic: Int, offset: Int, count: Int)] = []

        init(batches: Int, devices: Int = 4) {
            var generator = AccelTrafficGenerator()
            topics = (0..<devices).map { Array(AccelTrafficGenerator.topic(device: $0).utf8) }
            for k in 0..<batches {
                for d in 0..<devices {
                    let start = payload.count
                    generator.appendPayload(batch: k, to: &payload)
                    spans.append((d, start, payload.count - start))
                }
            }
        }
    }

    static func run(_ options: Options) {
        let messages = Messages(batches: 64)
        let warmUp = 4_000
        let measured = options.scaled(40_000)
        note("alloc: \(warmUp) warm-up + \(measured) measured messages of \(AccelTrafficGenerator.perBatch) samples")
        let pipeline = IngestPipeline(routing: WearableAccelRouting(), backpressure: .wait)
        let engine = Handoff(makeBenchmarkDetectorEngine(signals: pipeline.registry))
        let consumer = OSThread(name: "alloc-detector") { pipeline.runConsumer(engine.value) }

        var feederAllocs: UInt64 = 0, processAllocs: UInt64 = 0, processBytes: UInt64 = 0
        var wallNs: UInt64 = 0, feederCPUNs: UInt64 = 0
        messages.payload.withUnsafeBytes { payload in
            func feed(_ count: Int, from first: Int) {
                var m = first
                for _ in 0..<count {
                    let span = messages.spans[m % messages.spans.count]
                    messages.topics[span.topic].withUnsafeBytes { topic in
                        pipeline.ingest(topic: topic, payload: UnsafeRawBufferPointer(rebasing: payload[span.offset..<(span.offset + span.count)]),
                                        arrival: 0)
                    }
                    m += 1
                }
            }
            feed(warmUp, from: 0)
            let thread0 = cmb_alloc_count_thread(), process0 = cm_alloc_count(), bytes0 = cmb_alloc_bytes()
            let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
            feed(measured, from: warmUp)
            wallNs = cmb_now_ns() - t0
            feederCPUNs = cmb_thread_cpu_ns() - c0
            feederAllocs = cmb_alloc_count_thread() - thread0
            processAllocs = cm_alloc_count() - process0
            processBytes = cmb_alloc_bytes() - bytes0
        }
        pipeline.finish()
        consumer.join()
        let counts = pipeline.counts
        let samples = Double(measured * AccelTrafficGenerator.perBatch)
        precondition(engine.value.samples == counts.samples, "the detector did not see every sample")
        for (scope, n) in [("feeder_thread", feederAllocs), ("process", processAllocs)] {
            var line = JSONLine(bench: "ingest_allocations", impl: "swift")
            line.add("scope", scope)
            line.add("allocs_per_sample", Double(n) / samples, digits: 4)
            line.add("allocs_per_message", Double(n) / Double(measured), digits: 4)
            line.add("allocs_total", n)
            if scope == "process" { line.add("bytes_total", processBytes) }
            line.add("messages", measured)
            line.add("samples_per_message", AccelTrafficGenerator.perBatch)
            line.add("rejected_messages", counts.rejected)
            line.add("goal_allocs_per_sample", 0)
            line.emit()
        }
        // The same window's speed: payload → fast path → ring → detector, no capture parsing (MQTT's shape).
        var speed = JSONLine(bench: "ingest_payloads", impl: "swift")
        speed.add("samples_per_s", samples / (Double(wallNs) / 1e9))
        speed.add("feeder_cpu_ns_per_sample", Double(feederCPUNs) / samples)
        speed.add("messages", measured)
        speed.emit()
    }
}
