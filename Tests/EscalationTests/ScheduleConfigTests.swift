import CareSupport
@testable import Escalation
import Foundation
import Testing

@Suite("Escalation config: digest, heartbeat, weekly tests")
struct ScheduleConfigTests {
    func issues(_ text: String) -> [ConfigIssue] {
        switch EscalationConfig.decode(text: text, file: "care.json") {
        case .success: return []
        case .failure(let e): return e.issues
        }
    }

    @Test func defaultsAreADigestAt1800ToFamilyAndAHeartbeatAt0900WithNoPing() throws {
        let c = try EscalationConfig.decode(text: #"{"person": {"id": "linda"}}"#).get()
        #expect(c.digest == DigestSettings(at: TimeOfDay("18:00")!, recipients: Tier(roles: [.family])))
        #expect(c.heartbeat == HeartbeatSettings(at: TimeOfDay("09:00")!, url: nil, everySeconds: 300))
        #expect(Fixture.config.members.allSatisfy { $0.weeklyTest == nil })
    }

    @Test func newKeysDecode() throws {
        let c = ScheduleFixture.config(#", "digest": {"at": "19:15", "members": ["ben"]}, "heartbeat": {"at": "08:00", "url": "https://hc-ping.com/abc-123", "every": 120}"#,
                                       circle: #", "weeklyTest": {"day": "sun", "at": "17:00"}"#,
                                       anna: #", "weeklyTest": {"answerMinutes": 15}"#)
        #expect(c.digest == DigestSettings(at: TimeOfDay("19:15")!, recipients: Tier(members: ["ben"])))
        #expect(c.heartbeat.at == TimeOfDay("08:00")! && c.heartbeat.everySeconds == 120 && c.heartbeat.url?.reveal() == "https://hc-ping.com/abc-123")
        #expect(c.members[0].weeklyTest == WeeklyTest(day: 0, at: TimeOfDay("17:00")!, answerMinutes: 15), "the member's setting refines the circle's")
        #expect(c.members[1].weeklyTest == WeeklyTest(day: 0, at: TimeOfDay("17:00")!, answerMinutes: 60))
        let bath = c.policies.policy(kind: "bathroom-dwell", severity: .info)
        #expect(bath.digestAt == TimeOfDay("08:00")! && bath.digestRecipients == Tier(members: ["ben"]))
        #expect(c.policies.policy(kind: "routine-drift", severity: .info).digestRecipients == nil)
    }

    @Test func memberCanOptOutOfTheCirclesWeeklyTest() {
        let c = ScheduleFixture.config(circle: #", "weeklyTest": {"day": "sun", "at": "17:00"}"#, anna: #", "weeklyTest": false"#)
        #expect(c.members[0].weeklyTest == nil && c.members[1].weeklyTest != nil)
    }

    @Test func digestOnlyPolicyWithTiersSendsItsDigestToTheMembersTheyName() throws {
        let c = try EscalationConfig.decode(text: #"""
        {"circle": {"members": [{"id": "ben", "role": "neighbour", "consent": true, "contacts": [{"notifier": "mqtt", "address": "b"}]}]},
         "policies": [{"kind": "drift", "digestOnly": true, "tiers": [{"members": ["ben"]}, {"roles": ["professional"], "after": 60}]}]}
        """#).get()
        #expect(c.policies.policy(kind: "drift", severity: .info).digestRecipients == Tier(members: ["ben"], roles: [.professional]))
    }

    @Test func everyScheduleProblemIsReportedInOnePassWithItsPath() {
        let found = issues(#"""
        {
          "circle": {"weeklyTest": {"day": "someday", "at": "7pm", "answerMinutes": 1, "often": true},
                     "members": [{"id": "anna", "role": "family", "consent": true, "weeklyTest": "yes"}]},
          "policies": [{"kind": "drift", "digestOnly": true, "digest": {"at": "25:00", "members": ["zoe"], "roles": ["cousin"]}}],
          "digest": {"at": "6pm", "to": ["anna"]},
          "heartbeat": {"url": "hc-ping.com/secret-uuid-123", "every": 5, "at": "24:00"}
        }
        """#)
        let paths = Set(found.map(\.path))
        for p in ["circle.weeklyTest.day", "circle.weeklyTest.at", "circle.weeklyTest.answerMinutes", "circle.weeklyTest.often",
                  "circle.members[0].weeklyTest", "policies[0].digest.at", "policies[0].digest.members[0]", "policies[0].digest.roles[0]",
                  "digest.at", "digest.to", "heartbeat.url", "heartbeat.every", "heartbeat.at"] {
            #expect(paths.contains(p), "\(p) missing from \(paths.sorted())")
        }
        #expect(!found.contains { $0.message.contains("secret-uuid-123") }, "the heartbeat URL embeds a token: never echoed")
    }

    @Test func heartbeatURLCanBeReadFromACredentialFile() throws {
        let dir = temporaryDirectory()
        try "https://hc-ping.com/from-file-uuid\n".write(toFile: dir + "/hb", atomically: true, encoding: .utf8)
        let c = try EscalationConfig.decode(text: #"{"heartbeat": {"url": {"file": "\#(dir)/hb"}}}"#).get()
        #expect(c.heartbeat.url?.reveal() == "https://hc-ping.com/from-file-uuid")
        #expect(HeartbeatPinger(url: c.heartbeat.url!).shown == "https://hc-ping.com/<secret>")
    }
}
