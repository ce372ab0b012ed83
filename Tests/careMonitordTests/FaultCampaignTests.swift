import CareSupport
import Escalation
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Faults against the live daemon (`careMonitord run` on a real mosquitto): kill -9 at random instants of an
/// escalation, and the broker going away mid-incident. Short by default; `LONG=1` runs the full counts (100 kills,
/// a 60 s broker outage). Each prints one line with its figures.
@Suite("fault campaign against the live daemon", .serialized)
struct FaultCampaignTests {
    static let long = ProcessInfo.processInfo.environment["LONG"] == "1"

    static func subdirectory(_ dir: URL, _ name: String) throws -> String {
        let p = dir.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func payloads(_ s: TestSubscriber, _ topic: String) -> [JSONValue] {
        s.messages.filter { $0.topic == topic }.compactMap { try? JSONParser.parse($0.payload) }
    }

    /// kill -9 at a random instant between the fall and Anna's page, then a restart (the radar reports its state
    /// again, as it does): one incident, Anna paged, nothing delivered twice, and her answer still closes it.
    @Test func killNineDuringEscalationsLosesNoIncident() async throws {
        let trials = Self.long ? 100 : 4
        let broker = try TestBroker()
        defer { broker.stop() }
        var lost = 0, duplicates = 0, journaledBeforeKill = 0, recoveries: [Double] = []
        for trial in 0..<trials {
            let dir = try CLI.temporaryDirectory()
            let config = try CLI.write(daemonConfig(port: broker.port, selfCancel: 2), "c.json", in: dir)
            let state = dir.path + "/state"
            let all = try broker.subscribe("#", qos: 1)
            defer { all.stop() }
            try await all.waitUntilSubscribed()
            var daemon = try RunningDaemon(config: config, stateDirectory: state, directory: try Self.subdirectory(dir, "first"))
            _ = try #require(await daemon.waitFor("READY=1"), "trial \(trial): no READY=1: \(daemon.stderr)")
            let radar = "zigbee2mqtt/hallway radar"
            try broker.publish(topic: radar, message: #"{"presence":true,"fall_down_status":"fall"}"#, qos: 1)
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...2600)))
            _ = daemon.process.terminate(SIGKILL)
            _ = daemon.process.wait()
            if IncidentsOnDisk.opened(state) > 0 { journaledBeforeKill += 1 }
            daemon.stop()
            let restart = ContinuousClock.now
            daemon = try RunningDaemon(config: config, stateDirectory: state, directory: try Self.subdirectory(dir, "restarted"))
            defer { daemon.stop() }
            _ = try #require(await daemon.waitFor("READY=1"), "trial \(trial): no READY=1 after the kill (daemon \(daemon.process.exitStatus.map { "\($0)" } ?? "running"); systemd saw \(daemon.systemd.messages)): \(daemon.stderr)\n\(broker.log.suffix(1500))")
            recoveries.append(Self.seconds(ContinuousClock.now - restart))
            try broker.publish(topic: radar, message: #"{"presence":true,"fall_down_status":"fall"}"#, qos: 1)
            let page = await all.waitForMessage(timeout: .seconds(20)) { $0.topic == "phones/anna" }
            guard let page, let v = try? JSONParser.parse(page.payload), let incident = v["incident"]?.stringValue,
                  let token = v["token"]?.stringValue else {
                lost += 1
                Issue.record("trial \(trial): Anna was never paged after the restart: \(daemon.stderr)")
                continue
            }
            try broker.publish(topic: "caremonitord/linda/incidents/\(incident)/ack",
                               message: #"{"member":"anna","action":"resolve","token":"\#(token)"}"#, qos: 1)
            let clear = await all.waitForMessage(timeout: .seconds(10)) { $0.topic == "phones/anna" && $0.payload.lowercased().contains("all clear") }
            #expect(clear != nil, "trial \(trial): no all-clear: \(daemon.stderr)")
            let incidents = Set(Self.payloads(all, "phones/anna").compactMap { $0["incident"]?.stringValue })
            if incidents.count != 1 { lost += 1; Issue.record("trial \(trial): \(incidents.count) incidents paged to Anna, want 1") }
            let keys = (Self.payloads(all, "phones/anna") + Self.payloads(all, "caremonitord/linda/tv")).compactMap { $0["key"]?.stringValue }
            duplicates += keys.count - Set(keys).count
            _ = daemon.process.terminate(SIGTERM)
            _ = daemon.process.wait(timeout: .seconds(5))
        }
        recoveries.sort()
        print("fault campaign kill -9: \(trials) trials, incidents lost \(lost), duplicate deliveries \(duplicates), "
              + "fall journaled before the kill in \(journaledBeforeKill), restart to READY=1 median \(Int(recoveries[recoveries.count / 2] * 1000)) ms, "
              + "max \(Int((recoveries.last ?? 0) * 1000)) ms")
        #expect(lost == 0)
        // A kill between the broker's PUBACK and the fsync of its delivery record sends that page again on restart,
        // with the same key, which the receiving app drops: rare (1 in 100 trials when measured), never lost.
        #expect(duplicates <= max(1, trials / 20), "\(duplicates) duplicate deliveries in \(trials) trials")
    }

    /// The broker stops mid-incident and comes back: the daemon is back within 5 s of its return, subscribed, with
    /// the same incident and detectors; a smoke alarm the sensors report at QoS 1 before it reconnects (queued for its
    /// persistent session) is processed.
    @Test func theBrokerGoingAwayMidIncidentLosesNothing() async throws {
        let outage = Self.long ? 60 : 5
        let persist = try CLI.temporaryDirectory().path
        let broker = try TestBroker(TestBroker.Options(extraConfiguration: ["persistence true", "persistence_location \(persist)/"]))
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        // A slow reconnect, so that the sensor's message is queued for the daemon's session before it is back.
        let config = try CLI.write(daemonConfig(port: broker.port, selfCancel: 2)
            .replacingOccurrences(of: #""initialDelay": 0.1, "maximumDelay": 0.5"#, with: #""initialDelay": 2, "maximumDelay": 2"#), "c.json", in: dir)
        let daemon = try RunningDaemon(config: config, stateDirectory: dir.path + "/state", directory: dir.path)
        defer { daemon.stop() }
        _ = try #require(await daemon.waitFor("READY=1"), "no READY=1: \(daemon.stderr)")
        let before = try broker.subscribe("#", qos: 1)
        try await before.waitUntilSubscribed()
        try broker.publish(topic: "zigbee2mqtt/hallway radar", message: #"{"presence":true,"fall_down_status":"fall"}"#, qos: 1)
        let page = try #require(await before.waitForMessage(timeout: .seconds(15)) { $0.topic == "phones/anna" }, "\(daemon.stderr)")
        let v = try JSONParser.parse(page.payload)
        let incident = try #require(v["incident"]?.stringValue)
        before.stop()

        broker.stop()
        try await Task.sleep(for: .seconds(outage))
        try broker.start()
        let back = ContinuousClock.now
        try broker.publish(topic: "zigbee2mqtt/kitchen smoke", message: #"{"smoke":true,"battery":80}"#, qos: 1)
        let after = try broker.subscribe("#", qos: 1)
        defer { after.stop() }
        try await after.waitUntilSubscribed()
        let online = await after.waitForMessage(timeout: .seconds(10)) { $0.topic == "caremonitord/linda/status" && $0.payload == "online" }
        #expect(online != nil, "the daemon did not say online after the broker came back: \(daemon.stderr)")
        let reconnect = Self.seconds(ContinuousClock.now - back)
        #expect(reconnect <= 5, "back \(reconnect) s after the broker")
        let leak = await after.waitForMessage(timeout: .seconds(15)) {
            $0.topic == "caremonitord/linda/events" && $0.payload.contains(#""kind":"smoke""#)
        }
        #expect(leak != nil, "the smoke alarm reported while the daemon was reconnecting was lost: \(daemon.stderr)")
        try broker.publish(topic: "caremonitord/linda/incidents/\(incident)/ack",
                           message: #"{"member":"anna","action":"resolve","token":"\#(v["token"]?.stringValue ?? "")"}"#, qos: 1)
        #expect(await after.waitForMessage(timeout: .seconds(10)) { $0.topic == "phones/anna" && $0.payload.lowercased().contains("all clear") } != nil,
                "the incident opened before the outage did not carry on: \(daemon.stderr)")
        #expect(daemon.process.exitStatus == nil)
        print("fault campaign broker outage: \(outage) s, daemon back \(Int(reconnect * 1000)) ms after the broker, "
              + "smoke alarm queued for its session \(leak == nil ? "LOST" : "processed"), incident carried on")
    }
}

/// Counts the incidents Linda's journal opened, as `incidents` reads it.
enum IncidentsOnDisk {
    static func opened(_ state: String) -> Int {
        ((try? IncidentJournal.read(directory: state, person: "linda")) ?? []).filter { $0["input"]?["open"] != nil }.count
    }
}
