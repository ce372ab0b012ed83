import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// Figure 5 (issue "Detectors" §1 and §4), on the generated accelerometer capture of the replay figure:
/// - `rolling_stats` / `swift_rolling_statistics`: Anomaly's `RollingWindow` (mean, sample variance, min, max,
///   EWMA over a window of 256, every output of every sample folded into a checksum) beside the C reference
///   `cmb_rolling_stats` over the same magnitudes in the same run, interleaved pass by pass; the ratio of their
///   times per sample (goal ≤ 1.2) and the allocations of the Swift passes (goal 0).
/// - `detector_engine_accel`: the capture's samples decoded once (through the real pipeline), then fed pre-decoded
///   to a `DetectorEngine` with every family enabled at its defaults; throughput as a fraction of the C statistics
///   reference's (goal ≥ 0.4) and allocations per sample in steady state (goal 0).
///
/// Selected by `--only rolling` (both), `stats` or `detectors` (one each).
enum StatisticsBenchmark {
    static let window = 256

    static func run(_ options: Options) {
        let files = AccelCaptureFiles(directory: options.captureDir, samples: options.samples)
        _ = files.ensure(directory: options.captureDir)
        let n = files.samples
        let magnitudes = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { magnitudes.deallocate() }
        readMagnitudes(files.magnitudesPath, into: magnitudes, count: n)
        let passes = max(3, options.repeats)
        let wantStats = options.only.contains("rolling") || options.only.contains("stats")
        let wantEngine = options.only.contains("rolling") || options.only.contains("detectors")
        var c = TimedRepeats()
        var swift = TimedRepeats()
        var cChecksum = 0.0, swiftChecksum = 0.0, swiftAllocs: UInt64 = 0
        note("statistics: \(passes) interleaved passes (C, Swift) over \(n) magnitudes, window \(window)")
        for _ in 0..<passes {
            let (cTiming, cSum) = cPass(magnitudes, n)
            c.append(cTiming, items: Double(n))
            cChecksum = cSum
            guard wantStats else { continue }
            var stats = RollingWindow(capacity: window)   // its storage is allocated here, before the count
            let a0 = cmb_alloc_count_thread()
            let (sTiming, sSum) = swiftPass(&stats, magnitudes, n)
            swiftAllocs = cmb_alloc_count_thread() - a0
            swift.append(sTiming, items: Double(n))
            swiftChecksum = sSum
        }
        if wantStats {
            c.emit(bench: "rolling_stats", impl: "c_mean_var_min_max_ewma_same_run", extra: ("window", "\(window)"))
            var line = JSONLine(bench: "rolling_stats", impl: "swift_rolling_statistics")
            line.add("samples_per_s_best", swift.wall.best)
            line.add("samples_per_s_median", swift.wall.median)
            line.add("samples_per_cpu_s_best", swift.cpu.best)
            line.add("ns_per_sample_best", 1e9 / swift.wall.best)
            line.add("window", window)
            line.add("allocs_per_sample", Double(swiftAllocs) / Double(n), digits: 4)
            line.add("allocs_total", swiftAllocs)
            // The checksums differ only by rounding (C removes with Welford's update, Swift with shifted sums).
            line.add("checksum_relative_difference", abs(swiftChecksum - cChecksum) / max(abs(cChecksum), 1), digits: 3)
            line.add("passes", passes)
            line.emit()
            var ratio = JSONLine(bench: "rolling_stats", impl: "swift/c")
            ratio.add("time_ratio_best", swift.wall.best > 0 ? c.wall.best / swift.wall.best : .nan)
            ratio.add("time_ratio_median", c.wall.median / swift.wall.median)
            ratio.add("cpu_time_ratio_best", c.cpu.best / swift.cpu.best)
            ratio.add("goal_time_ratio_max", 1.2)
            ratio.emit()
        }
        if wantEngine { engine(files, cReference: c, passes: passes) }
    }

    static func readMagnitudes(_ path: String, into values: UnsafeMutablePointer<Double>, count n: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { fail("cannot read \(path)") }
        var off = 0
        while off < n * 8 {
            let r = read(fd, UnsafeMutableRawPointer(values) + off, n * 8 - off)
            guard r > 0 else { fail("short read of \(path)") }
            off += r
        }
        close(fd)
    }

    static func cPass(_ values: UnsafeMutablePointer<Double>, _ n: Int) -> (Timing, Double) {
        let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
        let r = cmb_rolling_stats(values, n, UInt32(window))
        let timing = Timing(wall: Double(cmb_now_ns() - t0) / 1e9, cpu: Double(cmb_thread_cpu_ns() - c0) / 1e9)
        precondition(Int(r.samples) == n && r.checksum.isFinite, "the rolling reference failed")
        return (timing, r.checksum)
    }

    /// The same outputs as the C reference, per sample, into the same kind of checksum. (The C reference allocates
    /// its window inside its timed call; the Swift window is allocated just before: 8 allocations, ~1 µs.)
    @inline(never)
    static func swiftPass(_ stats: inout RollingWindow, _ values: UnsafeMutablePointer<Double>, _ n: Int) -> (Timing, Double) {
        let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
        var check = 0.0
        var time = 0.0
        for i in 0..<n {
            stats.add(values[i], at: time)
            time += 0.005
            check += stats.mean + stats.variance + stats.min + stats.max + stats.ewma
        }
        let timing = Timing(wall: Double(cmb_now_ns() - t0) / 1e9, cpu: Double(cmb_thread_cpu_ns() - c0) / 1e9)
        withUnsafePointer(to: &check) { cmb_black_hole($0) }
        return (timing, check)
    }

    // MARK: Detector engine, pre-decoded accelerometer samples

    /// Takes the pipeline's samples on the consumer thread into a preallocated buffer.
    final class SampleRecorder: SampleProcessor, @unchecked Sendable {
        // @unchecked Sendable: written by the consumer thread only, read after joining it.
        let buffer: UnsafeMutablePointer<Sample>
        let capacity: Int
        var count = 0
        init(capacity: Int) { self.capacity = capacity; buffer = .allocate(capacity: capacity) }
        deinit { buffer.deallocate() }
        func process(_ sample: Sample) {
            precondition(count < capacity, "more samples than the capture holds")
            buffer[count] = sample
            count += 1
        }
        func advance(to time: Double) {}
    }

    static func engine(_ files: AccelCaptureFiles, cReference: TimedRepeats, passes: Int) {
        // Decode once, through the same routing, decoders and ring as replay: the samples and the signal registry
        // the engine resolves its plans from.
        let pipeline = IngestPipeline(routing: WearableAccelRouting(), backpressure: .wait)
        let recorder = Handoff(SampleRecorder(capacity: files.samples))
        let consumer = OSThread(name: "stats-decode") { pipeline.runConsumer(recorder.value) }
        let replay = CaptureReplay(pipeline: pipeline) { file, line, problem in note("\(file):\(line): \(problem)") }
        do { _ = try replay.feed(files: [files.capturePath]) } catch { fail("\(error)") }
        consumer.join()
        let samples = recorder.value.buffer
        let n = recorder.value.count
        guard n == files.samples else { fail("decoded \(n) samples from a capture of \(files.samples)") }
        let warmUp = n / 20
        let measured = n - warmUp
        note("detector engine: \(passes) passes, \(warmUp) warm-up + \(measured) measured pre-decoded samples, every family enabled")
        var timings = TimedRepeats()
        var allocs: UInt64 = 0, emitted = 0
        var enabled = 0
        for _ in 0..<passes {
            let engine = makeBenchmarkDetectorEngine(signals: pipeline.registry)
            enabled = engine.detectors.count
            _ = feed(engine, samples, warmUp)
            let a0 = cmb_alloc_count_thread()
            let timing = feed(engine, samples + warmUp, measured)
            allocs = cmb_alloc_count_thread() - a0
            precondition(engine.samples == n, "the engine did not see every sample")
            emitted = engine.context.emitted
            timings.append(timing, items: Double(measured))
        }
        timings.emit(bench: "detector_engine_accel", impl: "swift_detector_engine_predecoded")
        var line = JSONLine(bench: "detector_engine_accel", impl: "swift_detector_engine/c_rolling_stats")
        line.add("throughput_ratio_best", timings.wall.best / cReference.wall.best)
        line.add("throughput_ratio_cpu_best", timings.cpu.best / cReference.cpu.best)
        line.add("goal_throughput_ratio_min", 0.4)
        line.add("allocs_per_sample", Double(allocs) / Double(measured), digits: 4)
        line.add("allocs_total", allocs)
        line.add("goal_allocs_per_sample", 0)
        line.add("samples", measured)
        line.add("detections_emitted", emitted)
        line.add("families", DetectorRegistry.names.joined(separator: ","))
        line.add("families_enabled", enabled)
        line.emit()
    }

    /// Feeds the engine as the pipeline's detector thread does: stretches of up to 4096 samples (what one drain of
    /// the ring hands over).
    @inline(never)
    static func feed(_ engine: DetectorEngine, _ samples: UnsafeMutablePointer<Sample>, _ count: Int) -> Timing {
        let t0 = cmb_now_ns(), c0 = cmb_thread_cpu_ns()
        var i = 0
        while i < count {
            let n = min(4096, count - i)
            engine.process(UnsafeBufferPointer(start: samples + i, count: n))
            i += n
        }
        return Timing(wall: Double(cmb_now_ns() - t0) / 1e9, cpu: Double(cmb_thread_cpu_ns() - c0) / 1e9)
    }
}
