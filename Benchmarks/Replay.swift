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

            var swift = Repeats(), allocs: UInt64 = 0
            note("replay: \(passes) passes over \(files.samples) samples")
            for _ in 0..<passes {
                let a0 = cm_alloc_count()
                let (seconds, counts) = replayOnce(files.capturePath)
                allocs = cm_alloc_count() - a0
                guard counts.samples == files.samples, counts.rejected == 0, counts.dropped == 0 else {
                    fail("replay counted \(counts) for a capture of \(files.samples) samples")
                }
                swift.append(Double(files.samples) / seconds)
            }
            var reader = Repeats()
            for _ in 0..<passes { reader.append(Double(files.samples) / readerOnce(capture)) }
            var c = Repeats()
            for _ in 0..<passes {
                let t0 = cmb_now_ns()
                let r = cmb_accel_scan(capture.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), capture.bytes.count)
                let seconds = Double(cmb_now_ns() - t0) / 1e9
                guard Int(r.samples) == files.samples else { fail("the C scan found \(r.samples) samples, expected \(files.samples)") }
                c.append(Double(r.samples) / seconds)
            }
            var s = JSONLine(bench: "replay", impl: "swift_replay_pipeline")
            s.add("samples_per_s_best", swift.best)
            s.add("samples_per_s_median", swift.median)
            s.add("ns_per_sample_best", 1e9 / swift.best)
            s.add("allocs_per_sample", Double(allocs) / Double(files.samples), digits: 4)
            s.add("passes", passes)
            s.add("goal_samples_per_s", 20_000_000)
            s.emit()
            var r = JSONLine(bench: "replay", impl: "swift_line_reader_and_fast_path_only")
            r.add("samples_per_s_best", reader.best)
            r.add("samples_per_s_median", reader.median)
            r.add("ns_per_sample_best", 1e9 / reader.best)
            r.add("passes", passes)
            r.emit()
            var cl = JSONLine(bench: "replay", impl: "c_accel_scan")
            cl.add("samples_per_s_best", c.best)
            cl.add("samples_per_s_median", c.median)
            cl.add("ns_per_sample_best", 1e9 / c.best)
            cl.add("passes", passes)
            cl.emit()
            var ratio = JSONLine(bench: "replay", impl: "swift_replay_pipeline/c_accel_scan")
            ratio.add("ratio_best", swift.best / c.best)
            ratio.add("goal_ratio", 0.4)
            ratio.emit()
        }
        if options.only.contains("rolling") { rolling(files, passes: passes) }
    }

    /// One replay as `careMonitord replay` runs it: the feeder on this thread, the detector thread consuming.
    static func replayOnce(_ path: String) -> (seconds: Double, counts: IngestCounts) {
        let pipeline = IngestPipeline(routing: WearableAccelRouting(), backpressure: .wait)
        let engine = Handoff(DetectorEngine())
        let t0 = cmb_now_ns()
        let consumer = OSThread(name: "replay-detector") { pipeline.runConsumer(engine.value) }
        let replay = CaptureReplay(pipeline: pipeline) { file, line, problem in note("\(file):\(line): \(problem)") }
        do {
            let malformed = try replay.feed(files: [path])
            if malformed > 0 { fail("\(malformed) malformed lines in \(path)") }
        } catch { fail("\(error)") }
        consumer.join()
        let seconds = Double(cmb_now_ns() - t0) / 1e9
        precondition(engine.value.samples == pipeline.counts.samples, "the detector did not see every sample")
        return (seconds, pipeline.counts)
    }

    /// The feeder's decoding alone (capture line + accel fast path, no routing, ring or detector): where the time goes.
    static func readerOnce(_ capture: MappedFile) -> Double {
        let reader = CaptureLineReader()
        let fast = AccelFastPath()
        var samples = 0
        var checksum = 0.0
        let t0 = cmb_now_ns()
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
        let seconds = Double(cmb_now_ns() - t0) / 1e9
        withUnsafePointer(to: &checksum) { cmb_black_hole($0) }
        return seconds * (samples > 0 ? 1 : .nan)
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
        var c = Repeats()
        for _ in 0..<passes {
            let t0 = cmb_now_ns()
            let r = cmb_rolling_stats(values, n, 256)
            let seconds = Double(cmb_now_ns() - t0) / 1e9
            precondition(Int(r.samples) == n && r.checksum.isFinite, "the rolling reference failed")
            c.append(Double(n) / seconds)
        }
        var line = JSONLine(bench: "rolling_stats", impl: "c_mean_var_min_max_ewma")
        line.add("samples_per_s_best", c.best)
        line.add("samples_per_s_median", c.median)
        line.add("ns_per_sample_best", 1e9 / c.best)
        line.add("window", 256)
        line.add("samples", n)
        line.add("passes", passes)
        line.emit()
    }
}
