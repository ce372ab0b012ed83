import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord record --config FILE --out CAPTURE [--duration S] [--rotate-size BYTES] [--rotate-daily]`:
/// subscribes to the configured sources and writes every message as a capture line (the shape `mosquitto_sub -F %j`
/// prints), until the duration is over or SIGINT/SIGTERM. Replay reads what it writes. With a rotation, CAPTURE is a
/// base name and the files are `STEM-YYYYMMDD-HHMMSS.EXT` after their first message in the person's local time
/// (`CaptureWriter`): a new one before a line would take a file past BYTES, and at her local midnight.
enum RecordCommand {
    static let usage = "careMonitord record --config FILE --out CAPTURE [--duration SECONDS] [--rotate-size BYTES] [--rotate-daily]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "record", args, valued: ["config", "out", "duration", "rotate-size"], flags: ["rotate-daily"])
        let config = try loadConfiguration(try a.required("config"))
        let out = try a.required("out")
        var duration: Double?
        if let d = a.value("duration") {
            guard let v = Double(d), v > 0, v.isFinite else {
                throw CommandError(exitCode: ExitCode.usage, message: "record: --duration must be a positive number of seconds, not \"\(d)\"")
            }
            duration = v
        }
        var rotation = CaptureRotation(dailyZone: a.flag("rotate-daily") ? config.person.timezone : nil)
        if let r = a.value("rotate-size") {
            guard let v = Int(r), v >= 1024 else {
                throw CommandError(exitCode: ExitCode.usage, message: "record: --rotate-size must be a number of bytes of at least 1024, not \"\(r)\"")
            }
            rotation.maximumBytes = v
        }
        let routing = try makeRouting(config)
        let writer: CaptureWriter
        do { writer = try CaptureWriter(path: out, rotation: rotation) } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "record: \(error)")
        }
        StopSignals.block()
        let logger = Logger(label: "record")
        let clock = SystemClock()
        let writeFailure = Mutex<String?>(nil)
        let mqtt = try mqttConfiguration(config, routing: routing, tool: "record")
        let client: MQTTClient
        do {
            client = try MQTTClient(configuration: mqtt, logger: logger.child("mqtt")) { m in
                // On the MQTT thread: only this thread uses the writer until the client is stopped.
                let time = clock.wallNow()
                do {
                    try writer.append(time: time, topic: m.topicString(), qos: Int(m.qos.rawValue), retain: m.retain,
                                      payload: m.payloadBytes())
                } catch {
                    writeFailure.withLock { if $0 == nil { $0 = "\(error)" } }
                }
            }
            try client.start()
        } catch {
            throw CommandError(exitCode: ExitCode.config, message: "record: \(error)")
        }
        logger.notice("recording \(routing.router.subscriptions.map { $0.filter }.joined(separator: ", ")) from \(mqtt.brokerAddress) to \(out)")
        let start = clock.monotonicNow()
        let showProgress = FileOutput.standardError.isTerminal
        var stoppedBy: Int32?
        while true {
            let elapsed = clock.monotonicNow().seconds(since: start)
            if let duration, elapsed >= duration { break }
            if writeFailure.withLock({ $0 }) != nil { break }
            let slice = min(0.5, (duration ?? .infinity) - elapsed)
            if let s = StopSignals.wait(seconds: max(0.01, slice)) { stoppedBy = s; break }
            if showProgress {
                let st = client.status
                FileOutput.standardError.write("\rrecord: \(st.isConnected ? "connected" : "waiting for the broker"), \(st.messagesReceived) messages")
            }
        }
        client.stop()
        if showProgress { FileOutput.standardError.write("\r\u{1B}[K") }
        do { try writer.close() } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "record: \(error)")
        }
        if let failure = writeFailure.withLock({ $0 }) {
            throw CommandError(exitCode: ExitCode.ioError, message: "record: stopped: \(failure)")
        }
        var summary = JSONObject()
        summary["recorded"] = .number(Double(writer.lines))
        summary["file"] = .string(out)
        if rotation.isOn { summary["files"] = .array(writer.files.map { .string($0) }) }
        summary["seconds"] = .number(JSONNumber((clock.monotonicNow().seconds(since: start) * 1000).rounded() / 1000))
        if let s = stoppedBy { summary["stoppedBy"] = .string(s == SIGINT ? "SIGINT" : "SIGTERM") }
        printError(JSONWriter.serialize(.object(summary)))
        return ExitCode.ok
    }
}
