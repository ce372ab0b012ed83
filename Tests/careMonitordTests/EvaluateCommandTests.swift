import CareSupport
import Foundation
import Testing

/// `careMonitord evaluate` on a small synthetic capture: SOS presses (the alarms family passes them through as
/// `sos` detections) scored against labels.
@Suite("careMonitord evaluate")
struct EvaluateCommandTests {
    /// Only the alarms family: the score of `sos` must not depend on how the other families are tuned.
    static let config = """
    { "person": { "id": "linda", "timezone": "Europe/London" },
      "sources": [ { "preset": "zigbee2mqtt" } ],
      "detectors": { "fall": { "enabled": false }, "routine": { "enabled": false },
                     "thresholds": { "enabled": false }, "health": { "enabled": false } } }
    """

    /// One `mosquitto_sub -F %j` capture line.
    static func line(_ time: String, _ topic: String, _ payload: String) -> String {
        let escaped = payload.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return #"{"tst":"\#(time).000000Z+0000","topic":"\#(topic)","qos":0,"retain":0,"payloadlen":\#(payload.utf8.count),"payload":"\#(escaped)"}"#
    }

    /// A day: a kitchen thermometer at the start and the end (the span), three SOS presses.
    static let capture = [
        line("2026-11-23T14:00:00", "zigbee2mqtt/kitchen/temp", #"{"temperature":20.5}"#),
        line("2026-11-23T14:10:00", "zigbee2mqtt/sos button", #"{"action":"emergency"}"#),
        line("2026-11-23T15:00:00", "zigbee2mqtt/sos button", #"{"action":"emergency"}"#),
        line("2026-11-23T16:00:00", "zigbee2mqtt/sos button", #"{"action":"emergency"}"#),
        line("2026-11-24T14:00:00", "zigbee2mqtt/kitchen/temp", #"{"temperature":20.4}"#),
    ].joined(separator: "\n") + "\n"

    /// Two presses labelled (delays 0 s and 10 s), one label without a press (missed); the 16:00 press is not
    /// labelled (a false alarm).
    static let labels = """
    {"start":"2026-11-23T14:10:00Z","end":"2026-11-23T14:11:00Z","kind":"sos","note":"pressed on purpose"}
    {"start":"2026-11-23T14:59:50Z","end":"2026-11-23T15:00:30Z","kind":"sos"}

    {"start":"2026-11-23T17:00:00Z","end":"2026-11-23T17:05:00Z","kind":"sos"}
    """

    @Test func evaluateScoresFoundMissedFalseAlarmsPerDayAndDelays() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(Self.config, "c.json", in: dir)
        let capture = try CLI.write(Self.capture, "day.ndjson", in: dir)
        let labels = try CLI.write(Self.labels, "labels.ndjson", in: dir)
        let r = try CLI.run(["evaluate", "--config", config, "--labels", labels, capture])
        #expect(r.code == 0, "\(r.stderr)")
        let report = try #require(try JSONParser.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue)
        #expect(report["days"] == .number(1))
        let sos = try #require(report["kinds"]?["sos"]?.objectValue)
        #expect(sos["labels"] == .number(3))
        #expect(sos["found"] == .number(2))
        #expect(sos["missed"] == .number(1))
        #expect(sos["falseAlarms"] == .number(1))
        #expect(sos["falseAlarmsPerDay"] == .number(1))
        #expect(sos["delaySeconds"]?["median"] == .number(5))
        #expect(sos["delaySeconds"]?["p90"] == .number(9))
        #expect(sos["missedLabelStarts"] == .array([.string("2026-11-23T17:00:00.000Z")]))
        #expect(report["kinds"]?.objectValue?.keys == ["sos"], "only the alarms family is enabled")
        // The table is on stderr, for people.
        #expect(r.stderr.contains("sos"))
        #expect(r.stderr.contains("false/day"))
    }

    @Test func toleranceExtendsTheLabelWindowAndTableFormatPrintsOnlyTheTable() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(Self.config, "c.json", in: dir)
        let capture = try CLI.write(Self.capture, "day.ndjson", in: dir)
        // The 16:00 press is 10 minutes after this label's end: found with a 15-minute tolerance.
        let labels = try CLI.write(#"{"start":"2026-11-23T15:40:00Z","end":"2026-11-23T15:50:00Z","kind":"sos"}"#, "l.ndjson", in: dir)
        let r = try CLI.run(["evaluate", "--config", config, "--labels", labels, "--tolerance", "900", "--format", "table", capture])
        #expect(r.code == 0, "\(r.stderr)")
        let row = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("sos") })
        let cells = row.split(separator: " ")
        #expect(cells[1] == "1" && cells[2] == "1" && cells[3] == "0", "labels, found, missed: \(row)")
        #expect(cells[4] == "2", "the two other presses are false alarms: \(row)")
        #expect(!r.stdout.contains("{"), "table only")
    }

    /// The oracle knew the day's quiets: after the fridge at 10:00 the longest normal quiet in the kitchen that began
    /// within an hour of 10:00 lasted 25 min (the 90-min one began at 08:00: another hour), so a stop labelled from
    /// 10:10 could have been found at 10:25: 15 min.
    @Test func theOracleDelayComesFromTheDaysLongestNormalQuietInTheContext() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(#"{"person": {"id": "linda", "timezone": "UTC"}, "sources": [{"preset": "zigbee2mqtt"}]}"#, "c.json", in: dir)
        let capture = try CLI.write([
            Self.line("2026-11-23T08:00:00", "zigbee2mqtt/kitchen_fridge", #"{"contact":false}"#),
            Self.line("2026-11-23T09:30:00", "zigbee2mqtt/kitchen_fridge", #"{"contact":true}"#),
            Self.line("2026-11-23T09:55:00", "zigbee2mqtt/kitchen_fridge", #"{"contact":false}"#),
            Self.line("2026-11-23T10:00:00", "zigbee2mqtt/kitchen_fridge", #"{"contact":true}"#),
            Self.line("2026-11-23T22:30:00", "zigbee2mqtt/kitchen_fridge", #"{"contact":false}"#),
        ].joined(separator: "\n") + "\n", "day.ndjson", in: dir)
        let labels = try CLI.write(#"{"start":"2026-11-23T10:10:00Z","end":"2026-11-23T22:10:00Z","kind":"inactivity"}"#, "l.ndjson", in: dir)
        let r = try CLI.run(["evaluate", "--config", config, "--labels", labels, "--format", "json", capture])
        #expect(r.code == 0, "\(r.stderr)")
        let report = try #require(try JSONParser.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue)
        let label = try #require(report["labelResults"]?.arrayValue?.first)
        #expect(label["oracleDelaySeconds"] == .number(900), "\(label)")
        #expect(label["context"] == .string("kitchen"))
        #expect(report["kinds"]?["inactivity"]?["oracle"]?["delaySeconds"]?["median"] == .number(900))
    }

    @Test func aBadLabelLineNamesTheFileAndLine() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(Self.config, "c.json", in: dir)
        let capture = try CLI.write(Self.capture, "day.ndjson", in: dir)
        for (text, needle) in [
            ("{\"start\":\"2026-11-23T14:10:00Z\",\"end\":\"2026-11-23T14:11:00Z\",\"kind\":\"sos\"}\n{\"start\":\"yesterday\",\"end\":\"2026-11-23T14:11:00Z\",\"kind\":\"sos\"}", "start"),
            ("\n\n{\"start\":\"2026-11-23T14:10:00Z\",\"end\":\"2026-11-23T14:11:00Z\",\"kind\":\"falls\"}", "falls"),
            ("{\"start\":\"2026-11-23T14:10:00Z\",\"end\":\"2026-11-23T14:11:00Z\"", "JSON"),
        ] {
            let labels = try CLI.write(text, "labels.ndjson", in: dir)
            let r = try CLI.run(["evaluate", "--config", config, "--labels", labels, capture])
            #expect(r.code == 65, "\(r.stderr)")
            let lineNumber = text.split(separator: "\n", omittingEmptySubsequences: false).count
            #expect(r.stderr.contains("labels.ndjson:\(lineNumber):"), "\(r.stderr)")
            #expect(r.stderr.contains(needle), "\(r.stderr)")
        }
    }

    @Test func evaluateWithoutLabelsOrCapturesIsAUsageError() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(Self.config, "c.json", in: dir)
        #expect(try CLI.run(["evaluate", "--config", config, "x.ndjson"]).code == 64)
        #expect(try CLI.run(["evaluate", "--config", config, "--labels", "l.ndjson"]).code == 64)
    }
}
