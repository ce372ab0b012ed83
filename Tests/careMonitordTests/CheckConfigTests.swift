import CareSupport
import Foundation
import Testing

/// One validation for every command: `check-config` shows what any command would refuse, all at once.
@Suite("check-config and help")
struct CheckConfigTests {
    static let fiveModules = """
    {
      "person": {"id": "linda", "timezone": "Europe/Lodnon"},
      "brokr": {"host": "127.0.0.1"},
      "broker": {"host": "127.0.0.1", "port": "eighteen"},
      "sources": [ {"preset": "zigbee2mqtt"}, {"preset": "zwave-magic"} ],
      "detectors": {"fal": {}},
      "notifiers": {"tv": {"kind": "mqt"}},
      "circle": {"members": [{"id": "anna", "name": "Anna", "role": "famly", "consent": true,
                              "contacts": [{"notifier": "phones", "address": "phones/anna"}]}]},
      "polices": []
    }
    """

    /// Errors of every section (person, broker, sources, detectors, notifiers, circle, unknown keys) in one pass, in
    /// file order, each `FILE:LINE:COL: field.path: …`; a misspelt key names the one meant; exit 78.
    @Test func everyProblemOfEverySectionInOnePassWithFileLineColumnAndField() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(Self.fiveModules, "bad.json", in: dir)
        let r = try CLI.run(["check-config", config])
        #expect(r.code == 78, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let expected: [(String, String)] = [
            ("bad.json:2:", "person.timezone"), ("bad.json:3:", "brokr: unknown key (did you mean \"broker\"?)"),
            ("bad.json:4:", "broker.port"), ("bad.json:5:", "sources[1].preset"), ("bad.json:6:", "detectors.fal"),
            ("bad.json:7:", "notifiers.tv.kind"), ("bad.json:8:", "circle.members[0].role"),
            ("bad.json:10:", "polices: unknown key (did you mean \"policies\"?)"),
        ]
        for (at, what) in expected {
            #expect(lines.contains { $0.contains(at) && $0.contains(what) }, "missing \(at) \(what) in:\n\(r.stderr)")
        }
        #expect(r.stderr.contains("tasmota"), "an unknown preset lists the known ones")
        #expect(r.stderr.contains("known kinds: mqtt"), "an unknown notifier kind lists the known ones")
        let numbers = lines.compactMap { l in l.split(separator: ":").dropFirst().first.flatMap { Int($0) } }
        #expect(numbers == numbers.sorted(), "problems not in file order")
        // Every command loads configs the same way: explain refuses the circle's errors too.
        let e = try CLI.run(["explain", "--config", config, "--topic", "zigbee2mqtt/x", "--payload", "{}"])
        #expect(e.code == 78)
        #expect(e.stderr.contains("circle.members[0].role"), "\(e.stderr)")
    }

    @Test func aJSONSyntaxErrorIsLocatedAtItsLineAndColumn() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write("{\n  \"person\": {\"id\": \"linda\", \"timezone\": \"Europe/London\"},\n  \"sources\": [ {\"preset\": \"zigbee2mqtt\"} }\n}\n", "syntax.json", in: dir)
        let r = try CLI.run(["check-config", "--config", config])
        #expect(r.code == 78)
        #expect(r.stderr.contains("syntax.json:3:42:"), "\(r.stderr)")
    }

    /// The example config, which documents every key, is valid and has nothing to warn about.
    @Test func theExampleConfigChecksCleanAndCheckConfigWritesNothing() throws {
        let example = CLI.repository.appendingPathComponent("examples/linda.json").path
        let before = try FileManager.default.contentsOfDirectory(atPath: CLI.repository.appendingPathComponent("examples").path)
        let r = try CLI.run(["check-config", example])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ok"), "\(r.stdout)")
        #expect(!r.stderr.contains("warning"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: CLI.repository.appendingPathComponent("examples").path) == before)
    }

    /// `COMMAND --help` prints that command's usage and exits 0, for every command the top-level help lists.
    @Test func everyCommandAnswersHelpWithItsUsageAndExitZero() throws {
        let top = try CLI.run(["--help"])
        #expect(top.code == 0)
        let names = top.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }.compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(names.count >= 13, "\(top.stdout)")
        for name in names {
            let r = try CLI.run([name, "--help"])
            #expect(r.code == 0, "\(name) --help: exit \(r.code) \(r.stderr)")
            #expect(r.stdout.hasPrefix("usage: careMonitord \(name)"), "\(name) --help: \(r.stdout)")
        }
        let v = try CLI.run(["--version"])
        #expect(v.code == 0)
        #expect(v.stdout.hasPrefix("careMonitord "))
    }

    @Test func replayOfFilesWithNoValidLineExitsSixtyFive() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(minimalConfig, "c.json", in: dir)
        let capture = try CLI.write("not a capture\n{\"also\": \"not\"}\n", "bad.ndjson", in: dir)
        let r = try CLI.run(["replay", "--config", config, capture])
        #expect(r.code == 65, "\(r.stderr)")
        #expect(r.summary?["messages"]?.doubleValue == 0, "the summary is still the last line: \(r.stderr)")
    }

    /// What `run` would refuse, `check-config` refuses: a time-zone folder is not a zone; the broker's reconnect
    /// delays in the wrong order.
    @Test func checkConfigRefusesWhatRunWouldRefuse() throws {
        let dir = try CLI.temporaryDirectory()
        let tz = try CLI.write(#"{"person": {"id": "linda", "timezone": "Europe"}, "sources": [{"preset": "zigbee2mqtt"}]}"#, "tz.json", in: dir)
        let r1 = try CLI.run(["check-config", tz])
        #expect(r1.code == 78 && r1.stderr.contains("person.timezone"), "\(r1.stderr)")
        let rc = try CLI.write(#"{"person": {"id": "linda", "timezone": "Europe/London"}, "broker": {"reconnect": {"initialDelay": 5, "maximumDelay": 1}}, "sources": [{"preset": "zigbee2mqtt"}]}"#, "rc.json", in: dir)
        let r2 = try CLI.run(["check-config", rc])
        #expect(r2.code == 78 && r2.stderr.contains("rc.json:1:") && r2.stderr.contains("broker"), "\(r2.stderr)")
    }

    /// A member nobody can hear back from, an inline token and a token sent in clear are all reported.
    @Test func checkConfigWarnsOfMembersWhoCannotAnswerAndOfTokensInTheConfig() throws {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write("""
        {"person": {"id": "linda", "timezone": "Europe/London"}, "sources": [{"preset": "zigbee2mqtt"}],
         "notifiers": {"mail": {"kind": "email"}, "push": {"kind": "ntfy", "url": "https://ntfy.example", "token": "tk_inline"}},
         "circle": {"members": [
           {"id": "anna", "name": "Anna", "role": "family", "consent": true, "contacts": [{"notifier": "mail", "address": "anna@example.org"}]},
           {"id": "ben", "name": "Ben", "role": "neighbour", "consent": true, "contacts": [{"notifier": "push", "address": "ben-topic"}]}]}}
        """, "warn.json", in: dir)
        let r = try CLI.run(["check-config", config])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stderr.contains("circle.members[0]: Anna (family) cannot answer a page"), "\(r.stderr)")
        #expect(r.stderr.contains("circle.members[1]: Ben (neighbour) cannot answer"), "ntfy buttons need a replyTopic: \(r.stderr)")
        #expect(r.stderr.contains("notifiers.push.token: a secret written in the config"), "\(r.stderr)")
        #expect(!r.stderr.contains("tk_inline"))
        let clear = try CLI.write("""
        {"person": {"id": "linda", "timezone": "Europe/London"}, "sources": [{"preset": "zigbee2mqtt"}],
         "notifiers": {"push": {"kind": "ntfy", "url": "http://ntfy.example", "token": {"file": "/etc/hostname"}}},
         "circle": {"members": [{"id": "ben", "name": "Ben", "role": "neighbour", "consent": true,
                                 "contacts": [{"notifier": "push", "address": "ben-topic"}]}]}}
        """, "clear.json", in: dir)
        let r2 = try CLI.run(["check-config", clear])
        #expect(r2.code == 78 && r2.stderr.contains("notifiers.push.url") && r2.stderr.contains("in clear"), "\(r2.stderr)")
    }
}
