import CareSupport
@testable import Escalation
import Foundation
import Testing

/// Linda's circle plus Sam, the technical member who looks after the gateway.
enum ScheduleFixture {
    static func config(_ extra: String = "", circle: String = "", anna: String = "") -> EscalationConfig {
        let text = #"""
        {
          "person": {"id": "linda", "name": "Linda", "timezone": "Europe/London"},
          "circle": {"members": [
            {"id": "anna", "name": "Anna", "role": "family", "relationship": "daughter", "consent": true,
             "contacts": [{"notifier": "mqtt", "address": "phones/anna"}]\#(anna)},
            {"id": "ben", "name": "Ben", "role": "neighbour", "consent": true, "contacts": [{"notifier": "mqtt", "address": "phones/ben"}]},
            {"id": "dave", "name": "Dave", "role": "family", "consent": false, "contacts": [{"notifier": "mqtt", "address": "phones/dave"}]},
            {"id": "sam", "name": "Sam", "role": "technical", "consent": true, "contacts": [{"notifier": "mqtt", "address": "ops/sam"}]}
          ]\#(circle)},
          "policies": [
            {"kind": "fall", "selfCancelSeconds": 60, "inhibits": ["inactivity"], "tiers": [{"members": ["anna"]}]},
            {"kind": "routine-drift", "digestOnly": true},
            {"kind": "bathroom-dwell", "severity": "info", "digestOnly": true, "digest": {"at": "08:00", "members": ["ben"]}}
          ]\#(extra)
        }
        """#
        switch EscalationConfig.decode(text: text) {
        case .success(let c): return c
        case .failure(let e): fatalError("\(e)")
        }
    }

    static func drift(at t: WallTime, detail: String = "up 70 min later than usual") -> Alert {
        Alert(person: "linda", kind: "routine-drift", severity: .info, time: t, detail: detail)
    }

    /// Moves the clock to a wall time (forward only) and runs the schedule.
    static func run(_ s: EngineTests.Setup, until t: WallTime) async {
        let d = t.milliseconds - s.clock.now().wall.milliseconds
        if d > 0 { s.clock.advance(by: .milliseconds(d)) }
        await s.engine.tick()
        await s.engine.runSchedule()
        await s.engine.waitForDeliveries()
    }

    static func at(_ text: String) -> WallTime { RFC3339.parse(text)! }  // November: London is UTC
}

extension EngineTests.Setup {
    /// What was delivered, leaving out the daily heartbeat to Sam (its own tests check it).
    var sent: [OutgoingNotification] { notifier.delivered.filter { $0.kind != "heartbeat" } }
}

@Suite("Daily digest")
struct DigestTests {
    @Test func digestEntriesGoOutOnceAtTheDigestTimeToTheFamilyWhoConsented() async throws {
        let s = EngineTests.Setup(config: ScheduleFixture.config())
        await ScheduleFixture.run(s, until: Fixture.start)
        #expect(await s.engine.receive(ScheduleFixture.drift(at: Fixture.start)) == .digest)
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T17:59:00Z"))
        #expect(s.sent.isEmpty)
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T18:00:00Z"))
        let sent = s.sent
        #expect(sent.map(\.member) == ["anna"], "family by default; Dave has not consented")
        #expect(sent.first?.key == "digest-linda-2026-11-23-1800/anna")
        #expect(sent.first?.purpose == .summary && sent.first?.actions == [])
        #expect(sent.first?.text == "Daily summary for Linda, 2026-11-23, for information (nobody needs to go): 14:02 routine drift: up 70 min later than usual.")
        #expect(await s.engine.digest.isEmpty)
        // Once a day: not again the same evening, and nothing the next day when nothing was collected.
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T18:30:00Z"))
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-24T18:00:00Z"))
        #expect(s.sent.count == 1)
        #expect(s.lines.all.contains { if case .notification(_, "digest-linda-2026-11-23-1800", "anna", "mqtt", 0, _) = $0 { true } else { false } })
    }

    @Test func policyDigestGoesToTheMembersItNamesAtItsOwnTime() async throws {
        let s = EngineTests.Setup(config: ScheduleFixture.config())
        await ScheduleFixture.run(s, until: Fixture.start)
        await s.engine.receive(Alert(person: "linda", kind: "bathroom-dwell", severity: .info, time: Fixture.start, detail: "45 min"))
        await s.engine.receive(ScheduleFixture.drift(at: Fixture.start))
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T18:00:00Z"))
        #expect(s.sent.map(\.member) == ["anna"])
        #expect(s.sent.first?.text.contains("bathroom") == false)
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-24T08:00:00Z"))
        #expect(s.sent.map(\.member) == ["anna", "ben"])
        #expect(s.sent.last?.key == "digest-linda-2026-11-24-0800/ben")
        #expect(s.sent.last?.text.contains("14:02 bathroom dwell: 45 min.") == true)
    }

    @Test func digestSettingChangesTheTimeAndRecipients() async throws {
        let s = EngineTests.Setup(config: ScheduleFixture.config(#", "digest": {"at": "20:30", "roles": ["neighbour"], "members": ["anna"]}"#))
        await ScheduleFixture.run(s, until: Fixture.start)
        await s.engine.receive(ScheduleFixture.drift(at: Fixture.start))
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T20:29:00Z"))
        #expect(s.sent.isEmpty)
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T20:30:00Z"))
        #expect(s.sent.map(\.member) == ["anna", "ben"])
    }

    @Test func restartKeepsWaitingEntriesAndNeverSendsADigestTwice() async throws {
        let dir = temporaryDirectory()
        do {
            let s = EngineTests.Setup(journal: true, dir: dir, config: ScheduleFixture.config())
            await ScheduleFixture.run(s, until: Fixture.start)
            await s.engine.receive(ScheduleFixture.drift(at: Fixture.start))
        }
        let sent: [OutgoingNotification]
        do {
            let s = EngineTests.Setup(journal: true, dir: dir, config: ScheduleFixture.config())
            s.clock.stepWall(to: ScheduleFixture.at("2026-11-23T15:00:00Z"))
            _ = try await s.engine.recover()
            #expect(await s.engine.digest.count == 1)
            await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T18:00:00Z"))
            sent = s.sent
        }
        #expect(sent.map(\.key) == ["digest-linda-2026-11-23-1800/anna"])
        let s = EngineTests.Setup(journal: true, dir: dir, config: ScheduleFixture.config())
        s.clock.stepWall(to: ScheduleFixture.at("2026-11-23T18:30:00Z"))
        let report = try await s.engine.recover()
        #expect(report.redelivered.isEmpty)
        #expect(await s.engine.digest.isEmpty)
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-23T18:31:00Z"))
        #expect(s.sent.isEmpty)
        // The transparency log lists it.
        let d = JournalQuery.disclosures(try IncidentJournal.read(directory: dir, person: "linda"))
        #expect(d.map(\.member) == ["anna"] && d.first?.incident == "digest-linda-2026-11-23-1800")
    }

    @Test func digestMissedWhileTheGatewayWasDownGoesOutAtStartUnderThatDaysKey() async throws {
        let dir = temporaryDirectory()
        do {
            let s = EngineTests.Setup(journal: true, dir: dir, config: ScheduleFixture.config())
            await ScheduleFixture.run(s, until: Fixture.start)
            await s.engine.receive(ScheduleFixture.drift(at: Fixture.start))
        }
        let s = EngineTests.Setup(journal: true, dir: dir, config: ScheduleFixture.config())
        s.clock.stepWall(to: ScheduleFixture.at("2026-11-24T09:00:00Z"))
        _ = try await s.engine.recover()
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-24T09:00:00Z"))
        #expect(s.sent.map(\.key) == ["digest-linda-2026-11-23-1800/anna"])
    }

    @Test func noDigestWhileTheWallClockIsImplausible() async throws {
        let s = EngineTests.Setup(config: ScheduleFixture.config())
        s.clock.stepWall(to: WallTime(seconds: 60))   // booted in 1970 without an RTC
        await s.engine.receive(ScheduleFixture.drift(at: Fixture.start))
        await ScheduleFixture.run(s, until: WallTime(seconds: 86_400 * 3))
        #expect(s.sent.isEmpty)
    }
}

@Suite("Heartbeat")
struct HeartbeatTests {
    @Test func dailyHeartbeatGoesToTechnicalMembersAtItsTimeOnceADay() async throws {
        let s = EngineTests.Setup(config: ScheduleFixture.config(#", "heartbeat": {"at": "09:30"}"#))
        await ScheduleFixture.run(s, until: Fixture.start)
        #expect(s.notifier.delivered.isEmpty, "a start after 09:30 does not send today's heartbeat")
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-24T09:29:00Z"))
        #expect(s.notifier.delivered.isEmpty)
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-24T09:30:00Z"))
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-24T12:00:00Z"))
        let sent = s.notifier.delivered
        #expect(sent.map(\.member) == ["sam"])
        #expect(sent.first?.key == "heartbeat-linda-2026-11-24/sam")
        #expect(sent.first?.text == "careMonitord at Linda's is running (2026-11-24T09:30:00.000Z): 0 open incidents, journal OK.")
    }

    @Test func heartbeatURLIsPingedAtStartThenEveryPeriodAndItsTokenNeverLogged() async throws {
        let server = TestHTTPServer()
        defer { server.stop() }
        let token = "0f9e8d7c-6b5a-4c3d-9e8f-7a6b5c4d3e2f"
        let s = EngineTests.Setup(config: ScheduleFixture.config(#", "heartbeat": {"url": "\#(server.baseURL)/ping/\#(token)", "every": 60}"#))
        await ScheduleFixture.run(s, until: Fixture.start)
        #expect(server.requests.map(\.method) == ["GET"])
        #expect(server.requests.first?.path == "/ping/\(token)")
        await ScheduleFixture.run(s, until: Fixture.start.adding(seconds: 59))
        #expect(server.requests.count == 1)
        await ScheduleFixture.run(s, until: Fixture.start.adding(seconds: 60))
        #expect(server.requests.count == 2)
        // The service fails: one warning, with the URL's token redacted.
        server.setBehaviour { _ in TestHTTPServer.Response(500, "down") }
        await ScheduleFixture.run(s, until: Fixture.start.adding(seconds: 120))
        await ScheduleFixture.run(s, until: Fixture.start.adding(seconds: 180))
        #expect(server.requests.count == 4)
        let warnings = s.logs.entries.filter { $0.level == .warning }.map(\.message)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("heartbeat ping to \(server.baseURL)/<secret> failed") == true)
        #expect(!s.logs.entries.contains { $0.message.contains(token) })
        // The technical member's heartbeat says so.
        _ = await s.engine.sendHeartbeat()
        #expect(s.notifier.delivered.last?.text.contains("The heartbeat URL cannot be reached") == true)
        server.setBehaviour { _ in TestHTTPServer.Response(200, "OK") }
        await ScheduleFixture.run(s, until: Fixture.start.adding(seconds: 240))
        #expect(s.logs.entries.contains { $0.level == .notice && $0.message.contains("works again") })
    }
}

@Suite("Weekly test pages")
struct WeeklyTestTests {
    // 2026-11-23 is a Monday.
    static let tuesday10 = ScheduleFixture.at("2026-11-24T10:00:00Z")

    static func setup(journal: Bool = false, dir: String? = nil, bootID: String = "test-boot") -> EngineTests.Setup {
        EngineTests.Setup(journal: journal, dir: dir, config: ScheduleFixture.config(
            circle: #", "weeklyTest": {"day": "tue", "at": "10:00", "answerMinutes": 30}"#, anna: #", "weeklyTest": true"#), bootID: bootID)
    }

    @Test func weeklyTestIsSentOnItsDayAndAnAnsweredOneIsNotReported() async throws {
        var c = ScheduleFixture.config(circle: #", "weeklyTest": {"day": "tue", "at": "10:00", "answerMinutes": 30}"#)
        c.members = c.members.filter { $0.id == "anna" || $0.id == "sam" }
        c.members[1].weeklyTest = nil
        let s = EngineTests.Setup(config: c)
        await ScheduleFixture.run(s, until: Fixture.start)
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: -60))
        #expect(s.sent.isEmpty)
        await ScheduleFixture.run(s, until: Self.tuesday10)
        let test = try #require(s.sent.first)
        #expect(test.member == "anna" && test.purpose == .test && test.key == "weekly-test-linda-anna-2026-11-24/0")
        #expect(test.text.hasPrefix("TEST ONLY, nothing has happened to Linda."))
        await s.engine.receive(Ack(incident: test.incident, member: "anna", action: .claim, via: "ntfy"))
        #expect(await s.engine.testAnswered(test.incident))
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 3600))
        #expect(s.sent.count == 1, "answered: no report; sent once a week")
        #expect(!s.logs.entries.contains { $0.level == .warning })
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 7 * 86400))
        #expect(s.sent.map(\.key).last == "weekly-test-linda-anna-2026-12-01/0")
    }

    @Test func unansweredTestIsLoggedAtWarningAndReportedToTechnicalMembers() async throws {
        let s = Self.setup()
        await ScheduleFixture.run(s, until: Fixture.start)
        await ScheduleFixture.run(s, until: Self.tuesday10)
        // Anna, Ben and Sam take the circle's test; Dave has not consented.
        #expect(s.sent.map(\.member) == ["anna", "ben", "sam"])
        #expect(s.logs.entries.contains { $0.message == "escalation.linda: weekly test for Dave (family) not sent: no consent recorded" || $0.message.hasSuffix("weekly test for Dave (family) not sent: no consent recorded") })
        await s.engine.receive(Ack(incident: "weekly-test-linda-ben-2026-11-24", member: "ben", action: .claim))
        // Sam answers by SMS-style reply on his channel.
        #expect(await s.engine.receive(reply: "1", fromAddress: "ops/sam", notifier: "mqtt")?.incident == "weekly-test-linda-sam-2026-11-24")
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 29 * 60))
        #expect(s.sent.count == 3)
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 30 * 60))
        let report = try #require(s.sent.last)
        #expect(report.member == "sam" && report.purpose == .summary && report.key == "weekly-test-linda-anna-2026-11-24-unanswered/sam")
        #expect(report.text == "careMonitord at Linda's: the weekly test page to Anna (daughter), sent 10:00, was not answered within 30 min. Alerts may not reach them: please check with them.")
        #expect(s.logs.entries.contains { $0.level == .warning && $0.message.contains("weekly test page to Anna (daughter) was not answered within 30 min") })
        #expect(s.lines.all.contains { if case .notification(_, "weekly-test-linda-anna-2026-11-24", "sam", _, _, _) = $0 { true } else { false } })
        // The next daily heartbeat repeats it.
        await ScheduleFixture.run(s, until: ScheduleFixture.at("2026-11-25T09:00:00Z"))
        #expect(s.notifier.delivered.last?.text.hasSuffix("journal OK. Weekly test unanswered by: Anna (daughter).") == true)
    }

    @Test func weeklyTestWaitsWhileAnIncidentIsOpen() async throws {
        let s = Self.setup()
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: -600))
        await s.engine.receive(Fixture.fall(at: Self.tuesday10.adding(seconds: -600)))
        await ScheduleFixture.run(s, until: Self.tuesday10)
        #expect(!s.sent.contains { $0.purpose == .test })
        await s.engine.receive(Ack(incident: "linda-20261124-095000", member: "linda", action: .cancel))
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 60))
        // Sent side by side: the order they reach the notifier in is not theirs to keep.
        #expect(s.sent.filter { $0.purpose == .test }.map(\.member).sorted() == ["anna", "ben", "sam"])
    }

    @Test func pendingTestSurvivesARestartAndIsReportedWhenItsWindowPasses() async throws {
        let dir = temporaryDirectory()
        do {
            let s = Self.setup(journal: true, dir: dir)
            await ScheduleFixture.run(s, until: Fixture.start)
            await ScheduleFixture.run(s, until: Self.tuesday10)
            await s.engine.receive(Ack(incident: "weekly-test-linda-ben-2026-11-24", member: "ben", action: .claim))
            await s.engine.receive(Ack(incident: "weekly-test-linda-sam-2026-11-24", member: "sam", action: .claim))
        }
        // Rebooted 10 minutes later: the monotonic clock starts again near zero.
        let s = Self.setup(journal: true, dir: dir, bootID: "rebooted")
        s.clock.stepWall(to: Self.tuesday10.adding(seconds: 600))
        let recovered = try await s.engine.recover()
        #expect(recovered.redelivered.isEmpty)
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 600))
        #expect(s.sent.isEmpty, "no test is sent twice the same week")
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 30 * 60 - 10))
        #expect(s.sent.isEmpty)
        await ScheduleFixture.run(s, until: Self.tuesday10.adding(seconds: 30 * 60))
        #expect(s.sent.map(\.key) == ["weekly-test-linda-anna-2026-11-24-unanswered/sam"])
    }
}
