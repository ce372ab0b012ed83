import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord away --until DATE [--reason holiday|hospital|visiting] [--config FILE]` (or `--cancel`): tells the
/// running daemon she is away (`AwayMode`), as the TV app does, on `caremonitord/<person>/away`, and waits until
/// the daemon's coverage shows it. DATE is `2026-12-24` (to the end of that day) or `2026-12-24T18:00`, in her
/// time zone.
enum AwayCommand {
    static let usage = "careMonitord away (--until DATE [--reason holiday|hospital|visiting] | --cancel) [--config FILE]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "away", args, valued: ["config", "until", "reason"], flags: ["cancel"])
        let config = try loadConfiguration(a.value("config") ?? StatusCommand.defaultConfig)
        let person = config.person.id
        var payload = JSONObject()
        var expected: String?
        if a.flag("cancel") {
            guard a.value("until") == nil else { throw CommandError(exitCode: ExitCode.usage, message: "away: --cancel or --until, not both") }
            payload["cancel"] = true
        } else {
            let until = try a.required("until")
            guard let zone = ZoneInfo(identifier: config.person.timezone) else {
                throw CommandError(exitCode: ExitCode.config, message: "\(config.file): person.timezone: unknown time zone")
            }
            switch AwayMode.parseUntil(until, zone: zone) {
            case .success(let u):
                guard u.time > SystemClock().wallNow() else { throw CommandError(exitCode: ExitCode.usage, message: "away: --until \(until) is already past") }
                expected = Timestamp.rfc3339(u.time)
            case .failure(let e): throw CommandError(exitCode: ExitCode.usage, message: "away: --until: \(e)")
            }
            payload["until"] = .string(until)
            if let reason = a.value("reason") {
                guard AwayMode.reasons.contains(reason) else {
                    throw CommandError(exitCode: ExitCode.usage, message: "away: --reason \(reason): one of \(AwayMode.reasons.joined(separator: ", "))")
                }
                payload["reason"] = .string(reason)
            }
        }
        var mqtt = try mqttConfiguration(config, routing: nil, tool: "away")
        mqtt.subscriptions = [MQTTSubscription(LiveState.coverageTopic(person: person), qos: .atLeastOnce)]
        let shown = Mutex<JSONValue?>(nil)
        let client = try connectedClient(mqtt, logger: Logger(label: "away", minimumLevel: .warning)) { m in
            let v = try? JSONParser.parse(Array(m.payload))
            shown.withLock { $0 = v?["away"] }
        }
        defer { client.stop() }
        let topic = AwayMode.topic(person: person)
        do { try client.publish(topic: topic, payload: JSONWriter.serialize(.object(payload)), qos: .atLeastOnce) } catch {
            throw CommandError(exitCode: ExitCode.unavailable, message: "away: cannot publish to \(topic): \(error)")
        }
        // The daemon's coverage says it took it (it republishes coverage within a second or two).
        let clock = SystemClock()
        let deadline = clock.monotonicNow().advanced(bySeconds: 10)
        while clock.monotonicNow() < deadline {
            let away = shown.withLock { $0 }
            if let expected, let away, away["until"]?.stringValue == expected {
                printError("away: \(person) is away until \(away["untilText"]?.stringValue ?? expected); routine and inactivity alerts are paused until then")
                return ExitCode.ok
            }
            if expected == nil, let away, away.isNull {
                printError("away: \(person)'s away mode is off; routine and inactivity are watched again")
                return ExitCode.ok
            }
            usleep(100_000)
        }
        throw CommandError(exitCode: ExitCode.unavailable, message: "away: sent on \(topic), but the daemon did not show it in its coverage within 10 s: is careMonitord running with this config?")
    }
}
