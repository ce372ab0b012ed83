import CareSupport
import Escalation
import Foundation
import Testing
import TestSupport

/// What the circle, the TV app and Home Assistant see: the retained topics `run` publishes, checked on a real
/// mosquitto against the shapes the daemon documents and Home Assistant's discovery schema.
@Suite("live state, Home Assistant discovery, status and away", .serialized)
struct LiveStateTests {
    static func config(port: Int, dashboard: Bool = true, person: String = "linda") -> String {
        daemonConfig(port: port)
            .replacingOccurrences(of: #""id": "linda""#, with: #""id": "\#(person)""#)
            .replacingOccurrences(of: "caremonitord/linda/tv", with: "caremonitord/\(person)/tv")
            .replacingOccurrences(of: #" "circle":"#, with: dashboard ? #" "homeAssistant": {"dashboardMember": "anna"}, "circle":"# : #" "circle":"#)
    }

    /// Keys Home Assistant's MQTT platforms document for the entities the daemon announces.
    static let common: Set<String> = ["name", "unique_id", "default_entity_id", "availability_topic", "payload_available",
                                      "payload_not_available", "device", "origin", "icon", "json_attributes_topic"]
    static let allowed: [String: Set<String>] = [
        "binary_sensor": common.union(["state_topic", "value_template", "device_class"]),
        "sensor": common.union(["state_topic", "value_template", "state_class"]),
        "button": common.union(["command_topic", "command_template", "qos", "retain"]),
    ]
    static let required: [String: Set<String>] = [
        "binary_sensor": ["state_topic", "value_template"], "sensor": ["state_topic", "value_template"],
        "button": ["command_topic", "command_template"],
    ]

    /// `value_json.a.b` paths of a template.
    static func paths(_ template: String) -> [[String]] {
        var out: [[String]] = []
        var rest = Substring(template)
        while let r = rest.range(of: "value_json.") {
            let tail = rest[r.upperBound...]
            let path = tail.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
            out.append(path.split(separator: ".").map(String.init))
            rest = tail.dropFirst(path.count)
        }
        return out
    }

    @Test func runPublishesIncidentCoverageCircleAndDiscoveryThatMatchTheSchemaAndTheDashboardAnswers() async throws {
        let home = try await LiveHome.start { Self.config(port: $0) }
        defer { home.stop() }
        let (broker, dir, configFile, all, d) = (home.broker, home.dir, home.configFile, home.all, home.daemon)

        // Discovery: one device, availability on the status topic, documented keys only, templates that read
        // fields the live topics carry.
        #expect(await eventually { all.messages.filter { $0.topic.hasPrefix("homeassistant/") }.count >= 16 }, "\(all.messages.map(\.topic))")
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/coverage" } != nil)
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/circle" } != nil)
        let discovery = all.messages.filter { $0.topic.hasPrefix("homeassistant/") }
        var live: [String: JSONValue] = [:]
        for m in all.messages where m.topic.hasPrefix("caremonitord/linda/") && !m.payload.isEmpty {
            if let v = try? JSONParser.parse(m.payload) { live[m.topic] = v }
        }
        var objects = Set<String>()
        for m in discovery {
            let parts = m.topic.split(separator: "/").map(String.init)
            #expect(parts.count == 5 && parts[2] == "caremonitord_linda" && parts[4] == "config", "\(m.topic)")
            #expect(m.qos == 1)
            let c = try JSONParser.parse(m.payload)
            let component = parts[1]
            let keys = Set(c.objectValue?.keys ?? [])
            let allowed = try #require(Self.allowed[component], "unexpected component \(component)")
            #expect(keys.isSubset(of: allowed), "\(m.topic): \(keys.subtracting(allowed))")
            #expect(Self.required[component]!.isSubset(of: keys), "\(m.topic)")
            #expect(c["unique_id"]?.stringValue == "caremonitord_linda_\(parts[3])")
            #expect(c["default_entity_id"]?.stringValue == "\(component).caremonitord_linda_\(parts[3])")
            #expect(c["availability_topic"]?.stringValue == "caremonitord/linda/status")
            #expect(c["device"]?["identifiers"]?.arrayValue?.first?.stringValue == "caremonitord_linda")
            #expect(c["origin"]?["name"]?.stringValue == "careMonitord")
            #expect(!m.payload.contains("token") && !m.payload.contains("phones/"), "\(m.topic) carries a secret or an address")
            objects.insert(parts[3])
            if let state = c["state_topic"]?.stringValue {
                let payload = try #require(live[state], "\(m.topic) reads \(state), which holds nothing")
                for path in Self.paths(c["value_template"]?.stringValue ?? "") {
                    var v: JSONValue? = payload
                    for k in path { v = v?[k] }
                    #expect(v != nil, "\(m.topic): \(path.joined(separator: ".")) is not in \(state)")
                }
            }
            if component == "button" {
                #expect(c["command_topic"]?.stringValue == "caremonitord/linda/dashboard/ack")
                #expect(c["command_template"]?.stringValue?.contains("sensor.caremonitord_linda_incident") == true)
            }
        }
        #expect(objects.isSuperset(of: ["incident_open", "open_incidents", "incident", "going", "last_activity", "away", "coverage",
                                        "circle_available", "protection_fall", "answer_claim"]), "\(objects.sorted())")
        let circle = try #require(live["caremonitord/linda/circle"])
        #expect(circle["members"]?.arrayValue?.first?["relationship"]?.stringValue == "daughter")
        #expect(circle["members"]?.arrayValue?.first?["available"]?.boolValue == true)
        let coverage = try #require(live["caremonitord/linda/coverage"])
        #expect(coverage["lines"]?.arrayValue?.contains { $0.stringValue == "fall detection: on" } == true, "\(coverage)")
        #expect(coverage["protections"]?["fall"]?["working"]?.boolValue == true)

        // A fall: the incident's retained state says who was paged; the dashboard claims as Anna.
        try broker.publish(topic: "zigbee2mqtt/hallway radar", message: #"{"presence":true,"fall_down_status":"fall"}"#, qos: 1)
        let paged = try #require(await all.waitForMessage(timeout: .seconds(15)) {
            $0.topic.hasPrefix("caremonitord/linda/incidents/") && $0.retained == false && $0.payload.contains(#""paged":[{"#)
        }, "no incident state naming who was paged: \(d.stderr)")
        let incident = try JSONParser.parse(paged.payload)
        let id = try #require(incident["incident"]?.stringValue)
        #expect(paged.topic == "caremonitord/linda/incidents/\(id)")
        #expect(incident["kind"]?.stringValue == "fall")
        #expect(incident["paged"]?.arrayValue?.first?["member"]?.stringValue == "anna")
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/incidents" && $0.payload.contains(#""latest":"\#(id)""#) } != nil)
        try broker.publish(topic: "caremonitord/linda/dashboard/ack", message: #"{"incident":"\#(id)","action":"claim","eta":15}"#, qos: 1)
        let going = try #require(await all.waitForMessage {
            $0.topic == "caremonitord/linda/incidents/\(id)" && $0.payload.contains(#""going":[{"#)
        }, "the dashboard's claim did not show who is going: \(d.stderr)")
        #expect(try JSONParser.parse(going.payload)["going"]?.arrayValue?.first?["eta"]?.doubleValue == 15)
        #expect(try JSONParser.parse(going.payload)["state"]?.stringValue == "claimed")

        // `status` reads the retained topics.
        let s = try CLI.run(["status", "--config", configFile])
        #expect(s.code == 0, "\(s.stderr)")
        #expect(s.stdout.contains("online") && s.stdout.contains(id) && s.stdout.contains("going: Anna (daughter), there in about 15 min"), "\(s.stdout)")
        print("status for a home with an open incident:\n\(s.stdout)")
        let j = try CLI.run(["status", "--config", configFile, "--json"])
        #expect(try JSONParser.parse(j.stdout)["incidents"]?.arrayValue?.count == 1, "\(j.stdout)")

        // Resolved: the incident's retained state is emptied.
        try broker.publish(topic: "caremonitord/linda/dashboard/ack", message: #"{"incident":"\#(id)","action":"resolve"}"#, qos: 1)
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/incidents/\(id)" && $0.payload.isEmpty } != nil,
                "the closed incident's retained state was not cleared: \(d.stderr)")
        let retainedTopics = all.messages.filter { m in ["incidents", "coverage", "circle"].contains { m.topic.hasPrefix("caremonitord/linda/\($0)") } }
        #expect(!retainedTopics.contains { $0.payload.contains("token") || $0.payload.contains("phones/") }, "a retained topic carries a token or an address")

        // Another person in the config: Linda's entities are removed (empty retained configs).
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
        let other = try CLI.write(Self.config(port: broker.port, person: "margaret"), "c.json", in: dir)
        let d2 = try RunningDaemon(config: other, stateDirectory: dir.path + "/state", directory: try CLI.temporaryDirectory().path)
        defer { d2.stop() }
        _ = try #require(await d2.waitFor("READY=1"), "no READY=1; stderr:\n\(d2.stderr)")
        #expect(await eventually {
            discovery.allSatisfy { old in all.messages.contains { $0.topic == old.topic && $0.payload.isEmpty } }
        }, "Linda's entities were not removed")
        #expect(await all.waitForMessage { $0.topic.hasPrefix("homeassistant/binary_sensor/caremonitord_margaret/") } != nil)
        #expect(d2.process.terminate(SIGTERM))
        #expect(d2.process.wait(timeout: .seconds(5)) == .exited(0))
    }

    @Test func awayShowsInCoverageTellsTheCircleOnceSurvivesARestartAndEndsByItself() async throws {
        let home = try await LiveHome.start { Self.config(port: $0) }
        defer { home.stop() }
        let (broker, dir, configFile, all) = (home.broker, home.dir, home.configFile, home.all)
        var d = home.daemon
        defer { d.stop() }

        // The command: a date in her time zone, confirmed by the daemon's coverage.
        let r = try CLI.run(["away", "--config", configFile, "--until", "2099-12-24", "--reason", "holiday"], timeout: .seconds(20))
        #expect(r.code == 0, "\(r.stderr)\n\(d.stderr)")
        #expect(r.stderr.contains("the end of Thursday 24 December"), "\(r.stderr)")
        #expect(await all.waitForMessage { $0.topic == "phones/anna" && $0.payload.contains("is away until") } != nil, "the circle was not told")
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/events" && $0.payload.contains(#""type":"away""#) } != nil)

        // From the TV app, seconds from now: it shows, survives a restart, then ends by itself.
        let until = RFC3339.format(WallTime(milliseconds: Int64((Date().timeIntervalSince1970 + 12) * 1000)))
        try broker.publish(topic: "caremonitord/linda/away", message: #"{"until":"\#(until)","reason":"visiting"}"#, qos: 1)
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/coverage" && $0.payload.contains(#""reason":"visiting""#) } != nil,
                "coverage does not show the away: \(d.stderr)")
        #expect(await eventually { all.messages.filter { $0.topic == "phones/anna" && $0.payload.contains("is away until") }.count >= 2 },
                "the circle was not told about the second away")
        let coverage = try #require(all.messages.last { $0.topic == "caremonitord/linda/coverage" })
        #expect(coverage.payload.contains("routine and inactivity: paused while away"), "\(coverage.payload)")
        #expect(coverage.payload.contains("fall detection: on"), "\(coverage.payload)")
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
        let told = all.messages.filter { $0.topic == "phones/anna" && $0.payload.contains("is away until") }.count
        let mark = all.messages.count
        d = try RunningDaemon(config: configFile, stateDirectory: dir.path + "/state", directory: try CLI.temporaryDirectory().path)
        _ = try #require(await d.waitFor("READY=1"), "no READY=1 after the restart; stderr:\n\(d.stderr)")
        #expect(await eventually {
            all.messages.dropFirst(mark).contains { $0.topic == "caremonitord/linda/coverage" && $0.payload.contains(#""reason":"visiting""#) }
        }, "the away did not survive the restart: \(d.stderr)")
        #expect(await eventually(timeout: .seconds(20)) {
            all.messages.last { $0.topic == "caremonitord/linda/coverage" }?.payload.contains(#""away":null"#) == true
        }, "the away did not end by itself: \(d.stderr)")
        #expect(await all.waitForMessage { $0.topic == "caremonitord/linda/events" && $0.payload.contains(#""state":"ended""#) } != nil)
        #expect(all.messages.filter { $0.topic == "phones/anna" && $0.payload.contains("is away until") }.count == told,
                "the circle was told twice about one away")
        #expect(d.process.terminate(SIGTERM))
        #expect(d.process.wait(timeout: .seconds(5)) == .exited(0))
    }

    /// An away message in a capture pauses the routine at its place in the day and ends at its `until`: `replay`
    /// prints both, and tells the circle once (recorded, not sent).
    @Test func replayShowsAnAwayMessageOfTheCaptureStartingAndEnding() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(daemonConfig(port: 1883), "c.json", in: dir)
        func line(_ t: String, _ topic: String, _ payload: String) -> String {
            let escaped = payload.replacingOccurrences(of: "\"", with: "\\\"")
            return #"{"tst":"\#(t)Z+0000","topic":"\#(topic)","qos":1,"retain":0,"payloadlen":\#(payload.utf8.count),"payload":"\#(escaped)"}"#
        }
        let capture = [
            line("2026-11-23T09:00:00.000000", "zigbee2mqtt/hallway motion", #"{"occupancy":true,"battery":90}"#),
            line("2026-11-23T09:01:00.000000", "caremonitord/linda/away", #"{"until":"2026-11-23T11:00","reason":"visiting"}"#),
            line("2026-11-23T10:00:00.000000", "zigbee2mqtt/hallway motion", #"{"occupancy":true,"battery":90}"#),
            line("2026-11-23T12:00:00.000000", "zigbee2mqtt/hallway motion", #"{"occupancy":true,"battery":90}"#),
        ].joined(separator: "\n") + "\n"
        let file = try CLI.write(capture, "away.ndjson", in: dir)
        let r = try CLI.run(["replay", "--config", config, file])
        #expect(r.code == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let started = try #require(lines.firstIndex { $0.contains(#""type":"away""#) && $0.contains(#""state":"started""#) }, "\(r.stdout)")
        let ended = try #require(lines.firstIndex { $0.contains(#""type":"away""#) && $0.contains(#""state":"ended""#) }, "\(r.stdout)")
        #expect(started < ended)
        #expect(lines[started].contains(#""until":"2026-11-23T11:00:00.000Z""#), "\(lines[started])")
        #expect(lines[started].contains(#""reason":"visiting""#))
        #expect(lines.filter { $0.contains(#""type":"notification""#) && $0.contains("is away until") }.count == 1, "\(r.stdout)")
    }
}
