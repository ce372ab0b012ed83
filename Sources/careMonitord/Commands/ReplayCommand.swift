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

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "replay", args, valued: ["config", "state-dir", "speed"])
        let config = try loadConfiguration(try a.required("config"))
        guard !a.positional.isEmpty else {
            throw CommandError(exitCode: ExitCode.usage, message: "replay: no capture file given\nusage: \(usage)")
        }
        var speed: Double?
        if let s = a.value("speed"), s != "max" {
            guard let v = Double(s), v > 0, v.isFinite else {
                throw CommandError(exitCode: ExitCode.usage, message: "replay: --speed must be \"max\" or a positive number (1 = real time), not \"\(s)\"")
            }
            speed = v
        }
        let out = FileOutput.standardOutput
        // Detections and escalation's lines are streamed as they happen, in time order (escalation runs on the
        // capture's clock on the detector thread, which waits for each of its steps).
        let result = try Replay.run(config: config, files: a.positional, stateDirectory: a.value("state-dir"), speed: speed,
                                    notifiers: .recording, events: { out.writeLine($0) })
        out.flush()
        let empty = result.summary.messages == 0
        if empty {
            printError("replay: no valid capture line in \(a.positional.joined(separator: ", ")): expected what mosquitto_sub -F %j (or %J) prints, one message a line")
        }
        printError(result.summary.json)  // the last line on stderr, always
        return empty ? ExitCode.dataError : ExitCode.ok
    }
}

/// Detections gathered on the detector thread, read after it was joined.
final class DetectionCollector: @unchecked Sendable {
    // @unchecked Sendable: appended to by the detector thread only; read by the main thread after joining it.
    private(set) var detections: [Detection] = []
    func append(_ d: Detection) { detections.append(d) }
}

/// One replay of captures through a config's pipeline and detectors: shared by `replay`, `evaluate` and `learn`.
enum Replay {
    static let malformedReportLimit = 20

    /// Replays `files` through a home built from `config` on the capture's clock. `events` gets every event line as
    /// it happens (detector thread); `onDetection` each detection. Problems go to stderr; the summary is returned
    /// (the caller prints it). Loads and saves learned state when `stateDirectory` is given.
    static func run(config: Configuration, files: [String], stateDirectory: String?, speed: Double? = nil,
                    progress: Bool = FileOutput.standardError.isTerminal, notifiers: HomeNotifiers = .none,
                    events: @escaping @Sendable (String) -> Void = { _ in },
                    onDetection: @escaping (Detection) -> Void = { _ in },
                    quietTrace: QuietTrace? = nil) throws(CommandError) -> (summary: ReplaySummary, lastSampleTime: Double) {
        for f in files where access(f, R_OK) != 0 {
            throw CommandError(exitCode: ExitCode.noInput, message: "replay: cannot read capture \(f): \(String(cString: strerror(errno)))")
        }
        if let dir = stateDirectory { try ensureDirectory(dir) }
        // Rejections are reported per source at the end; the pipeline logs only errors here.
        let logger = Logger(label: "replay", minimumLevel: .error)
        let home = try MonitoredHome.build(config: config, clock: .capture, notifiers: notifiers,
                                           stateDirectory: stateDirectory, logger: logger, events: events,
                                           onDetection: onDetection)
        home.detectors.routine?.quietTrace = quietTrace
        let consumer = OSThread(name: "cm-detect") { [home] in home.runDetectors() }
        var reported = 0
        var replay = CaptureReplay(pipeline: home.pipeline, speed: speed, showProgress: progress) { file, line, problem in
            reported += 1
            if reported <= malformedReportLimit {
                printError("\(file):\(line): \(problem); line skipped")
            } else if reported == malformedReportLimit + 1 {
                printError("replay: more malformed lines; only the count is reported from here on")
            }
        }
        replay.divert = { topic, payload, time in home.takeCommand(topic, payload, time) }
        let malformed: Int
        // wallSeconds runs from opening the first capture (the contract), not from reading the config and setting
        // up the detectors.
        let start = CaptureReplay.monotonicSeconds()
        do {
            malformed = try replay.feed(files: files)
        } catch {
            home.finishInput()
            consumer.join()
            throw CommandError(exitCode: ExitCode.noInput, message: "replay: \(error)")
        }
        consumer.join()
        home.finishCapture()
        let wall = CaptureReplay.monotonicSeconds() - start
        try home.saveLearnedState()

        let c = home.pipeline.counts
        var summary = ReplaySummary()
        summary.messages = c.messages + home.acksTaken.load(ordering: .relaxed)
        summary.malformed = malformed
        summary.unmatched = c.unmatched
        summary.rejected = c.rejected
        summary.readings = c.readings
        summary.samples = c.samples
        summary.dropped = c.dropped
        summary.wallSeconds = wall
        for r in home.pipeline.rejections {
            printError("replay: source \(r.source) rejected \(r.count) message(s); last: \(r.lastReason)")
        }
        return (summary, home.detectors.latestTime)
    }

    static func ensureDirectory(_ path: String) throws(CommandError) {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw CommandError(exitCode: ExitCode.usage, message: "--state-dir \(path) exists and is not a directory")
            }
            return
        }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw CommandError(exitCode: ExitCode.ioError, message: "cannot create state directory \(path): \(String(cString: strerror(errno)))")
            }
        }
    }
}
