import CareSupport
import Foundation
import Testing
import TestSupport

/// The tools for real recordings: a window cut out of a capture, a capture published into a broker at its own
/// pace, progress only on a terminal.
@Suite("replay tools")
struct ReplayToolsTests {
    static func seed(_ name: String, _ part: String) -> String {
        CLI.repository.appendingPathComponent("seeds/\(name).\(part)").path
    }

    /// Eight days of a quiet week; --from/--to (local times in Europe/London) keep only the Monday morning.
    @Test func fromAndToCutAWindowInThePersonsZone() throws {
        let capture = Self.seed("quiet-normal-day", "capture.ndjson")
        let lines = try String(contentsOfFile: capture, encoding: .utf8).split(separator: "\n")
        let inWindow = lines.filter { $0.contains("\"tst\":\"2026-11-23T0") && !$0.contains("\"tst\":\"2026-11-23T09") }.count
        let r = try CLI.run(["replay", "--config", Self.seed("quiet-normal-day", "config.json"),
                             "--from", "2026-11-23", "--to", "2026-11-23T09:00", capture])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.summary?["messages"] == .number(JSONNumber(Double(inWindow))), "\(r.stderr)")
        #expect(inWindow > 0 && inWindow < lines.count)
    }

    @Test func aWindowThatEndsBeforeItStartsIsAUsageErrorNamingTheOptions() throws {
        let r = try CLI.run(["replay", "--config", Self.seed("quiet-normal-day", "config.json"),
                             "--from", "2026-11-23T10:00", "--to", "2026-11-23T09:00", Self.seed("quiet-normal-day", "capture.ndjson")])
        #expect(r.code == 64)
        #expect(r.stderr.contains("--from 2026-11-23T10:00 is not before --to 2026-11-23T09:00"), "\(r.stderr)")
        let bad = try CLI.run(["learn", "--config", Self.seed("quiet-normal-day", "config.json"), "--state-dir", "/tmp/unused",
                               "--from", "monday", Self.seed("quiet-normal-day", "capture.ndjson")])
        #expect(bad.code == 64 && bad.stderr.contains("--from: \"monday\" is not a date"), "\(bad.stderr)")
    }

    /// The smoke alarm night (14 messages over 12 minutes) published at 360× its pace: every message reaches a
    /// subscriber of a real broker, in order, with its payload, and it takes about two seconds, not none.
    @Test func replayIntoABrokerPublishesEveryMessageAtTheCapturesPace() async throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let subscriber = try broker.subscribe("#", qos: 1)
        defer { subscriber.stop() }
        try await subscriber.waitUntilSubscribed()
        let capture = Self.seed("smoke-alarm-at-night", "capture.ndjson")
        let expected = try String(contentsOfFile: capture, encoding: .utf8).split(separator: "\n").map { line -> (String, String) in
            let o = try #require(try JSONParser.parse(String(line)).objectValue)
            return (try #require(o["topic"]?.stringValue), try #require(o["payload"]?.stringValue))
        }
        let started = ContinuousClock.now
        let r = try CLI.run(["replay", "--config", Self.seed("smoke-alarm-at-night", "config.json"),
                             "--into", "127.0.0.1:\(broker.port)", "--speed", "360", capture])
        let took = ContinuousClock.now - started
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.summary?["published"] == .number(JSONNumber(Double(expected.count))), "\(r.stderr)")
        #expect(took > .seconds(1.5), "published in \(took): not paced")
        _ = await subscriber.waitForMessage(timeout: .seconds(10)) { _ in subscriber.messages.count >= expected.count }
        // mosquitto_sub prints "topic payload": topics with spaces are compared with their payload.
        #expect(subscriber.messages.map { "\($0.topic) \($0.payload)" } == expected.map { "\($0.0) \($0.1)" })
    }

    @Test func replayIntoAnAddressWithoutAPortIsAUsageError() throws {
        let r = try CLI.run(["replay", "--config", Self.seed("smoke-alarm-at-night", "config.json"), "--into", "localhost",
                             Self.seed("smoke-alarm-at-night", "capture.ndjson")])
        #expect(r.code == 64 && r.stderr.contains("expected HOST:PORT"), "\(r.stderr)")
    }

    /// Not a terminal (the tests' pipes): nothing but problems and the summary on stderr.
    @Test func noProgressWhenStderrIsNotATerminal() throws {
        let r = try CLI.run(["replay", "--config", Self.seed("fall-no-answer-tier1", "config.json"),
                             Self.seed("fall-no-answer-tier1", "capture.ndjson")])
        #expect(r.code == 0)
        #expect(r.stderr.split(separator: "\n").count == 1 && !r.stderr.contains("\r"), "\(r.stderr)")
    }

    /// Three retained messages of about 700 bytes each with --rotate-size 1024: three files, named after their
    /// first message, that replay reads back as one recording.
    @Test func recordRotatesItsFileBySize() throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.brokerConfig(broker, sources: #"{"preset": "zigbee2mqtt"}"#, in: dir)
        let padding = String(repeating: "x", count: 600)
        for room in ["kitchen", "hall", "bathroom"] {
            try broker.publish(topic: "zigbee2mqtt/\(room) motion", message: #"{"occupancy":true,"note":"\#(padding)"}"#, qos: 1, retain: true)
        }
        let r = try CLI.run(["record", "--config", config, "--out", dir.appendingPathComponent("day.ndjson").path,
                             "--duration", "2", "--rotate-size", "1024", "--rotate-daily"])
        #expect(r.code == 0, "\(r.stderr)")
        let summary = try #require(r.summary, "\(r.stderr)")
        let files = try #require(summary["files"]?.arrayValue).compactMap(\.stringValue)
        #expect(files.count == 3, "\(files)")
        #expect(files.allSatisfy { $0.hasPrefix(dir.appendingPathComponent("day-").path) && $0.hasSuffix(".ndjson") }, "\(files)")
        let replayed = try CLI.run(["replay", "--config", config] + files)
        #expect(replayed.summary?["messages"] == 3, "\(replayed.stderr)")
    }

    /// An event reduced to what anonymising must keep: type, local clock time, kind, state or action, tier.
    static func shapes(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.map { e in
            let time = e["time"]?.stringValue.map { String($0.dropFirst(11)) } ?? ""
            return [e["type"]?.stringValue, time, e["kind"]?.stringValue, e["state"]?.stringValue ?? e["action"]?.stringValue,
                    e["tier"].map { "\($0)" }].map { $0 ?? "" }.joined(separator: " ")
        }
    }

    /// A fall with the circle answering, and a week learned then a night-time door: anonymised with its config, the
    /// capture holds none of the names or dates and replays to the same events at the same local times.
    @Test(arguments: ["fall-no-answer-tier1", "front-door-at-3am", "away-on-holiday"])
    func anonymisedCaptureKeepsNoNameOrDateAndReplaysToTheSameEvents(_ name: String) throws {
        let dir = try CLI.temporaryDirectory()
        let out = dir.appendingPathComponent("shared.ndjson").path, config = dir.appendingPathComponent("shared.json").path
        let r = try CLI.run(["anonymise", "--config", Self.seed(name, "config.json"), "--out", out, "--config-out", config,
                             Self.seed(name, "capture.ndjson")])
        #expect(r.code == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let configText = try String(contentsOfFile: config, encoding: .utf8)
        for secret in ["linda", "Linda", "anna", "Anna", "\"ben\"", "Ben", "2026-", "202611", "hallway", "bathroom door",
                       "phones/anna", "Leeds"] {
            #expect(!text.contains(secret), "\(name): the capture still holds \(secret)")
            #expect(!configText.contains(secret), "\(name): the config still holds \(secret)")
        }
        #expect(text.contains("\"tst\":\"2001-01-0"), "moved to the first week of 2001")
        let original = try CLI.run(["replay", "--config", Self.seed(name, "config.json"), Self.seed(name, "capture.ndjson")])
        let shared = try CLI.run(["replay", "--config", config, out])
        #expect(shared.code == 0, "\(shared.stderr)")
        #expect(!Self.shapes(original.stdout).isEmpty)
        #expect(Self.shapes(shared.stdout) == Self.shapes(original.stdout))
        #expect(shared.summary?["messages"] == original.summary?["messages"])
    }

    @Test func anonymiseNamesDevicesByTheWordsThatPlaceThem() throws {
        let dir = try CLI.temporaryDirectory()
        let capture = try CLI.write([
            #"{"tst":"2026-07-01T08:00:00.000000Z+0000","topic":"zigbee2mqtt/Linda's bathroom PIR","qos":0,"retain":0,"payloadlen":18,"payload":"{\"occupancy\":true}"}"#,
            #"{"tst":"2026-07-01T08:01:00.000000Z+0000","topic":"zigbee2mqtt/back door","qos":0,"retain":0,"payloadlen":17,"payload":"{\"contact\":false}"}"#,
            #"{"tst":"2026-07-01T08:02:00.000000Z+0000","topic":"zigbee2mqtt/kettle plug","qos":0,"retain":0,"payloadlen":14,"payload":"{\"power\":2100}"}"#,
            #"{"tst":"2026-07-01T08:03:00.000000Z+0000","topic":"zigbee2mqtt/Mum's fridge temp","qos":0,"retain":0,"payloadlen":19,"payload":"{\"temperature\":4.5}"}"#,
        ].joined(separator: "\n") + "\n", "c.ndjson", in: dir)
        let config = try CLI.write(#"{"person": {"id": "linda", "timezone": "Europe/London"}, "sources": [{"preset": "zigbee2mqtt"}]}"#, "c.json", in: dir)
        let out = dir.appendingPathComponent("a.ndjson").path
        let r = try CLI.run(["anonymise", "--config", config, "--out", out, "--shift-days", "-7", capture])
        #expect(r.code == 0, "\(r.stderr)")
        let topics = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONParser.parse(String($0))["topic"]?.stringValue
        }
        #expect(topics == ["zigbee2mqtt/bathroom-1", "zigbee2mqtt/entrance-2", "zigbee2mqtt/kettle-3", "zigbee2mqtt/fridge-4"])
        #expect(try String(contentsOfFile: out, encoding: .utf8).contains("\"tst\":\"2026-06-24T08:00:00"))
    }
}
