import CareSupport
@testable import Escalation
import Foundation
import Testing

@Suite("Escalation config")
struct ConfigTests {
    func issues(_ text: String) -> [ConfigIssue] {
        switch EscalationConfig.decode(text: text, file: "care.json") {
        case .success: return []
        case .failure(let e): return e.issues
        }
    }

    @Test func lindasCircleDecodes() throws {
        let c = Fixture.config
        #expect(c.person.name == "Linda" && c.person.timeZone.identifier == "Europe/London")
        #expect(c.members.map(\.id) == ["anna", "ben", "carol", "centre", "dave"])
        #expect(c.members[0].label == "Anna (daughter)" && c.members[3].label == "Leeds Telecare (monitoring centre)")
        #expect(c.members[0].consent == Consent(given: true, recordedAt: RFC3339.parse("2026-01-10")))
        #expect(c.members[4].consent.given == false)
        #expect(c.members[2].quietHours == QuietHours(from: TimeOfDay("22:00")!, to: TimeOfDay("08:00")!, criticalOverride: false))
        let fall = c.policies.policy(kind: "fall", severity: .critical)
        #expect(fall.selfCancelSeconds == 60 && fall.tiers.count == 3 && fall.tiers[2].roles == [.monitoringCentre])
        #expect(fall.inhibits == ["inactivity"])
        #expect(c.notifiers["mqtt"]?.kind == "mqtt", "a contact naming a kind with usable defaults gets an instance")
        #expect(c.journal.retentionDays == 365 && c.targets == ResponseTargets(answeredSeconds: 60, attendedMinutes: 45))
    }

    static func circle(notifiers: String, contact: String) -> String {
        #"{"notifiers": {"# + notifiers + #"}, "circle": {"members": [{"id": "anna", "role": "family", "consent": true, "contacts": ["# + contact + "]}]}}"
    }

    @Test func matrixTakesRoomIdsOfRoomVersion12AndMemberUserIdsPagedInTheInstancesRoom() throws {
        let matrix = #""matrix": {"homeserver": "https://m.example", "accessToken": "t""#
        let v12 = "!Vrvtn9MXmHBOEXnHUZC0YvWJDR7FedCGS5aWsHF2aBc"
        #expect(issues(Self.circle(notifiers: matrix + "}", contact: #"{"notifier": "matrix", "address": "\#(v12)"}"#)).isEmpty)
        #expect(issues(Self.circle(notifiers: matrix + #", "room": "\#(v12)"}"#, contact: #"{"notifier": "matrix", "address": "@anna:m.example"}"#)).isEmpty)
        let noRoom = issues(Self.circle(notifiers: matrix + "}", contact: #"{"notifier": "matrix", "address": "@anna:m.example"}"#))
        #expect(noRoom.map(\.path) == ["circle.members[0].contacts[0].address"])
        #expect(noRoom.first?.message.contains("needs the instance's room") == true)
        let bad = issues(Self.circle(notifiers: matrix + #", "room": "family:m.example"}"#, contact: #"{"notifier": "matrix", "address": "! spaced"}"#))
        #expect(bad.map(\.path) == ["notifiers.matrix.room", "circle.members[0].contacts[0].address"])
    }

    @Test func gotifyAddressesNameEachMembersOwnApplicationToken() throws {
        let gotify = #""gotify": {"url": "https://g.example", "tokens": {"anna": "tk_anna1", "ben": {"credential": "gotify-ben"}}}"#
        let dir = temporaryDirectory()
        try "tk_ben22\n".write(toFile: dir + "/gotify-ben", atomically: true, encoding: .utf8)
        let c = try withCredentialsDirectory(dir) { try EscalationConfig.decode(text: Self.circle(notifiers: gotify, contact: #"{"notifier": "gotify", "address": "anna"}"#)).get() }
        let conf = try #require(c.notifiers["gotify"] as? GotifyNotifier.Configuration)
        #expect(conf.tokens.mapValues { $0.reveal() } == ["anna": "tk_anna1", "ben": "tk_ben22"] && conf.token == nil)
        let unknown = withCredentialsDirectory(dir) { issues(Self.circle(notifiers: gotify, contact: #"{"notifier": "gotify", "address": "carol"}"#)) }
        #expect(unknown.map(\.path) == ["circle.members[0].contacts[0].address"])
        #expect(unknown.first?.message.contains("is not one of anna, ben") == true)
        let shared = withCredentialsDirectory(dir) { issues(Self.circle(notifiers: gotify, contact: #"{"notifier": "gotify"}"#)) }
        #expect(shared.first?.message.contains("has no shared token") == true)
        let neither = issues(#"{"notifiers": {"gotify": {"url": "https://g.example"}}}"#)
        #expect(neither.map(\.path) == ["notifiers.gotify.token"])
    }

    @Test func configWithNoCircleIsValidWithDefaults() throws {
        let c = try EscalationConfig.decode(text: #"{"person": {"id": "linda"}}"#).get()
        #expect(c.members.isEmpty && c.person.name == "linda")
        #expect(c.policies.policy(kind: "fall", severity: .critical) == Policy.fallback(kind: "fall", severity: .critical))
        #expect(try EscalationConfig.decode(text: "{}").get().members.isEmpty)
    }

    @Test func everyProblemIsReportedInOnePassWithItsFieldPath() {
        let found = issues(#"""
        {
          "person": {"id": "linda", "timezone": "Europe/Leeds"},
          "circle": {"members": [
            {"id": "anna", "name": "Anna", "role": "family", "consent": true,
             "contacts": [{"notifier": "sms", "address": "call me"}]},
            {"id": "ben", "role": "neigbour", "consent": true, "contacts": [{"notifier": "telegram", "address": "x"}],
             "quietHours": {"from": "25:00", "to": "07:00"}},
            {"id": "carol", "role": "volunteer", "contacts": [], "langauge": "en"}
          ]},
          "policies": [{"kind": "fall", "tiers": [{"members": ["zoe"], "after": -5}]}],
          "journal": {"retentionDays": 0}
        }
        """#)
        let paths = found.map(\.path)
        #expect(paths.contains("person.timezone"))
        #expect(paths.contains("circle.members[0].contacts[0].address"))
        #expect(paths.contains("circle.members[1].role"))
        #expect(paths.contains("circle.members[1].contacts[0].notifier"))
        #expect(paths.contains("circle.members[1].quietHours.from"))
        #expect(paths.contains("circle.members[2].consent"))
        #expect(paths.contains("circle.members[2].langauge"))
        #expect(paths.contains("policies[0].tiers[0].members[0]"))
        #expect(paths.contains("policies[0].tiers[0].after"))
        #expect(paths.contains("journal.retentionDays"))
        let role = found.first { $0.path == "circle.members[1].role" }!
        #expect(role.message.contains("neigbour") && role.message.contains("neighbour, volunteer"))
        let unknown = found.first { $0.path == "circle.members[1].contacts[0].notifier" }!
        #expect(unknown.message.contains("known kinds: mqtt, webhook, ntfy, gotify, pushover, matrix, email, sms, command"))
        #expect(found.first { $0.path == "circle.members[0].contacts[0].address" }!.position == JSONPosition(line: 5, column: 50))
    }

    @Test func errorDescriptionNamesFileLineColumnAndPath() {
        guard case .failure(let e) = EscalationConfig.decode(text: "{\n  \"journal\": {\"retentionDays\": \"a year\"}\n}", file: "care.json") else {
            Issue.record("should fail"); return
        }
        #expect(e.description.contains("care.json:2:32: journal.retentionDays: expected a number, found a string"))
    }

    @Test func syntaxErrorsHaveLineAndColumn() {
        let found = issues("{\n  \"circle\": {\"members\": [}\n}")
        #expect(found.count == 1 && found[0].position?.line == 2)
    }

    @Test func notifierNeedingSettingsSaysWhere() {
        let found = issues(#"{"circle": {"members": [{"id": "anna", "role": "family", "consent": true, "contacts": [{"notifier": "gotify"}]}]}}"#)
        #expect(found.map(\.path) == ["circle.members[0].contacts[0].notifier"])
        #expect(found[0].message.contains("needs settings under notifiers.gotify"))
    }

    @Test func secretsAreReadFromFilesAndNeverPrinted() throws {
        let dir = temporaryDirectory()
        try "tk_fromfile123\n".write(toFile: dir + "/ntfy-token", atomically: true, encoding: .utf8)
        let c = try EscalationConfig.decode(text: #"{"notifiers": {"ntfy": {"url": "https://ntfy.example", "token": {"file": "\#(dir)/ntfy-token"}}}}"#).get()
        let ntfy = try #require(c.notifiers["ntfy"] as? NtfyNotifier.Configuration)
        #expect(ntfy.token?.reveal() == "tk_fromfile123")
        #expect(!"\(ntfy)".contains("tk_fromfile123") && !String(reflecting: ntfy).contains("tk_fromfile123"))
        let missing = issues(#"{"notifiers": {"matrix": {"homeserver": "https://m.example", "accessToken": {"file": "/nonexistent/tok"}}}}"#)
        #expect(missing.map(\.path) == ["notifiers.matrix.accessToken.file"])
        #expect(missing[0].message.contains("/nonexistent/tok") && missing[0].message.contains("LoadCredential="))
    }

    /// Sets `$CREDENTIALS_DIRECTORY` (nil: unsets it) for the duration of `body`.
    func withCredentialsDirectory<R>(_ dir: String?, _ body: () throws -> R) rethrows -> R {
        let before = getenv("CREDENTIALS_DIRECTORY").map { String(cString: $0) }
        defer { if let before { setenv("CREDENTIALS_DIRECTORY", before, 1) } else { unsetenv("CREDENTIALS_DIRECTORY") } }
        if let dir { setenv("CREDENTIALS_DIRECTORY", dir, 1) } else { unsetenv("CREDENTIALS_DIRECTORY") }
        return try body()
    }

    @Test func secretsAreReadFromSystemdCredentialsByNameAndErrorsNameTheField() throws {
        let dir = temporaryDirectory()
        try "tk_credential456\n".write(toFile: dir + "/gotify-token", atomically: true, encoding: .utf8)
        let text = #"{"notifiers": {"gotify": {"url": "https://g.example", "token": {"credential": "gotify-token"}}}}"#
        let c = try withCredentialsDirectory(dir) { try EscalationConfig.decode(text: text).get() }
        let gotify = try #require(c.notifiers["gotify"] as? GotifyNotifier.Configuration)
        #expect(gotify.token?.reveal() == "tk_credential456")
        #expect(!"\(gotify)".contains("tk_credential456"))

        let outside = withCredentialsDirectory(nil) { issues(text) }
        #expect(outside.map(\.path) == ["notifiers.gotify.token.credential"])
        #expect(outside.first?.message.contains("LoadCredential=gotify-token:") == true)
        let missing = withCredentialsDirectory(dir) {
            issues(#"{"notifiers": {"matrix": {"homeserver": "https://m.example", "accessToken": {"credential": "matrix-token"}}}}"#)
        }
        #expect(missing.map(\.path) == ["notifiers.matrix.accessToken.credential"])
        #expect(missing.first?.message.contains("systemd passed no credential 'matrix-token'") == true)
        let shapes = issues(#"{"notifiers": {"ntfy": {"token": {"credentials": "x"}}, "gotify": {"url": "https://g", "token": {}}}}"#)
        #expect(shapes.map(\.path).sorted() == ["notifiers.gotify.token", "notifiers.ntfy.token.credentials"])
    }

    @Test func unknownNotifierKindListsTheKnownOnes() {
        let found = issues(#"{"notifiers": {"pager": {"kind": "telegram"}}}"#)
        #expect(found.map(\.path) == ["notifiers.pager.kind"])
        #expect(found[0].message.contains("mqtt, webhook, ntfy, gotify, pushover, matrix, email, sms, command"))
    }

    @Test func everyRegisteredNotifierDecodesFromConfig() throws {
        let c = try EscalationConfig.decode(text: #"""
        {"notifiers": {
          "mqtt": {}, "hook": {"kind": "webhook", "url": "https://ha.local/api/webhook/x"}, "ntfy": {"replyTopic": "acks"},
          "gotify": {"url": "https://g.local", "token": "t"}, "pushover": {"token": "a"}, "matrix": {"homeserver": "https://m.org", "accessToken": "t"},
          "email": {}, "sms": {"spool": "/var/spool/sms"}, "speaker": {"kind": "command", "program": "/usr/local/bin/say"}
        }}
        """#).get()
        #expect(Set(c.notifiers.values.map(\.kind)) == Set(NotifierRegistry.standard.names))
        let running = NotifierRegistry.instantiate(c.notifiers, context: NotifierContext())
        #expect(Set(running.keys) == ["mqtt", "hook", "ntfy", "gotify", "pushover", "matrix", "email", "sms", "speaker"])
    }

    @Test func rfc3339RoundTripsWithMilliseconds() {
        let t = RFC3339.parse("2026-11-23T14:02:03.125Z")!
        #expect(RFC3339.format(t) == "2026-11-23T14:02:03.125Z")
        #expect(RFC3339.parse("2026-11-23T15:02:03.125+01:00") == t)
        #expect(RFC3339.parse("2026-11-23") == RFC3339.parse("2026-11-23T00:00:00Z"))
        #expect(RFC3339.format(WallTime(milliseconds: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.parse("2026-13-01") == nil && RFC3339.parse("yesterday") == nil)
    }
}
