import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// Figure 4: replay throughput of a generated wearable capture (CaptureReplay → IngestPipeline → DetectorEngine,
/// in process, lossless backpressure), beside the C scan floor over the same bytes; and the C rolling-statistics
/// reference over the capture's magnitudes.
enum ReplayBenchmark {
    static func run(_ options: Options) {
        let files = AccelCaptureFiles(directory: options.captureDir, samples: options.samples)
        let generated = files.ensure(directory: options.captureDir)
        let passes = 3
        if options.only.contains("replay") {
            let capture: MappedFile
            do { capture = try MappedFile(path: files.capturePath) } catch { fail("\(error)") }
            var line = JSONLine(bench: "replay_capture")
            line.add("path", files.capturePath)
            line.add("bytes", capture.bytes.count)
            line.add("samples", files.samples)
            line.add("devices", files.devices)
            line.add("generate_s", generated)
            line.emit()
            // Touch every page once so that neither side pays for page faults or disk.
            _ = cmb_accel_scan(capture.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), capture.bytes.count)

            if options.only.contains("null_consumer") {   // the pipeline with a consumer that only counts
                var counting = Repeats()
                var feeder = Double.infinity
                for _ in 0..<passes {
                    let p = replayOnceNullConsumer(files.capturePath)
                    counting.append(Double(files.samples) / p.seconds)
                    feeder = min(feeder, p.feederCPU)
                }
                var line = JSONLine(bench: "replay", impl: "swift_replay_pipeline_counting_consumer")
                line.add("samples_per_s_best", counting.best)
                line.add("samples_per_s_median", counting.median)
                line.add("feeder_cpu_ns_per_sample", feeder * 1e9 / Double(files.samples))
                line.emit()
                return
            }
            if options.only.contains("reader_only") {   // for profiling the line reader and accel scan alone
                var reader = TimedRepeats()
                for _ in 0..<passes { reader.append(readerOnce(capture, expected: files.samples), items: Double(files.samples)) }
                reader.emit(bench: "replay", impl: "swift_line_reader_and_fast_path_only")
                return
            }
            var swift = Repeats(), allocs: UInt64 = 0
            var bestPass: ReplayPass?
            note("replay: \(passes) passes over \(files.samples) samples")
            for _ in 0..<passes {
                let a0 = cm_alloc_count()
                let pass = replayOnce(files.capturePath)
                allocs = cm_alloc_count() - a0
                let counts = pass.counts
                guard counts.samples == files.samples, counts.rejected == 0, counts.dropped == 0 else {
                    fail("replay counted \(counts) for a capture of \(files.samples) samples")
                }
                swift.append(Double(files.samples) / pass.seconds)
                if bestPass.map({ pass.seconds < $0.seconds }) ?? true { bestPass = pass }
            }
            let n = Double(files.samples)
            if options.only.contains("replay_pipeline_only") {   // for profiling the pipeline alone
                note("replay_pipeline_only: best \(swift.best) samples/s; feeder \(bestPass!.feederCPU) s, detector \(bestPass!.consumerCPU) s CPU")
                return
            }
            // The detector thread's own work, alone: DetectorEngine.process over the capture's samples (4 signals).
            var detector = TimedRepeats()
            for _ in 0..<passes { detector.append(detectorOnce(samples: files.samples), items: n) }
            var reader = TimedRepeats(), c = TimedRepeats()
            for _ in 0..<passes {
                reader.append(readerOnce(capture, expected: files.samples), items: n)
                let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
                let r = cmb_accel_scan(capture.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), capture.bytes.count)
                let timing = Timing(wall: Double(cmb_now_ns() - t0) / 1e9, cpu: Double(cmb_thread_cpu_ns() - c0) / 1e9)
                guard Int(r.samples) == files.samples else { fail("the C scan found \(r.samples) samples, expected \(files.samples)") }
                c.append(timing, items: n)
            }
            var s = JSONLine(bench: "replay", impl: "swift_replay_pipeline")
            s.add("samples_per_s_best", swift.best)
            s.add("samples_per_s_median", swift.median)
            s.add("ns_per_sample_best", 1e9 / swift.best)
            s.add("feeder_cpu_ns_per_sample", bestPass!.feederCPU * 1e9 / n)
            s.add("detector_cpu_ns_per_sample", bestPass!.consumerCPU * 1e9 / n)
            s.add("allocs_per_sample", Double(allocs) / n, digits: 4)
            s.add("passes", passes)
            s.add("goal_samples_per_s", 20_000_000)
            s.emit()
            detector.emit(bench: "replay", impl: "swift_detector_engine_process_only")
            reader.emit(bench: "replay", impl: "swift_line_reader_and_fast_path_only")
            c.emit(bench: "replay", impl: "c_accel_scan")
            var ratio = JSONLine(bench: "replay", impl: "swift_replay_pipeline/c_accel_scan")
            ratio.add("ratio_best", swift.best / c.wall.best)
            ratio.add("goal_ratio", 0.4)
            ratio.emit()
        }
        if options.only.contains("rolling") { rolling(files, passes: passes) }
    }

    /// A consumer that only counts (the ring and decoders without detectors).
    final class CountingProcessor: SampleProcessor, @unchecked Sendable {
        var samples = 0
        var checksum: Float = 0
        func process(_ sample: Sample) { samples += 1; checksum += sample.x }
        func advance(to time: Double) {}
    }

    static func replayOnceNullConsumer(_ path: String) -> ReplayPass {
        let processor = CountingProcessor()
        return replayOnce(path, pipeline: IngestPipeline(routing: WearableAccelRouting(), backpressure: .wait),
                          processor: processor) { processor.samples }
    }

    static func replayOnce(_ path: String) -> ReplayPass {
        let pipeline = IngestPipeline(routing: WearableAccelRouting(), backpressure: .wait)
        let engine = makeBenchmarkDetectorEngine(signals: pipeline.registry)
        return replayOnce(path, pipeline: pipeline, processor: engine) { engine.samples }
    }

    /// One replay as `careMonitord replay` runs it: the feeder on this thread, `processor` on a consumer thread.
    static func replayOnce<P: SampleProcessor & SendableMetatype>(_ path: String, pipeline: IngestPipeline, processor: P,
                                               consumed: () -> Int) -> ReplayPass {
        let engine = Handoff(processor)
        let consumerCPU = RunRecord()
        let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
        let consumer = OSThread(name: "replay-detector") {
            let c0 = cmb_thread_cpu_ns()
            pipeline.runConsumer(engine.value)
            consumerCPU.endNs = cmb_thread_cpu_ns() - c0
        }
        let replay = CaptureReplay(pipeline: pipeline) { file, line, problem in note("\(file):\(line): \(problem)") }
        do {
            let malformed = try replay.feed(files: [path])
            if malformed > 0 { fail("\(malformed) malformed lines in \(path)") }
        } catch { fail("\(error)") }
        let feederCPU = cmb_thread_cpu_ns() - c0
        consumer.join()
        let seconds = Double(cmb_now_ns() - t0) / 1e9
        precondition(consumed() == pipeline.counts.samples, "the consumer did not see every sample")
        return ReplayPass(seconds: seconds, feederCPU: Double(feederCPU) / 1e9, consumerCPU: Double(consumerCPU.endNs) / 1e9,
                          counts: pipeline.counts)
    }

    struct ReplayPass {
        var seconds: Double
        var feederCPU: Double
        var consumerCPU: Double
        var counts: IngestCounts
    }

    /// DetectorEngine.process on one thread over synthetic accel samples of 4 wrist signals at 200 Hz.
    static func detectorOnce(samples: Int) -> Timing {
        let registry = SignalRegistry()
        let ids = (0..<4).map { d in
            registry.id(device: "band\(d)", channel: nil, kind: .acceleration, topic: AccelTrafficGenerator.topic(device: d),
                        sourceIndex: 0, placement: "wrist")
        }
        let engine = makeBenchmarkDetectorEngine(signals: registry)
        // Noise drawn beforehand (4096 values, cycled) so that the loop times the engine, not the random source.
        var random = SplitMix(state: 11)
        let noise = (0..<4096).map { _ in Float(random.gaussian(sigma: 0.03)) }
        // Samples are made 4096 at a time into a buffer and handed over as one stretch, as the pipeline's detector
        // thread hands over what it drained from the ring; only the engine's calls are timed.
        let stretch = UnsafeMutableBufferPointer<Sample>.allocate(capacity: 4096)
        defer { stretch.deallocate() }
        var wall: UInt64 = 0, cpu: UInt64 = 0
        noise.withUnsafeBufferPointer { noise in
            var i = 0
            while i < samples {
                let n = min(4096, samples - i)
                for m in 0..<n {
                    let s = i + m
                    let k = s / 400, d = (s / 100) & 3, j = s % 100
                    let t = AccelTrafficGenerator.batchTime(k) + Double(j) / AccelTrafficGenerator.hz
                    let x = noise[s & 4095], z = 0.05 + noise[(s &+ 1) & 4095]
                    stretch[m] = Sample(signal: ids[d], time: t, x: x, y: -1, z: z)
                }
                let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
                engine.process(UnsafeBufferPointer(rebasing: stretch[0..<n]))
                wall += cmb_now_ns() - t0
                cpu += cmb_thread_cpu_ns() - c0
                i += n
            }
        }
        let timing = Timing(wall: Double(wall) / 1e9, cpu: Double(cpu) / 1e9)
        precondition(engine.samples == samples)
        return timing
    }

    /// The feeder's decoding alone (capture line + accel fast path, no routing, ring or detector): where the time goes.
    static func readerOnce(_ capture: MappedFile, expected: Int) -> Timing {
        let reader = CaptureLineReader()
        let fast = AccelFastPath()
        var samples = 0
        var checksum = 0.0
        let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
        let bytes = capture.bytes
        let base = bytes.baseAddress!
        var offset = 0
        while offset < bytes.count {
            let nl = memchr(base + offset, 0x0A, bytes.count - offset)
            let end = nl.map { UnsafeRawPointer($0) - base } ?? bytes.count
            _ = reader.read(UnsafeRawBufferPointer(start: base + offset, count: end - offset)) { line in
                if let batch = fast.scan(line.payload) {
                    samples += batch.count
                    checksum += fast.x[0] + fast.y[batch.count - 1]
                }
            }
            offset = end + 1
        }
        let timing = Timing(wall: Double(cmb_now_ns() - t0) / 1e9, cpu: Double(cmb_thread_cpu_ns() - c0) / 1e9)
        withUnsafePointer(to: &checksum) { cmb_black_hole($0) }
        guard samples == expected else { fail("the reader decoded \(samples) samples, expected \(expected)") }
        return timing
    }

    static func rolling(_ files: AccelCaptureFiles, passes: Int) {
        let n = files.samples
        let values = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { values.deallocate() }
        let fd = open(files.magnitudesPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { fail("cannot read \(files.magnitudesPath)") }
        var off = 0
        while off < n * 8 {
            let r = read(fd, UnsafeMutableRawPointer(values) + off, n * 8 - off)
            guard r > 0 else { fail("short read of \(files.magnitudesPath)") }
            off += r
        }
        close(fd)
        note("rolling: \(passes) passes over \(n) doubles")
        var c = TimedRepeats()
        for _ in 0..<passes {
            let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
            let r = cmb_rolling_stats(values, n, 256)
            let timing = Timing(wall: Double(cmb_now_ns() - t0) / 1e9, cpu: Double(cmb_thread_cpu_ns() - c0) / 1e9)
            precondition(Int(r.samples) == n && r.checksum.isFinite, "the rolling reference failed")
            c.append(timing, items: Double(n))
        }
        c.emit(bench: "rolling_stats", impl: "c_mean_var_min_max_ewma", extra: ("window", "256"))
    }
}
