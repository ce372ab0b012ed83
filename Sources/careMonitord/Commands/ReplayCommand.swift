import Anomaly
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord replay --config FILE [--state-dir DIR] [--speed max|N] CAPTURE…`: feeds captured messages
/// through the same decoders, ring and detectors as the daemon, with a virtual clock driven by each line's `tst`.
/// stdout: one JSON event per line; stderr: problems, then (last line) the JSON summary. Never notifies anyone.
enum ReplayCommand {
    static let usage = "careMonitord replay --config FILE [--state-dir DIR] [--speed max|N] CAPTURE…"
    static let malformedReportLimit = 20

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "replay", args, valued: ["config", "state-dir", "speed"], flags: ["quiet"])
        let config = try loadConfiguration(try a.required("config"))
        let files = a.positional
        guard !files.isEmpty else {
            throw CommandError(exitCode: ExitCode.usage, message: "replay: no capture file given\nusage: \(usage)")
        }
        var speed: Double?
        if let s = a.value("speed"), s != "max" {
            guard let v = Double(s), v > 0, v.isFinite else {
                throw CommandError(exitCode: ExitCode.usage, message: "replay: --speed must be \"max\" or a positive number (1 = real time), not \"\(s)\"")
            }
            speed = v
        }
        for f in files where access(f, R_OK) != 0 {
            throw CommandError(exitCode: ExitCode.noInput, message: "replay: cannot read capture \(f): \(String(cString: strerror(errno)))")
        }
        if let dir = a.value("state-dir") { try ensureDirectory(dir) }

        let routing = try makeRouting(config)
        let logger = Logger(label: "replay", minimumLevel: a.flag("quiet") ? .error : .warning)
        let start = CaptureReplay.monotonicSeconds()
        let pipeline = IngestPipeline(routing: routing, backpressure: .wait, logger: logger)
        let engine = DetectorEngine()
        let consumer = OSThread(name: "cm-detect") { [pipeline, engine] in
            pipeline.runConsumer(engine)
        }
        var reported = 0
        let replay = CaptureReplay(pipeline: pipeline, speed: speed, showProgress: FileOutput.standardError.isTerminal) { file, line, problem in
            reported += 1
            if reported <= malformedReportLimit {
                printError("\(file):\(line): \(problem); line skipped")
            } else if reported == malformedReportLimit + 1 {
                printError("replay: more malformed lines; only the count is reported from here on")
            }
        }
        let malformed: Int
        do {
            malformed = try replay.feed(files: files)
        } catch {
            pipeline.finish()
            consumer.join()
            throw CommandError(exitCode: ExitCode.noInput, message: "replay: \(error)")
        }
        consumer.join()
        let wall = CaptureReplay.monotonicSeconds() - start
        FileOutput.standardOutput.flush()

        let c = pipeline.counts
        var summary = ReplaySummary()
        summary.messages = c.messages
        summary.malformed = malformed
        summary.unmatched = c.unmatched
        summary.rejected = c.rejected
        summary.readings = c.readings
        summary.samples = c.samples
        summary.dropped = c.dropped
        summary.wallSeconds = wall
        for r in pipeline.rejections {
            printError("replay: source \(r.source) rejected \(r.count) message(s); last: \(r.lastReason)")
        }
        printError(summary.json)
        return ExitCode.ok
    }

    static func ensureDirectory(_ path: String) throws(CommandError) {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw CommandError(exitCode: ExitCode.usage, message: "--state-dir \(path) exists and is not a directory")
            }
            return
        }
        // mkdir -p
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw CommandError(exitCode: ExitCode.ioError, message: "cannot create state directory \(path): \(String(cString: strerror(errno)))")
            }
        }
    }
}
