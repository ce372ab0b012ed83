import CareSupport
import Escalation
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord demo`: the mission in under a minute, with nothing but this executable and mosquitto. Starts a
/// private mosquitto on a free loopback port and the real daemon (`run`, a child process) with a demo circle:
/// Linda; Anna, her daughter; Ben, a neighbour; Carol, a Neighbourhood Network volunteer; a monitoring centre.
/// Their phones are real transports: MQTT topics, and for the centre a webhook to a receiver on loopback.
/// Linda's routine is learned first (`learn`, on a generated week). Then, in real time: her wristband streams,
/// she falls, she does not cancel the self-check, Anna does not answer, Ben claims, the front door and the hallway
/// show his arrival, and he resolves. Prints what each phone shows, in order, then the response times.
/// Leaves nothing running.
enum DemoCommand {
    static let usage = "careMonitord demo [--keep DIR]"

    static func config(brokerPort: Int, webhookPort: Int) -> String {
        """
        {
          "person": {"id": "linda", "name": "Linda", "timezone": "Europe/London",
                     "contacts": [{"notifier": "tv", "address": "caremonitord/linda/tv"}]},
          "broker": {"host": "127.0.0.1", "port": \(brokerPort)},
          "sources": [{"preset": "zigbee2mqtt"},
                      {"topic": "wearable/+/accel", "format": "accel", "placement": "wrist"}],
          "notifiers": {"tv": {"kind": "mqtt"}, "phones": {"kind": "mqtt"},
                        "centre": {"kind": "webhook", "url": "http://127.0.0.1:\(webhookPort)/alerts"}},
          "circle": {"members": [
            {"id": "anna", "name": "Anna", "role": "family", "relationship": "daughter", "consent": true,
             "contacts": [{"notifier": "phones", "address": "phones/anna"}]},
            {"id": "ben", "name": "Ben", "role": "neighbour", "consent": true,
             "contacts": [{"notifier": "phones", "address": "phones/ben"}]},
            {"id": "carol", "name": "Carol", "role": "volunteer", "relationship": "Neighbourhood Network", "consent": true,
             "contacts": [{"notifier": "phones", "address": "phones/carol"}]},
            {"id": "centre", "name": "Leeds Care Line", "role": "monitoring-centre", "consent": true,
             "contacts": [{"notifier": "centre", "address": "linda"}]}]},
          "policies": [{"kind": "fall", "selfCancelSeconds": 6, "ackTimeoutSeconds": 10, "rePages": 0,
                        "tiers": [{"members": ["anna"], "after": 0},
                                  {"members": ["ben", "carol", "centre"], "after": 8}]}]
        }
        """
    }

    /// A message shown on someone's phone.
    struct Shown: Sendable { var at: Double; var who: String; var text: String }

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "demo", args, valued: ["keep"])
        let out = FileOutput.standardOutput
        let clock = SystemClock()
        let start = clock.monotonicNow()
        var flushPhones: () -> Void = {}
        func say(_ s: String) { flushPhones(); out.writeLine(s); out.flush() }
        func since() -> String { String(format1(seconds(start.duration(to: clock.monotonicNow())))) + " s" }

        let dir: String
        if let keep = a.value("keep") {
            try Replay.ensureDirectory(keep)
            dir = keep
        } else {
            dir = try ScratchDirectory.make(for: "demo")
        }
        defer { if a.value("keep") == nil { ScratchDirectory.remove(dir) } }
        let broker: PrivateBroker
        do { broker = try PrivateBroker() } catch {
            throw CommandError(exitCode: ExitCode.unavailable, message: "demo: \(error)")
        }
        defer { broker.stop() }
        let webhook = try WebhookReceiver()
        defer { webhook.stop() }
        let configPath = dir + "/linda.json"
        do { try DurableFile.write(Array(config(brokerPort: broker.port, webhookPort: webhook.port).utf8), to: configPath) } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "demo: \(error)")
        }
        say("careMonitord demo: Linda, 64, lives alone in North Leeds. Her circle: Anna (her daughter), Ben (a neighbour),")
        say("Carol (a Neighbourhood Network volunteer) and a monitoring centre. A private broker on 127.0.0.1:\(broker.port);")
        say("the phones are MQTT topics, the centre a webhook on 127.0.0.1:\(webhook.port). Config: \(configPath)\n")

        // 1. Her usual week, learned.
        let week = DemoScript.week(endingAt: clock.wallNow())
        let weekPath = dir + "/week.ndjson"
        do { try DurableFile.write(Array((week.joined(separator: "\n") + "\n").utf8), to: weekPath) } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "demo: \(error)")
        }
        let stateDir = dir + "/state"
        let learned = try runSelf(["learn", "--config", configPath, "--state-dir", stateDir, weekPath], dir: dir)
        let summary = (try? JSONParser.parse(learned))?["routine"]
        say("[\(since())] learned her routine from last week (\(week.count) sensor messages): up about \(summary?["wakeUp"]?["median"]?.stringValue ?? "?"), "
            + "in bed about \(summary?["bedtime"]?["median"]?.stringValue ?? "?"), \(summary?["learnedDays"]?.exactInt ?? 0) days")

        // 2. The daemon, as systemd would run it.
        let daemonLog = dir + "/daemon.log"
        let daemon: ChildProcess
        do {
            daemon = try ChildProcess.spawn(executable: selfPath(), arguments: ["run", "--config", configPath, "--state-dir", stateDir],
                                            stdin: .null, stdout: .file(daemonLog), stderr: .file(daemonLog, .append))
        } catch {
            throw CommandError(exitCode: ExitCode.software, message: "demo: cannot start the daemon: \(error)")
        }
        defer {
            if daemon.exitStatus == nil { _ = daemon.terminate(SIGTERM); if daemon.wait(timeout: .seconds(5)) == nil { _ = daemon.terminate(SIGKILL) } }
        }
        let shown = Mutex<[Shown]>([])
        let online = Atomic<Bool>(false)
        let pages = Mutex<[String: JSONValue]>([:])
        var mqtt = MQTTConfiguration(personID: "linda")
        mqtt.port = broker.port
        mqtt.clientID = "caremonitord-demo-\(getpid())"
        mqtt.announcesPresence = false
        mqtt.subscriptions = ["phones/+", "caremonitord/linda/tv", "caremonitord/linda/status"].map { MQTTSubscription($0, qos: .atLeastOnce) }
        let phone: [String: String] = ["phones/anna": "Anna's phone", "phones/ben": "Ben's phone", "phones/carol": "Carol's phone",
                                       "caremonitord/linda/tv": "Linda's TV"]
        let client = try connectedClient(mqtt, logger: Logger(label: "demo", minimumLevel: .error)) { m in
            let topic = m.topicString()
            let text = String(decoding: m.payload, as: UTF8.self)
            if topic.hasSuffix("/status") { if text == "online" { online.store(true, ordering: .relaxed) }; return }
            guard let v = try? JSONParser.parse(text) else { return }
            if let who = phone[topic] {
                pages.withLock { $0[topic] = v }
                shown.withLock { $0.append(Shown(at: clock.wallNow(), who: who, text: v["text"]?.stringValue ?? text)) }
            }
        }
        defer { client.stop() }
        // What the wristband has still to send, half a second at a time, in real time.
        var stream: [(Double, Double, Double)] = []
        var streamTime = 0.0
        var sent = 0
        let streamStart = clock.monotonicNow()
        var batches = 0
        func pump() {
            while sent < stream.count && seconds(streamStart.duration(to: clock.monotonicNow())) >= Double(batches) * 0.5 - 0.5 {
                let end = min(sent + 25, stream.count)
                do {
                    try client.publish(topic: "wearable/band1/accel", payload: DemoScript.Wristband.payload(stream[sent..<end], t0: streamTime),
                                       qos: .atMostOnce)
                } catch {}
                streamTime += 0.5
                sent = end
                batches += 1
            }
        }
        func wait(_ what: String, seconds limit: Double, _ done: () -> Bool) throws(CommandError) {
            let end = clock.monotonicNow().advanced(bySeconds: limit)
            while !done() {
                guard clock.monotonicNow() < end else {
                    let log = (DurableFile.read(daemonLog).map { String(decoding: $0, as: UTF8.self) } ?? "").split(separator: "\n").suffix(15)
                    throw CommandError(exitCode: ExitCode.software, message: "demo: \(what) did not happen within \(Int(limit)) s; the daemon's log ends:\n\(log.joined(separator: "\n"))")
                }
                flushShown()
                pump()
                usleep(50_000)
            }
        }
        var printed = 0
        let startWall = clock.wallNow() - seconds(start.duration(to: clock.monotonicNow()))
        func flushShown() {
            let posted = webhook.take().compactMap { r -> Shown? in
                guard let v = try? JSONParser.parse(r.body), let text = v["alerts"]?.arrayValue?.first?["annotations"]?["description"]?.stringValue else { return nil }
                return Shown(at: r.at, who: "the care line (webhook)", text: text)
            }
            // In the order they arrived, whichever transport brought them.
            let list = shown.withLock { s in
                s += posted
                s[printed...].sort { $0.at < $1.at }
                return s
            }
            while printed < list.count {
                let s = list[printed]
                let t = "[" + format1(s.at - startWall) + " s]"
                out.writeLine("\(t.padding(toLength: 9, withPad: " ", startingAt: 0))    \(s.who.padding(toLength: 24, withPad: " ", startingAt: 0)) \(s.text)")
                out.flush()
                printed += 1
            }
        }
        flushPhones = flushShown
        try wait("the daemon coming online", seconds: 15) { online.load(ordering: .relaxed) }
        say("[\(since())] careMonitord run is online (pid \(daemon.pid)), watching her wristband and her home's sensors\n")

        // 3. Her wristband, in real time: walking, then a fall.
        func publish(_ topic: String, _ payload: String) {
            do { try client.publish(topic: topic, payload: payload, qos: .atLeastOnce) } catch { say("    (publish failed: \(error))") }
        }
        var band = DemoScript.Wristband()
        say("[\(since())] Linda walks to the kitchen; her wristband streams 50 Hz in half-second batches")
        var t = clock.wallNow()
        for _ in 0..<4 {
            publish("wearable/band1/accel", DemoScript.Wristband.payload(band.walking(25, from: t)[...], t0: t))
            t += 0.5
            usleep(500_000)
        }
        say("[\(since())] she falls in the hallway and lies still; her wristband keeps streaming")
        stream = band.fall(then: 25 * 2 * 40)
        streamTime = t
        pump()
        try wait("the self-check on Linda's TV", seconds: 10) { pages.withLock { $0["caremonitord/linda/tv"] != nil } }
        say("          (Linda does not answer her TV)")
        try wait("Anna's page", seconds: 15) { pages.withLock { $0["phones/anna"] != nil } }
        say("          (Anna is at work and does not answer)")
        try wait("Ben's page", seconds: 15) { pages.withLock { $0["phones/ben"] != nil } }
        usleep(1_500_000)
        let incident = pages.withLock { $0["phones/ben"]?["incident"]?.stringValue } ?? ""
        func ack(_ action: String, _ extra: JSONObject = [:]) {
            var o: JSONObject = ["member": "ben", "action": .string(action)]
            if let token = pages.withLock({ $0["phones/ben"]?["token"] }) { o["token"] = token }
            for m in extra.members { o[m.key] = m.value }
            publish(AckTopic.topic(person: "linda", incident: incident), JSONWriter.serialize(.object(o)))
        }
        say("[\(since())] Ben answers \"going, 4 minutes\" on his phone")
        ack("claim", ["eta": 4])
        try wait("everyone hearing that Ben is going", seconds: 10) { shown.withLock { $0.contains { $0.who == "Anna's phone" && $0.text.contains("Ben") } } }
        usleep(1_500_000)
        say("[\(since())] Ben opens the front door; the hallway sensor sees him")
        publish("zigbee2mqtt/front door", #"{"contact":false,"battery":97,"linkquality":120}"#)
        usleep(400_000)
        publish("zigbee2mqtt/hallway motion", #"{"occupancy":true,"battery":90,"linkquality":110}"#)
        try wait("the arrival", seconds: 10) { shown.withLock { $0.contains { $0.text.lowercased().contains("arrived") } } }
        usleep(1_500_000)
        say("[\(since())] Linda is sore but all right; Ben resolves it")
        ack("resolve")
        try wait("the all-clear", seconds: 10) { shown.withLock { $0.filter { $0.text.lowercased().contains("all clear") || $0.text.lowercased().contains("all-clear") }.count >= 2 } }
        usleep(700_000)
        flushShown()

        // 4. Stop, then the response times from the journal the daemon kept.
        _ = daemon.terminate(SIGTERM)
        let exit = daemon.wait(timeout: .seconds(5))
        guard exit == .exited(0) else {
            throw CommandError(exitCode: ExitCode.software, message: "demo: careMonitord run did not stop cleanly on SIGTERM (\(exit.map { "\($0)" } ?? "still running after 5 s")); its log: \(daemonLog)")
        }
        say("\n[\(since())] careMonitord stopped on SIGTERM (exit 0); the response times its journal shows:")
        let report = try runSelf(["incidents", "--config", configPath, "--state-dir", stateDir], dir: dir)
        for line in report.split(separator: "\n") where !line.hasPrefix("    ") { say("  \(line)") }
        say("\nEverything ran on this machine: mosquitto, the daemon, the phones and the centre's receiver have stopped.")
        say("Next: `careMonitord check-config FILE` for your own config, then `careMonitord run` as a systemd service (systemd/README.md).")
        return ExitCode.ok
    }

    static func format1(_ x: Double) -> String {
        let t = (x * 10).rounded() / 10
        return t == t.rounded() ? "\(Int(t)).0" : "\(t)"
    }

    static func selfPath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }

    /// Runs this executable with `arguments`; returns its stdout, or throws with its stderr.
    static func runSelf(_ arguments: [String], dir: String) throws(CommandError) -> String {
        let r: ProcessResult
        do { r = try ChildProcess.run(executable: selfPath(), arguments: arguments, outputLimit: 1 << 20, timeout: .seconds(60)) } catch {
            throw CommandError(exitCode: ExitCode.software, message: "demo: \(arguments[0]): \(error)")
        }
        guard r.status.isSuccess else {
            throw CommandError(exitCode: ExitCode.software, message: "demo: careMonitord \(arguments[0]) failed (\(r.status)):\n\(r.standardError.text)")
        }
        return r.standardOutput.text
    }
}
