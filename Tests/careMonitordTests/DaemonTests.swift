import CareSupport
import Escalation
import Foundation
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A fake systemd: the `$NOTIFY_SOCKET` datagram socket `careMonitord run` reports to, read on a thread of its own.
final class FakeSystemd: @unchecked Sendable {
    // @unchecked Sendable: `fd` is set in init and closed in `close()`; messages are behind a Mutex.
    let path: String
    private let fd: Int32
    private final class Received: Sendable {
        let lines = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let stopped = DispatchSemaphore(value: 0)
    }
    private let received = Received()
    private let reader: Thread

    init(directory: String) throws {
        let path = directory + "/notify.sock"
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw TestBrokerError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in path.utf8.enumerated() { p[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw TestBrokerError("bind \(path): \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let received = self.received
        reader = Thread {
            var buf = [UInt8](repeating: 0, count: 4096)
            defer { received.stopped.signal() }
            while !received.stop.load(ordering: .acquiring) {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
                if n > 0 {
                    let lines = String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n").map(String.init)
                    received.lines.withLock { $0 += lines }
                } else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    return
                }
            }
        }
        reader.start()
    }

    var messages: [String] { received.lines.withLock { $0 } }

    /// Index of the first message equal to `text` at or after `from`.
    func index(of text: String, from: Int = 0) -> Int? {
        let m = messages
        return m.indices.first { $0 >= from && m[$0] == text }
    }

    /// Stops the reader before closing: a reader still in `recv` on a closed descriptor would read from whatever
    /// socket reuses its number next (another daemon's fake systemd) and take its messages.
    func close() {
        guard !received.stop.exchange(true, ordering: .acquiringAndReleasing) else { return }
        received.stopped.wait()
        Glibc.close(fd)
    }
}

/// `careMonitord run` started as systemd would start it, against a real broker.
final class RunningDaemon: @unchecked Sendable {
    let process: ChildProcess
    let systemd: FakeSystemd
    let errFile: String

    init(config: String, stateDirectory: String, directory: String, watchdogUSec: Int = 1_000_000) throws {
        systemd = try FakeSystemd(directory: directory)
        errFile = directory + "/daemon-\(UUID().uuidString.prefix(8)).err"
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = systemd.path
        env["WATCHDOG_USEC"] = String(watchdogUSec)
        env.removeValue(forKey: "WATCHDOG_PID")
        process = try ChildProcess.spawn(executable: CLI.executable, arguments: ["run", "--config", config, "--state-dir", stateDirectory],
                                         environment: env, stdin: .null, stdout: .null, stderr: .file(errFile))
    }

    var stderr: String { (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "" }

    func waitFor(_ message: String, after: Int = 0, timeout: Duration = .seconds(15)) async -> Int? {
        var found: Int?
        _ = await eventually(timeout: timeout) {
            found = systemd.index(of: message, from: after)
            return found != nil
        }
        return found
    }

    func stop() {
        if process.exitStatus == nil {
            _ = process.terminate(SIGKILL)
            _ = process.wait()
        }
        systemd.close()
    }
}

/// The set-up of a live test: a broker, a subscriber to everything on it, and `run` on a config for that broker,
/// ready. `stop()` takes them down in reverse order.
struct LiveHome {
    let broker: TestBroker
    let dir: URL
    let configFile: String
    /// The subscriber to `watching`.
    let all: TestSubscriber
    let daemon: RunningDaemon
    /// The index of READY=1 among the daemon's systemd messages.
    let ready: Int

    var stateDirectory: String { dir.path + "/state" }

    static func start(watching filter: String = "#", _ config: (Int) -> String) async throws -> LiveHome {
        let broker = try TestBroker()
        let dir = try CLI.temporaryDirectory()
        let configFile = try CLI.write(config(broker.port), "c.json", in: dir)
        let all = try broker.subscribe(filter)
        try await all.waitUntilSubscribed()
        let daemon = try RunningDaemon(config: configFile, stateDirectory: dir.path + "/state", directory: dir.path)
        let ready = try #require(await daemon.waitFor("READY=1"), "no READY=1; stderr:\n\(daemon.stderr)")
        return LiveHome(broker: broker, dir: dir, configFile: configFile, all: all, daemon: daemon, ready: ready)
    }

    func stop() { daemon.stop(); all.stop(); broker.stop() }
}

func daemonConfig(port: Int, selfCancel: Int = 1, extraMember: Bool = false) -> String {
    let carol = extraMember ? #", {"id": "carol", "name": "Carol", "role": "volunteer", "consent": true, "contacts": [{"notifier": "phones", "address": "phones/carol"}]}"# : ""
    return """
    {"person": {"id": "linda", "name": "Linda", "timezone": "Europe/London",
                "contacts": [{"notifier": "tv", "address": "caremonitord/linda/tv"}]},
     "broker": {"host": "127.0.0.1", "port": \(port), "reconnect": {"initialDelay": 0.1, "maximumDelay": 0.5}},
     "sources": [{"preset": "zigbee2mqtt"}, {"topic": "wearable/+/accel", "format": "accel", "placement": "waist"}],
     "notifiers": {"tv": {"kind": "mqtt"}, "phones": {"kind": "mqtt"}},
     "circle": {"members": [
        {"id": "anna", "name": "Anna", "role": "family", "relationship": "daughter", "consent": true,
         "contacts": [{"notifier": "phones", "address": "phones/anna"}]}\(carol)]},
     "policies": [{"kind": "fall", "selfCancelSeconds": \(selfCancel), "ackTimeoutSeconds": 60, "rePages": 0,
                   "tiers": [{"members": ["anna"\(extraMember ? #", "carol""# : "")], "after": 0}]}]}
    """
}

@Suite("careMonitord run (the daemon)", .serialized)
struct DaemonTests {
    /// READY=1 once the broker confirmed the subscriptions, then WATCHDOG=1; SIGTERM: STOPPING=1 and exit 0 in time.
    @Test func runTellsSystemdReadyThenWatchdogAndStopsOnSigtermWithExitZero() async throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory().path
        let config = try CLI.write(daemonConfig(port: broker.port), "c.json", in: URL(fileURLWithPath: dir))
        let status = try broker.subscribe("caremonitord/linda/status")
        defer { status.stop() }
        try await status.waitUntilSubscribed()
        let d = try RunningDaemon(config: config, stateDirectory: dir + "/state", directory: dir)
        defer { d.stop() }
        let ready = try #require(await d.waitFor("READY=1"), "no READY=1; stderr:\n\(d.stderr)")
        #expect(await d.waitFor("WATCHDOG=1", after: ready, timeout: .seconds(5)) != nil, "no WATCHDOG=1 after READY=1")
        #expect(await status.waitForMessage { $0.payload == "online" } != nil, "no online status")
        #expect(d.process.terminate(SIGTERM))
        let exit = d.process.wait(timeout: .seconds(5))
        #expect(exit == .exited(0), "SIGTERM: \(String(describing: exit)); stderr:\n\(d.stderr)")
        #expect(d.systemd.index(of: "STOPPING=1") != nil)
        #expect(await status.waitForMessage { $0.payload == "offline" } != nil, "no offline status after the stop")
        // The learned state was flushed at the stop, with its format version.
        let learned = try JSONParser.parse(String(contentsOfFile: dir + "/state/linda/learned.json", encoding: .utf8))
        #expect(learned["version"]?.doubleValue == 1)
    }

    /// A bad config at start is exit 78, naming the file, line and column.
    @Test func runWithABadConfigExitsSeventyEightNamingTheLine() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(#"{"person": {"id": "linda", "timezone": "Europe/London"}, "sources": [{"preset": "zigbeemqtt"}]}"#, "c.json", in: dir)
        let r = try CLI.run(["run", "--config", config, "--state-dir", dir.path + "/state"], timeout: .seconds(20))
        #expect(r.code == 78, "\(r.stderr)")
        #expect(r.stderr.contains("c.json:1:"), "\(r.stderr)")
    }

    /// Two daemons on one state directory would both write its journal: the second refuses to start, naming the
    /// first, and the first carries on.
    @Test func aSecondDaemonOnTheSameStateDirectoryRefusesToStart() async throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(daemonConfig(port: broker.port), "c.json", in: dir)
        let first = try RunningDaemon(config: config, stateDirectory: dir.path + "/state", directory: dir.path)
        defer { first.stop() }
        _ = try #require(await first.waitFor("READY=1"), "no READY=1; stderr:\n\(first.stderr)")
        let second = try CLI.run(["run", "--config", config, "--state-dir", dir.path + "/state"])
        #expect(second.code == 74, "\(second.stderr)")
        #expect(second.stderr.contains("another careMonitord (process \(first.process.pid))"), "\(second.stderr)")
        #expect(first.process.exitStatus == nil)
    }

    /// SIGHUP with a broken config: the error names file:line:col, the running config stays and still detects.
    @Test func sighupWithABrokenConfigKeepsTheDaemonRunningOnTheOldOne() async throws {
        let home = try await LiveHome.start(watching: "caremonitord/linda/events") { daemonConfig(port: $0) }
        defer { home.stop() }
        let (broker, dir, events, d, ready) = (home.broker, home.dir, home.all, home.daemon, home.ready)
        _ = try CLI.write("{\n  \"person\": {\"id\": \"linda\",\n  \"timezone\": \"Europe/London\"}\n  \"sources\": []\n}\n", "c.json", in: dir)
        #expect(d.process.terminate(SIGHUP))
        let reloading = try #require(await d.waitFor("RELOADING=1", after: ready), "no RELOADING=1")
        #expect(await d.waitFor("READY=1", after: reloading) != nil, "no READY=1 after the reload")
        try await Task.sleep(for: .milliseconds(300))
        #expect(d.process.exitStatus == nil, "the daemon stopped on a bad config: \(d.stderr)")
        #expect(d.stderr.contains("c.json:4:"), "the reload error does not name the line: \(d.stderr)")
        #expect(d.stderr.contains("running config is kept"))
        // Still detecting, and escalating, on the old config.
        try broker.publish(topic: "zigbee2mqtt/hallway radar", message: #"{"presence":true,"fall_down_status":"fall"}"#, qos: 1)
        #expect(await events.waitForMessage { $0.payload.contains(#""type":"detection""#) && $0.payload.contains(#""kind":"fall""#) } != nil,
                "no fall detection after the failed reload: \(d.stderr)")
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
    }

    /// The whole live path: a vendor fall on a real broker opens an incident; Linda's self-check times out; Anna is
    /// paged and claims on the ack topic; the front door opens and there is movement inside, so the arrival is
    /// verified by the home's own sensors; a SIGHUP adds Carol to the circle while the incident is open; Anna
    /// resolves; everyone paged hears the all-clear. Event lines carry no contact address.
    @Test func aLiveFallIsPagedClaimedArrivesByTheFrontDoorAndIsResolvedAcrossAReload() async throws {
        let home = try await LiveHome.start { daemonConfig(port: $0) }
        defer { home.stop() }
        let (broker, dir, config, all, d, ready) = (home.broker, home.dir, home.configFile, home.all, home.daemon, home.ready)

        try broker.publish(topic: "zigbee2mqtt/hallway radar", message: #"{"presence":true,"fall_down_status":"fall","linkquality":80}"#, qos: 1)
        let tv = try #require(await all.waitForMessage { $0.topic == "caremonitord/linda/tv" }, "no self-check on the TV: \(d.stderr)")
        #expect(tv.payload.contains("fall"))
        let page = try #require(await all.waitForMessage { $0.topic == "phones/anna" }, "Anna was not paged: \(d.stderr)")
        let incident = try #require(try JSONParser.parse(page.payload)["incident"]?.stringValue)
        let token = try #require(try JSONParser.parse(page.payload)["token"]?.stringValue, "Anna's page carries no answer token")
        let tvToken = try #require(try JSONParser.parse(tv.payload)["token"]?.stringValue, "the self-check carries no answer token")
        #expect(token != tvToken)

        // Whoever can publish on the ack topic cannot answer for Anna: without her token, or with Linda's.
        let ackTopic = "caremonitord/linda/incidents/\(incident)/ack"
        try broker.publish(topic: ackTopic, message: #"{"member":"anna","action":"resolve"}"#, qos: 1)
        try broker.publish(topic: ackTopic, message: #"{"member":"anna","action":"resolve","token":"\#(tvToken)"}"#, qos: 1)
        try broker.publish(topic: ackTopic, message: #"{"member":"anna","action":"claim","eta":5,"token":"\#(token)"}"#, qos: 1)
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/events" && $0.payload.contains(#""state":"claimed""#) } != nil,
                "the claim did not reach the engine: \(d.stderr)")
        #expect(d.stderr.contains("2 refused since start"), "forged answers were not refused and counted: \(d.stderr)")

        // Carol joins while the incident is open: the incident carries on through the reload.
        _ = try CLI.write(daemonConfig(port: broker.port, extraMember: true), "c.json", in: dir)
        #expect(d.process.terminate(SIGHUP))
        let reloading = try #require(await d.waitFor("RELOADING=1", after: ready))
        #expect(await d.waitFor("READY=1", after: reloading) != nil)
        #expect(d.stderr.contains("config reloaded"), "\(d.stderr)")

        try broker.publish(topic: "zigbee2mqtt/front door", message: #"{"contact":false,"battery":97}"#, qos: 1)
        try await Task.sleep(for: .milliseconds(200))
        try broker.publish(topic: "zigbee2mqtt/hallway motion", message: #"{"occupancy":true,"battery":90}"#, qos: 1)
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/events" && $0.payload.contains(#""state":"arrived""#) } != nil,
                "no arrival from the front door and movement inside: \(d.stderr)")

        try broker.publish(topic: ackTopic, message: #"{"member":"anna","action":"resolve","token":"\#(token)"}"#, qos: 1)
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/events" && $0.payload.contains(#""state":"resolved""#) } != nil)
        #expect(await all.waitForMessage { $0.topic == "phones/anna" && $0.payload.lowercased().contains("all clear") } != nil,
                "no all-clear to Anna: \(all.messages.filter { $0.topic == "phones/anna" })")

        let eventLines = all.messages.filter { $0.topic == "caremonitord/linda/events" }
        #expect(eventLines.count >= 6)
        #expect(!eventLines.contains { $0.payload.contains("phones/") || $0.payload.contains("caremonitord/linda/tv") },
                "an event line carries a contact address")
        #expect(!eventLines.contains { $0.payload.contains(token) || $0.payload.contains(tvToken) }, "an event line carries an answer token")
        #expect(!d.stderr.contains(token) && !d.stderr.contains(tvToken), "the log shows an answer token")
        for e in eventLines { #expect((try? JSONParser.parse(e.payload))?["type"]?.stringValue != nil, "not an event line: \(e)") }
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
        // `incidents` reads the journal the daemon wrote.
        let r = try CLI.run(["incidents", "--config", config, "--state-dir", dir.path + "/state"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.contains(incident), "\(r.stdout)")
    }

    /// `forget` while the daemon runs goes through the daemon (its control socket): the closed incident is gone from
    /// the journal, and the daemon keeps journaling the next incident into the rewritten file.
    @Test func forgetWhileRunningAsksTheDaemonAndItsJournalStaysWhole() async throws {
        let home = try await LiveHome.start(watching: "caremonitord/linda/#") { daemonConfig(port: $0, selfCancel: 30) }
        defer { home.stop() }
        let (broker, config, state, all, d) = (home.broker, home.configFile, home.stateDirectory, home.all, home.daemon)

        try broker.publish(topic: "zigbee2mqtt/hallway radar", message: #"{"presence":true,"fall_down_status":"fall"}"#, qos: 1)
        let tv = try #require(await all.waitForMessage { $0.topic == "caremonitord/linda/tv" }, "no self-check: \(d.stderr)")
        let first = try #require(try JSONParser.parse(tv.payload)["incident"]?.stringValue)
        let tvToken = try #require(try JSONParser.parse(tv.payload)["token"]?.stringValue)
        // Linda answers her own self-check: the incident closes.
        try broker.publish(topic: "caremonitord/linda/incidents/\(first)/ack", message: #"{"member":"linda","action":"cancel","token":"\#(tvToken)"}"#, qos: 1)
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/events" && $0.payload.contains(#""state":"cancelled""#) } != nil)

        let tomorrow = RFC3339.format(WallTime(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) + 86_400_000)).prefix(10)
        let f = try CLI.run(["forget", "--config", config, "--state-dir", state, "--before", String(tomorrow)])
        #expect(f.code == 0, "\(f.stderr)")
        #expect(f.stderr.contains("1 record(s)") && f.stderr.contains("by the running daemon"), "\(f.stderr)")
        let after = try CLI.run(["incidents", "--config", config, "--state-dir", state])
        #expect(!after.stdout.contains(first), "the forgotten incident is still listed: \(after.stdout)")

        // A new fall (another device: the first one's detection is still raised) is journaled after the rewrite.
        try broker.publish(topic: "zigbee2mqtt/bedroom radar", message: #"{"presence":true,"fall_down_status":"fall"}"#, qos: 1)
        let second = try #require(await all.waitForMessage {
            $0.topic == "caremonitord/linda/tv" && (try? JSONParser.parse($0.payload))?["incident"]?.stringValue != first },
                                  "no second self-check: \(d.stderr)")
        let id = try #require(try JSONParser.parse(second.payload)["incident"]?.stringValue)
        // The id of a forgotten incident is never reused: its pages' keys are known as delivered.
        #expect(id != first)
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
        let listed = try CLI.run(["incidents", "--config", config, "--state-dir", state])
        #expect(listed.stdout.contains(id), "the incident after the rewrite is not in the journal: \(listed.stdout)")
    }

    /// SIGHUP with new sources restarts the ingest side on them (new subscriptions), keeping what was learned.
    @Test func sighupWithNewSourcesSubscribesToThem() async throws {
        let wristOnly = { (port: Int) in daemonConfig(port: port).replacingOccurrences(of: #"{"preset": "zigbee2mqtt"}, "#, with: "") }
        #expect(wristOnly(1883) != daemonConfig(port: 1883))
        let home = try await LiveHome.start(watching: "caremonitord/linda/events", wristOnly)
        defer { home.stop() }
        let (broker, dir, events, d, ready) = (home.broker, home.dir, home.all, home.daemon, home.ready)
        let fall = #"{"presence":true,"fall_down_status":"fall"}"#
        try broker.publish(topic: "zigbee2mqtt/hallway radar", message: fall, qos: 1)
        try await Task.sleep(for: .milliseconds(500))
        #expect(events.messages.isEmpty, "a source that is not configured was heard: \(events.messages)")

        _ = try CLI.write(daemonConfig(port: broker.port), "c.json", in: dir)
        #expect(d.process.terminate(SIGHUP))
        let reloading = try #require(await d.waitFor("RELOADING=1", after: ready))
        #expect(await d.waitFor("READY=1", after: reloading) != nil)
        #expect(await eventually { d.stderr.contains("ingest restarted") }, "\(d.stderr)")
        // The new subscriptions are made on the new connection.
        #expect(await eventually(timeout: .seconds(10)) {
            try? broker.publish(topic: "zigbee2mqtt/hallway radar", message: fall, qos: 1)
            return events.messages.contains { $0.payload.contains(#""kind":"fall""#) }
        }, "no fall detected from the source added by the reload: \(d.stderr)")
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
    }

    /// Without a broker the daemon says READY=1 after `broker.startupGraceSeconds` with a STATUS saying so; once
    /// the broker is there, STATUS says it is watching.
    @Test func readyAfterTheGraceWithoutABrokerThenStatusFollowsTheConnection() async throws {
        let broker = try TestBroker()
        let port = broker.port
        broker.stop()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        let text = daemonConfig(port: port).replacingOccurrences(of: #""reconnect":"#, with: #""startupGraceSeconds": 1, "reconnect":"#)
        let config = try CLI.write(text, "c.json", in: dir)
        let d = try RunningDaemon(config: config, stateDirectory: dir.path + "/state", directory: dir.path)
        defer { d.stop() }
        let ready = try #require(await d.waitFor("READY=1", timeout: .seconds(10)), "no READY=1 after the grace: \(d.stderr)")
        #expect(d.systemd.messages.contains { $0.hasPrefix("STATUS=") && $0.contains("unreachable") }, "\(d.systemd.messages)")
        #expect(d.stderr.contains("warning") && d.stderr.contains("unreachable"), "\(d.stderr)")
        try broker.start()
        #expect(await eventually(timeout: .seconds(15)) {
            d.systemd.messages.dropFirst(ready).contains { $0.hasPrefix("STATUS=watching linda") }
        }, "STATUS did not follow the connection: \(d.systemd.messages)")
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
    }
}
