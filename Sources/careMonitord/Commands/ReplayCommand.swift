import Anomaly
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord replay --config FILE [--state-dir DIR] [--speed max|N] [--from TIME] [--to TIME] CAPTURE…`: feeds
/// captured messages through the same decoders, ring and detectors as the daemon, with a virtual clock driven by
/// each line's `tst`. stdout: one JSON event per line; stderr: problems, then (last line) the JSON summary. Never
/// notifies anyone. With `--into HOST:PORT` it publishes the messages to that broker instead (at the capture's own
/// pace unless `--speed` says otherwise), so that a live daemon or a Home Assistant install sees a recorded day.
enum ReplayCommand {
    static let usage = "careMonitord replay --config FILE [--state-dir DIR] [--speed max|N] [--from TIME] [--to TIME] [--into HOST:PORT] CAPTURE…"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "replay", args, valued: Set(["config", "state-dir", "speed", "into"]).union(Replay.windowOptions))
        let config = try loadConfiguration(try a.required("config"))
        guard !a.positional.isEmpty else {
            throw CommandError(exitCode: ExitCode.usage, message: "replay: no capture file given\nusage: \(usage)")
        }
        // Into a broker, a recorded day goes at its own pace unless asked otherwise; through the pipeline, at full speed.
        var speed: Double? = a.value("into") != nil ? 1 : nil
        if let s = a.value("speed") {
            if s == "max" { speed = nil } else {
                guard let v = Double(s), v > 0, v.isFinite else {
                    throw CommandError(exitCode: ExitCode.usage, message: "replay: --speed must be \"max\" or a positive number (1 = real time), not \"\(s)\"")
                }
                speed = v
            }
        }
        let window = try Replay.window(a, config: config)
        if let into = a.value("into") {
            return try publish(a.positional, config: config, into: into, speed: speed, window: window)
        }
        let out = FileOutput.standardOutput
        // Detections and escalation's lines are streamed as they happen, in time order (escalation runs on the
        // capture's clock on the detector thread, which waits for each of its steps).
        let result = try Replay.run(config: config, files: a.positional, stateDirectory: a.value("state-dir"), speed: speed,
                                    window: window, notifiers: .recording, events: { out.writeLine($0) })
        out.flush()
        let empty = result.summary.messages == 0
        if empty {
            printError("replay: no valid capture line in \(a.positional.joined(separator: ", ")): expected what mosquitto_sub -F %j (or %J) prints, one message a line")
        }
        printError(result.summary.json)  // the last line on stderr, always
        return empty ? ExitCode.dataError : ExitCode.ok
    }
}

extension ReplayCommand {
    /// `--into HOST:PORT`: publishes each message of the window with its own topic, payload, QoS and retain flag,
    /// paced by its `tst`. The config's broker settings (credentials, TLS, protocol) apply; host and port are these.
    /// stderr's last line: `{"published", "malformed", "seconds", "broker"}`.
    static func publish(_ files: [String], config: Configuration, into: String, speed: Double?,
                        window: CaptureWindow) throws(CommandError) -> Int32 {
        guard let colon = into.lastIndex(of: ":"), let port = Int(into[into.index(after: colon)...]), (1...65535).contains(port),
              colon != into.startIndex else {
            throw CommandError(exitCode: ExitCode.usage, message: "replay: --into \(into): expected HOST:PORT, e.g. 127.0.0.1:1883")
        }
        for f in files where access(f, R_OK) != 0 {
            throw CommandError(exitCode: ExitCode.noInput, message: "replay: cannot read capture \(f): \(String(cString: strerror(errno)))")
        }
        var mqtt = try mqttConfiguration(config, routing: nil, tool: "replay")
        mqtt.host = String(into[..<colon])
        mqtt.port = port
        let client = try connectedClient(mqtt, logger: Logger(label: "replay", minimumLevel: .warning))
        var failures = 0
        var reported = 0
        let replay = CaptureReplay(publish: { line in
            let topic = String(decoding: line.topic, as: UTF8.self)
            do {
                try client.publish(topic: topic, payload: line.payload, qos: MQTTQoS(rawValue: Int32(clamping: line.qos)) ?? .atMostOnce,
                                   retain: line.retain)
            } catch {
                failures += 1
                if failures <= Replay.malformedReportLimit { printError("replay: \(topic) not published: \(error)") }
            }
        }, speed: speed, showProgress: FileOutput.standardError.isTerminal) { file, line, problem in
            reported += 1
            if reported <= Replay.malformedReportLimit { printError("\(file):\(line): \(problem); line skipped") }
        }
        var r = replay
        r.window = window
        r.progressLabel = "replay"
        let start = CaptureReplay.monotonicSeconds()
        let counts: (malformed: Int, fed: Int)
        do { counts = try r.feedCounting(files: files) } catch {
            client.stop()
            throw CommandError(exitCode: ExitCode.noInput, message: "replay: \(error)")
        }
        // Queued messages leave before the DISCONNECT that stop() sends (libmosquitto keeps one queue, in order).
        client.stop()
        var summary = JSONObject()
        summary["published"] = .number(Double(counts.fed - failures))
        summary["malformed"] = .number(Double(counts.malformed))
        summary["seconds"] = .number(JSONNumber(((CaptureReplay.monotonicSeconds() - start) * 1000).rounded() / 1000))
        summary["broker"] = .string(mqtt.brokerAddress)
        printError(JSONWriter.serialize(.object(summary)))
        return failures > 0 ? ExitCode.unavailable : (counts.fed == 0 ? ExitCode.dataError : ExitCode.ok)
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
                    window: CaptureWindow = .all, command: String = "replay",
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
        replay.window = window
        replay.progressLabel = command
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

    /// `--from` / `--to` of the replaying commands: local times in the person's zone (`2026-11-23T08:00`, or a date:
    /// `--from` its start, `--to` its end), or RFC 3339 times with their offset.
    static let windowOptions: Set<String> = ["from", "to"]

    static func window(_ a: Arguments, config: Configuration) throws(CommandError) -> CaptureWindow {
        guard a.value("from") != nil || a.value("to") != nil else { return .all }
        guard let zone = ZoneInfo(identifier: config.person.timezone) else {
            throw CommandError(exitCode: ExitCode.config, message: "\(config.file): person.timezone: unknown time zone \(config.person.timezone)")
        }
        func time(_ name: String, dateMeansEnd: Bool) throws(CommandError) -> Double? {
            guard var text = a.value(name) else { return nil }
            if text.utf8.count == 10 && !dateMeansEnd { text += "T00:00" }
            switch AwayMode.parseUntil(text, zone: zone) {
            case .success(let t): return t.time
            case .failure(let e): throw CommandError(exitCode: ExitCode.usage, message: "\(a.command): --\(name): \(e)")
            }
        }
        let w = CaptureWindow(from: try time("from", dateMeansEnd: false) ?? -.infinity, to: try time("to", dateMeansEnd: true) ?? .infinity)
        guard w.from < w.to else {
            throw CommandError(exitCode: ExitCode.usage, message: "\(a.command): --from \(a.value("from") ?? "") is not before --to \(a.value("to") ?? "")")
        }
        return w
    }

    /// Calls `body` with each line of `bytes` (without its newline or a trailing CR); blank lines are passed too.
    static func forEachLine(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                var end = start
                while end < all.count && all[end] != 0x0A { end += 1 }
                var stop = end
                if stop > start && all[stop - 1] == 0x0D { stop -= 1 }
                if stop > start { body(UnsafeRawBufferPointer(rebasing: all[start..<stop])) }
                start = end + 1
            }
        }
    }

    /// Every capture line of `files` within `window`, in order; lines that are not capture lines are skipped (replay
    /// reports them).
    static func forEachCaptureLine(_ files: [String], command: String, window: CaptureWindow = .all,
                                   _ body: (CaptureLineReader.Line) -> Void) throws(CommandError) {
        let reader = CaptureLineReader()
        for f in files {
            guard let bytes = DurableFile.read(f) else {
                throw CommandError(exitCode: ExitCode.noInput, message: "\(command): cannot read capture \(f): \(String(cString: strerror(errno)))")
            }
            forEachLine(bytes) { line in
                _ = reader.read(line) { l in if window.contains(l.time) { body(l) } }
            }
        }
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
