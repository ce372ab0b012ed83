import CareSupport
import Foundation
import Testing
import TestSupport

/// Runs the built `careMonitord` executable (next to the test bundle) the way a user or a script does.
enum CLI {
    static var executable: String {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return me.appendingPathComponent("careMonitord").path
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    struct Result {
        var status: CareSupport.ExitStatus
        var stdout: String
        var stderr: String
        var code: Int32 { if case .exited(let c) = status { c } else { -1 } }
        /// The last line on stderr parsed as JSON (replay's summary).
        var summary: JSONObject? {
            guard let last = stderr.split(separator: "\n").last else { return nil }
            return (try? JSONParser.parse(String(last)))?.objectValue
        }
    }

    static func run(_ arguments: [String], timeout: Duration = .seconds(60)) throws -> Result {
        let r = try ChildProcess.run(executable: executable, arguments: arguments, outputLimit: 1 << 22, timeout: timeout)
        return Result(status: r.status, stdout: r.standardOutput.text, stderr: r.standardError.text)
    }

    static func temporaryDirectory() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("cm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// Linda's config file for a test broker, with these sources (JSON, without the brackets).
    static func brokerConfig(_ broker: TestBroker, sources: String, in dir: URL) throws -> String {
        try write("""
        {"person": {"id": "linda", "timezone": "Europe/London"},
         "broker": {"host": "127.0.0.1", "port": \(broker.port)},
         "sources": [\(sources)]}
        """, "c.json", in: dir)
    }

    static func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        let p = dir.appendingPathComponent(name).path
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

let minimalConfig = """
{ "person":  { "id": "linda", "timezone": "Europe/London" },
  "broker":  { "host": "127.0.0.1", "port": 1883 },
  "sources": [ { "preset": "zigbee2mqtt" },
               { "topic": "wearable/+/accel", "format": "accel", "placement": "wrist" } ] }
"""

@Suite("careMonitord command line")
struct CommandLineTests {
    @Test func explainPrintsSourceDeviceAndReadingsOfAZigbeeContactOpened() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(minimalConfig, "c.json", in: dir)
        let r = try CLI.run(["explain", "--config", config, "--topic", "zigbee2mqtt/dining room/ac power",
                             "--payload", #"{"contact":false,"linkquality":12}"#])
        #expect(r.code == 0, "\(r.stderr)")
        let out = try #require(try JSONParser.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue)
        #expect(out["source"] == "zigbee2mqtt")
        #expect(out["device"] == "dining room/ac power")
        let readings = try #require(out["readings"]?.arrayValue)
        let contact = try #require(readings.first { $0["signal"] == "contact" })
        #expect(contact["value"] == .bool(false), "Zigbee2MQTT contact:false means open")
        #expect(contact["field"] == "contact")
        #expect(contact["raw"] == .bool(false))
    }

    @Test func explainGivesTheAccelerometerAxesAsArraysInG() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(minimalConfig, "c.json", in: dir)
        let r = try CLI.run(["explain", "--config", config, "--topic", "wearable/band1/accel",
                             "--payload", #"{"t0":1795392000,"hz":100,"unit":"m/s2","x":[9.80665,0],"y":[0,0],"z":[0,-9.80665]}"#])
        #expect(r.code == 0, "\(r.stderr)")
        let out = try #require(try JSONParser.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue)
        #expect(out["device"] == "band1")
        let x = try #require(out["readings"]?.arrayValue?.first { $0["field"] == "x" })
        #expect(x["unit"] == "g")
        #expect(x["value"]?.arrayValue?.compactMap(\.doubleValue) == [1, 0])
    }

    @Test func explainExitsSixtyFiveWithAReasonForATruncatedPayload() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(minimalConfig, "c.json", in: dir)
        let r = try CLI.run(["explain", "--config", config, "--topic", "zigbee2mqtt/hall", "--payload", #"{"occupancy":tr"#])
        #expect(r.code == 65)
        #expect(r.stderr.contains("zigbee2mqtt"))
        #expect(r.stderr.contains("column"))
    }

    @Test func explainExitsZeroWithNoReadingsForADiscoveryMessage() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(#"{"person":{"id":"linda","timezone":"UTC"},"sources":[{"preset":"zigbee2mqtt"}]}"#, "c.json", in: dir)
        let r = try CLI.run(["explain", "--config", config, "--topic", "zigbee2mqtt/bridge/event",
                             "--payload", #"{"type":"device_leave","data":{"ieee_address":"0x00158d0001"}}"#])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"readings\":[]"))
    }

    @Test func badConfigExitsSeventyEightNamingFileLineColumnAndFieldOfEveryProblem() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write("""
        {"person": {"id": "linda", "timezone": "Europe/Nowhere"},
         "broker": {"port": 99999},
         "sources": [{"preset": "zigbee3mqtt"}]}
        """, "bad.json", in: dir)
        let r = try CLI.run(["explain", "--config", config, "--topic", "x", "--payload", "1"])
        #expect(r.code == 78)
        #expect(r.stderr.contains("bad.json:1:"), "\(r.stderr)")
        #expect(r.stderr.contains("person.timezone"))
        #expect(r.stderr.contains("broker.port"))
        #expect(r.stderr.contains("sources[0]"))
        #expect(r.stderr.contains("zigbee2mqtt"), "an unknown preset lists the known ones")
        let syntax = try CLI.write("{\"person\": {\"id\": \"linda\",}}", "syntax.json", in: dir)
        let s = try CLI.run(["replay", "--config", syntax, "x.ndjson"])
        #expect(s.code == 78)
        #expect(s.stderr.contains("syntax.json:1:27"), "\(s.stderr)")
    }

    @Test func replayReportsMalformedLinesByFileAndLineAndCountsEverything() throws {
        let seeds = CLI.repository.appendingPathComponent("seeds")
        let r = try CLI.run(["replay", "--config", seeds.appendingPathComponent("linda-morning.config.json").path,
                             seeds.appendingPathComponent("linda-morning.capture.ndjson").path])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stderr.contains("linda-morning.capture.ndjson:10:"))
        let s = try #require(r.summary, "no JSON summary as the last line on stderr: \(r.stderr)")
        for key in ["messages", "malformed", "unmatched", "rejected", "readings", "samples", "wallSeconds", "samplesPerSecond"] {
            #expect(s[key]?.doubleValue != nil, "summary lacks \(key)")
        }
    }

    /// The example config is the documentation: it must load, every section of it (sources, detectors, circle).
    @Test func theExampleConfigLoadsWithEverySection() throws {
        let example = CLI.repository.appendingPathComponent("examples/linda.json").path
        let r = try CLI.run(["explain", "--config", example, "--topic", "zigbee2mqtt/hall", "--payload", #"{"occupancy":true}"#])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("warning"), "\(r.stderr)")
        let seeds = CLI.repository.appendingPathComponent("seeds")
        let replay = try CLI.run(["replay", "--config", example, seeds.appendingPathComponent("linda-morning.capture.ndjson").path])
        #expect(replay.code == 0, "detectors and circle of the example must build: \(replay.stderr)")
    }

    @Test func replayOfAMissingCaptureExitsSixtySix() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(minimalConfig, "c.json", in: dir)
        let r = try CLI.run(["replay", "--config", config, dir.appendingPathComponent("nope.ndjson").path])
        #expect(r.code == 66)
        #expect(r.stderr.contains("nope.ndjson"))
    }

    /// Every scenario in seeds/ replays to the summary and events its .expect.json states.
    @Test func everySeedReplaysToItsExpectedOutcome() throws {
        let seeds = CLI.repository.appendingPathComponent("seeds")
        let names = try FileManager.default.contentsOfDirectory(atPath: seeds.path)
            .filter { $0.hasSuffix(".capture.ndjson") }.map { String($0.dropLast(".capture.ndjson".count)) }
        #expect(!names.isEmpty)
        for name in names.sorted() {
            let expect = try #require(try JSONParser.parse(String(contentsOf: seeds.appendingPathComponent("\(name).expect.json"), encoding: .utf8)).objectValue)
            let r = try CLI.run(["replay", "--config", seeds.appendingPathComponent("\(name).config.json").path,
                                 seeds.appendingPathComponent("\(name).capture.ndjson").path])
            #expect(r.code == 0, "\(name): \(r.stderr)")
            let summary = try #require(r.summary, "\(name): no summary")
            for m in try #require(expect["summary"]?.objectValue).members {
                #expect(summary[m.key] == m.value, "\(name): \(m.key) is \(summary[m.key].map { "\($0)" } ?? "missing"), expected \(m.value)")
            }
            let events = r.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
            if let expected = expect["events"]?.arrayValue {
                #expect(events.count == expected.count, "\(name): \(events.count) events, expected \(expected.count)")
                for (got, want) in zip(events, expected) {
                    #expect(got == want, "\(name): event \(got) differs from the expected \(want)")
                }
            }
            // "includes": events that must appear in this order (each given by some of its fields), others between.
            var next = events.startIndex
            for want in expect["includes"]?.arrayValue ?? [] {
                guard let at = events[next...].firstIndex(where: { SeedExpectation.matches($0, want) }) else {
                    Issue.record("\(name): no event like \(want) after event \(next) of \(events.count)")
                    break
                }
                next = at + 1
            }
            // "excludes": no event may be like any of these.
            for unwanted in expect["excludes"]?.arrayValue ?? [] {
                let found = events.filter { SeedExpectation.matches($0, unwanted) }
                #expect(found.isEmpty, "\(name): unexpected \(found)")
            }
            // "paged": exactly who got a notification, the person herself included.
            if let paged = expect["paged"]?.arrayValue {
                let got = Set(events.filter { $0["type"]?.stringValue == "notification" }.compactMap { $0["member"]?.stringValue })
                #expect(got == Set(paged.compactMap(\.stringValue)), "\(name): paged \(got.sorted())")
            }
        }
    }

    /// record subscribes like the daemon, writes what mosquitto_sub -F %j writes, and replay reads it back.
    @Test func recordThenReplayRoundTripsThroughARealBroker() throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.brokerConfig(broker, sources: #"{"preset": "zigbee2mqtt"}, {"topic": "wearable/+/accel", "format": "accel"}"#, in: dir)
        // Retained messages reach the recorder as soon as it subscribes: no race with its start.
        try broker.publish(topic: "zigbee2mqtt/front door", message: #"{"contact":false,"battery":97}"#, qos: 1, retain: true)
        try broker.publish(topic: "wearable/band1/accel", message: #"{"t0":1795392000,"hz":50,"x":[0.1,0.2,0.3],"y":[1,1,1],"z":[0,0,0]}"#, qos: 1, retain: true)
        try broker.publish(topic: "elsewhere/x", message: "not subscribed", qos: 1, retain: true)
        let capture = dir.appendingPathComponent("rec.ndjson").path
        let rec = try CLI.run(["record", "--config", config, "--out", capture, "--duration", "2"])
        #expect(rec.code == 0, "\(rec.stderr)")
        let lines = try String(contentsOfFile: capture, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "recorded: \(lines)")
        let r = try CLI.run(["replay", "--config", config, capture])
        let s = try #require(r.summary, "\(r.stderr)")
        #expect(s["messages"] == 2)
        #expect(s["rejected"] == 0)
        #expect(s["samples"] == 3)
        #expect(s["readings"] == 2)
    }

    /// The demo is the mission: the real daemon on a private broker; a wristband fall escalates from Linda's TV to
    /// Anna, then Ben, Carol and the care line (a real webhook); Ben's claim and his arrival through the front door
    /// reach everyone; the all-clear ends it; the journal's response times close it. Nothing is left running.
    @Test func demoShowsTheCircleHandlingAFallAndLeavesNothingRunning() throws {
        let r = try CLI.run(["demo"], timeout: .seconds(90))
        #expect(r.code == 0, "\(r.stderr)\n\(r.stdout.suffix(1500))")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func first(_ who: String, _ what: String) -> Int? { lines.firstIndex { $0.contains(who) && $0.contains(what) } }
        let tv = try #require(first("Linda's TV", "Did you fall?"), "\(r.stdout)")
        let anna = try #require(first("Anna's phone", "Fall detected"))
        let ben = try #require(first("Ben's phone", "Anna (daughter) paged"))
        let centre = try #require(first("(webhook)", "Fall detected"))
        let going = try #require(first("Anna's phone", "Ben (neighbour) is going"))
        let arrived = try #require(first("Anna's phone", "confirmed by front door"))
        let clear = try #require(first("Anna's phone", "All clear"))
        #expect(tv < anna && anna < ben && ben < going && centre < going && going < arrived && arrived < clear, "\(r.stdout)")
        #expect(first("Ben's phone", "All clear") != nil && first("(webhook)", "All clear") != nil)
        #expect(r.stdout.contains("within target"), "no response times: \(r.stdout.suffix(600))")
        // A process still exiting when the demo returns gets two seconds; one still there after them was left running.
        var left = ""
        for _ in 0..<20 {
            left = try ChildProcess.run(executable: "/usr/bin/pgrep", arguments: ["-a", "-f", "careMonitord-demo-"], timeout: .seconds(10)).standardOutput.text
            if left.isEmpty { break }
            usleep(100_000)
        }
        #expect(left.isEmpty, "the demo left processes running: \(left)")
    }
}

/// How a seed's expect.json states an event loosely: `{"type": "incident", "state": "opened"}` is like every
/// incident opening; nested objects match the same way, field by field.
enum SeedExpectation {
    static func matches(_ event: JSONValue, _ pattern: JSONValue) -> Bool {
        guard let p = pattern.objectValue else { return event == pattern }
        guard let e = event.objectValue else { return false }
        return p.members.allSatisfy { m in e[m.key].map { matches($0, m.value) } ?? false }
    }
}
