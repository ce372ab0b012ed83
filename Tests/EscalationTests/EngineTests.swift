import CareSupport
@testable import Escalation
import Foundation
import Testing

/// A fall at Linda's, end to end through the engine: what each person in the circle sees, message by message.
@Suite("Escalation engine")
struct EngineTests {
    struct Setup {
        let clock = ManualClock(wall: Fixture.start, monotonic: MonotonicInstant(nanoseconds: 5_000_000_000))
        let notifier = InMemoryNotifier()
        let lines = LineCollector()
        let logs = LogRecorder()
        let engine: EscalationEngine
        let dir: String?

        init(journal: Bool = false, dir: String? = nil, config: EscalationConfig = Fixture.config, bootID: String = "test-boot",
             answers: AnswerCheck = .recorded, notifiers: [String: any Notifier] = [:]) {
            self.dir = journal ? (dir ?? temporaryDirectory()) : nil
            engine = EscalationEngine(config: config, clock: clock, notifiers: notifiers.merging(["mqtt": notifier]) { a, _ in a },
                                      stateDirectory: self.dir,
                                      answers: answers, bootID: bootID, logger: logs.logger(minimumLevel: .debug), events: lines.sink)
        }

        func advance(_ seconds: Int) async {
            for _ in 0..<(seconds / 10) { clock.advance(by: .seconds(10)); await engine.tick(); await engine.waitForDeliveries() }
            #if DEBUG
            #expect(await engine.invariantViolations.isEmpty)
            #endif
        }
    }

    @Test func fallScenarioTellsEveryoneWhoIsGoingAndEndsWithAnAllClear() async throws {
        let s = Setup()
        let route = await s.engine.receive(Fixture.fall())
        #expect(route == .open)
        await s.engine.waitForDeliveries()
        let id = try #require(await s.engine.openIncidents.first?.id)
        #expect(id == "linda-20261123-140200")
        await s.advance(60)                                             // 14:03: no answer from Linda, Anna paged
        await s.advance(60)                                             // 14:04: Anna can't; Ben and Carol paged
        await s.engine.receive(Ack(incident: id, member: "anna", action: .decline, via: "ntfy"))
        await s.engine.waitForDeliveries()
        await s.advance(60)                                             // 14:05: Ben is going
        await s.engine.receive(Ack(incident: id, member: "ben", action: .claim, etaMinutes: 10, via: "sms"))
        await s.engine.waitForDeliveries()
        await s.advance(600)                                            // 14:15
        await s.engine.receive(.doorOpened)
        await s.advance(30)
        await s.engine.receive(.presence)                               // 14:15:30: arrival verified
        await s.engine.waitForDeliveries()
        await s.advance(900)
        await s.engine.receive(Ack(incident: id, member: "ben", action: .resolve))
        await s.engine.waitForDeliveries()

        let got = s.notifier.delivered
        if ProcessInfo.processInfo.environment["CM_PRINT_SCENARIO"] != nil {
            for n in got { print("\(LocalTime(n.time, in: ZoneInfo(identifier: "Europe/London")!).hhmm) → \(n.member) [\(n.purpose.rawValue)] \(n.text)") }
        }
        // What each member got at each moment, in time order. Deliveries made at one moment go out concurrently, so
        // their order within the moment is not part of the contract (asserting it made this test flaky).
        var moments: [[String: String]] = []
        var lastTime: WallTime?
        for n in got {
            if let t = lastTime, t == n.time { moments[moments.count - 1][n.member] = n.text } else {
                moments.append([n.member: n.text])
                lastTime = n.time
            }
        }
        #expect(moments.map { $0.keys.sorted() } == [["linda"], ["anna"], ["ben", "carol"], ["anna", "ben", "carol", "linda"],
                                                     ["anna", "carol"], ["anna", "ben", "carol", "linda"]])
        #expect(moments.map(\.count).reduce(0, +) == got.count, "one message per member per moment")
        guard moments.count == 6 else { return }
        #expect(moments[0]["linda"]?.hasPrefix("Did you fall?") == true)
        #expect(moments[1]["anna"] == "Linda: Fall detected at 14:02 (hallway). Can you go?")
        #expect(moments[2]["ben"] == "Linda: Fall detected at 14:02 (hallway). Anna (daughter) can't go. Can you go?")
        #expect(moments[2]["carol"] == "Linda: Fall detected at 14:02 (hallway). Anna (daughter) can't go. Ben (neighbour) paged 14:04, no reply. Can you go?")
        #expect(moments[3]["anna"] == "Linda: Ben (neighbour) is going, ETA 10 min. Fall detected at 14:02 (hallway). Carol (volunteer) paged 14:04, no reply. Thank you: no need to go unless you hear again.")
        #expect(moments[3]["carol"] == "Linda: Ben (neighbour) is going, ETA 10 min. Fall detected at 14:02 (hallway). Anna (daughter) can't go. Thank you: no need to go unless you hear again.")
        #expect(moments[3]["ben"] == "Thank you, Ben: you are going to Linda, ETA 10 min. Fall detected at 14:02 (hallway). Anna (daughter) can't go. Carol (volunteer) paged 14:04, no reply. Press \"arrived\" when you are there.")
        #expect(moments[4]["anna"] == "Linda: Ben (neighbour) arrived 14:15 (confirmed by front door, then movement inside). Fall detected at 14:02 (hallway).")
        #expect(moments[5]["anna"]?.hasPrefix("All clear for Linda: Ben (neighbour) resolved it at 14:30.") == true)
        let states = s.lines.all.compactMap { if case .incident(_, _, _, _, let st, _) = $0 { st } else { nil } }
        #expect(states == ["opened", "self-cancel-window", "escalating", "claimed", "arrived", "resolved"])
        #expect(await s.engine.openIncidents.isEmpty)
    }

    @Test func inactivityWhileAFallIsOpenPagesNobody() async {
        let s = Setup()
        await s.engine.receive(Fixture.fall())
        await s.engine.waitForDeliveries()
        let before = s.notifier.delivered.count
        let r = await s.engine.receive(Alert(person: "linda", kind: "inactivity", severity: .warning, time: Fixture.start.adding(seconds: 30)))
        #expect(r == .inhibited(by: "linda-20261123-140200"))
        await s.engine.waitForDeliveries()
        #expect(s.notifier.delivered.count == before)
        #expect(await s.engine.allIncidents.count == 1)
    }

    @Test func repeatedFallDetectionsGroupIntoOneIncident() async {
        let s = Setup()
        await s.engine.receive(Fixture.fall())
        let r = await s.engine.receive(Fixture.fall(at: Fixture.start.adding(seconds: 20)))
        #expect(r == .group(into: "linda-20261123-140200"))
        #expect(await s.engine.allIncidents.count == 1)
        #expect(await s.engine.allIncidents.first?.groupedRaises == 1)
    }

    @Test func ackForAnUnknownIncidentIsLoggedAndIgnored() async {
        let s = Setup()
        await s.engine.receive(Ack(incident: "nope", member: "anna", action: .claim))
        #expect(s.logs.entries.contains { $0.message.contains("unknown incident nope") })
    }

    @Test func unconfiguredNotifierFailsThePageAndTheNextContactIsTried() async throws {
        var c = Fixture.config
        c.members[0].contacts = [Contact(notifier: "gone", address: "x"), Contact(notifier: "mqtt", address: "sms/anna")]
        let s = Setup(config: c)
        await s.engine.receive(Fixture.fall())
        await s.advance(60)
        await s.engine.waitForDeliveries()
        #expect(s.notifier.delivered.contains { $0.member == "anna" && $0.address == "sms/anna" })
    }

    @Test func wallClockStepDoesNotFireTimers() async {
        let s = Setup()
        await s.engine.receive(Fixture.fall())
        s.clock.stepWall(to: Fixture.start.adding(seconds: 86_400))  // NTP steps the clock a day forward
        await s.engine.tick()
        #expect(await s.engine.openIncidents.first?.state == .selfCancelWindow)
    }
}

@Suite("Incident journal")
struct JournalTests {
    /// Ben is on his way; the detection clears because the front door opened. That may be Ben coming in, not Linda
    /// recovering: no stand-down, nobody is told to stay at home, and a restart reads the clear the same way. The same
    /// clear from a sign of life inside stands it down.
    @Test(arguments: [true, false])
    func aClearAtTheFrontDoorWhileSomeoneIsGoingIsNoRecovery(atFrontDoor: Bool) async throws {
        let dir = temporaryDirectory()
        let id = "linda-20261123-140200"
        do {
            let s = EngineTests.Setup(journal: true, dir: dir)
            await s.engine.receive(Fixture.fall())
            await s.advance(60)
            await s.engine.receive(Ack(incident: id, member: "ben", action: .claim, etaMinutes: 10))
            await s.advance(120)
            var clear = Fixture.fall(at: Fixture.start.adding(seconds: 180))
            clear.state = .cleared
            clear.clearedAtFrontDoor = atFrontDoor
            await s.engine.receive(clear)
            await s.engine.waitForDeliveries()
            let inc = try #require(await s.engine.incident(id))
            #expect(inc.state == (atFrontDoor ? .claimed : .stoodDown))
            #expect(s.notifier.delivered.contains { $0.text.contains("Stand down") } == !atFrontDoor)
        }
        guard atFrontDoor else { return }
        let clock = ManualClock(wall: Fixture.start.adding(seconds: 200), monotonic: MonotonicInstant(nanoseconds: 205_000_000_000))
        let engine = EscalationEngine(config: Fixture.config, clock: clock, notifiers: ["mqtt": InMemoryNotifier()], stateDirectory: dir, bootID: "test-boot")
        let report = try await engine.recover()
        #expect(report.openIncidents == [id])
        #expect(await engine.incident(id)?.state == .claimed)
    }

    @Test func restartContinuesAnOpenIncidentWhereItWas() async throws {
        let dir = temporaryDirectory()
        do {
            let s = EngineTests.Setup(journal: true, dir: dir)
            await s.engine.receive(Fixture.fall())
            await s.advance(60)
            await s.engine.receive(Ack(incident: "linda-20261123-140200", member: "ben", action: .claim, etaMinutes: 10))
            await s.engine.waitForDeliveries()
        }
        let clock = ManualClock(wall: Fixture.start.adding(seconds: 70), monotonic: MonotonicInstant(nanoseconds: 75_000_000_000))
        let n = InMemoryNotifier()
        let engine = EscalationEngine(config: Fixture.config, clock: clock, notifiers: ["mqtt": n], stateDirectory: dir, bootID: "test-boot")
        let report = try await engine.recover()
        #expect(report.openIncidents == ["linda-20261123-140200"])
        #expect(report.redelivered.isEmpty)
        let inc = try #require(await engine.incident("linda-20261123-140200"))
        #expect(inc.state == .claimed)
        #expect(inc.activeClaims == ["ben"])
        #expect(inc.armed.keys.contains(.claimExpiry(member: "ben")))
        // The claim still expires on time after the restart.
        clock.advance(by: .seconds(1200))
        await engine.tick()
        await engine.waitForDeliveries()
        #expect(n.delivered.contains { $0.member == "ben" && $0.text.contains("nobody has arrived yet") })
        #expect(n.delivered.contains { $0.member == "anna" && $0.text.contains("nobody has arrived yet") })
    }

    @Test func tornTailIsCutAndEarlierRecordsKept() throws {
        let dir = temporaryDirectory()
        let f = JournalFile(directory: dir, name: "j")
        try f.append([["t": "a"], ["t": "b"]], sync: true)
        let fd = open(f.path, O_WRONLY | O_APPEND)
        _ = write(fd, "1234abcd {\"t\":\"c", 16)
        close(fd)
        let load = try JournalFile.load(path: f.path)
        #expect(load.records.count == 2)
        #expect(load.tornBytes == 16)
        #expect(try JournalFile.load(path: f.path).tornBytes == 0, "the tail was cut on disk")
    }

    @Test func journalStartsWithItsFormatVersionAndANewerFormatIsRefusedNotMisread() async throws {
        let dir = temporaryDirectory()
        let f = JournalFile(directory: dir, name: IncidentJournal.fileName(person: "linda"))
        try f.append([["t": "a"]], sync: true)
        let first = try String(contentsOfFile: f.path, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasSuffix(#"{"t":"journal","version":1}"#), "first line: \(first)")
        let load = try JournalFile.load(path: f.path)
        #expect(load.formatVersion == 1)
        #expect(load.records.map { $0["t"]?.stringValue } == ["a"], "the header is not a record")
        // A journal from a newer careMonitord: recovery stops with a message instead of guessing.
        try f.rewrite([["t": "a"]])
        var text = try String(contentsOfFile: f.path, encoding: .utf8)
        let newer = String(decoding: JournalFile.encodeLine(["t": "journal", "version": 2]), as: UTF8.self)
        text = newer + text.split(separator: "\n").dropFirst().joined(separator: "\n") + "\n"
        try text.write(toFile: f.path, atomically: true, encoding: .utf8)
        let engine = EscalationEngine(config: Fixture.config, clock: ManualClock(wall: Fixture.start, monotonic: MonotonicInstant(nanoseconds: 0)),
                                      notifiers: [:], stateDirectory: dir)
        await #expect(throws: JournalError.self) { try await engine.recover() }
        #expect(throws: JournalError.self) { try IncidentJournal.read(directory: dir, person: "linda") }
        #expect(throws: JournalError.self) { try IncidentJournal.forget(directory: dir, person: "linda", before: Fixture.start) }
        #expect(try String(contentsOfFile: f.path, encoding: .utf8).hasPrefix(newer), "forget rewrote a newer journal")
        do { _ = try await engine.recover() } catch {
            #expect("\(error)".contains("format 2"), "\(error)")
        }
    }

    @Test func recordWithABadChecksumInTheMiddleIsSkippedAndCounted() throws {
        let dir = temporaryDirectory()
        let f = JournalFile(directory: dir, name: "j")
        try f.append([["t": "a"]], sync: true)
        let fd = open(f.path, O_WRONLY | O_APPEND)
        let bad = "00000000 {\"t\":\"x\"}\n"
        _ = write(fd, bad, bad.utf8.count)
        close(fd)
        try f.append([["t": "b"]], sync: true)
        let load = try JournalFile.load(path: f.path)
        #expect(load.records.map { $0["t"]?.stringValue } == ["a", "b"])
        #expect(load.corruptRecords == 1)
        #expect(load.tornBytes == 0)
    }

    @Test func incidentsQueryReportsResponseTimesAgainstTelecareTargets() async throws {
        let dir = temporaryDirectory()
        let s = EngineTests.Setup(journal: true, dir: dir)
        await s.engine.receive(Fixture.fall())
        await s.advance(60)                  // 14:03 anna paged
        await s.advance(40)
        await s.engine.receive(Ack(incident: "linda-20261123-140200", member: "anna", action: .claim, etaMinutes: 30))
        await s.advance(2700)
        await s.engine.receive(.homeButton)  // 14:48:40: arrival, past 45 min
        await s.engine.waitForDeliveries()
        let records = try IncidentJournal.read(directory: dir, person: "linda")
        let r = try #require(JournalQuery.incidents(records).first)
        #expect(r.firstAckSeconds == 40)
        #expect(r.answeredWithinTarget == true)
        #expect(r.claimSeconds == 100)
        #expect(r.arrivalSeconds == 2800)
        #expect(r.attendedWithinTarget == false)
        #expect(r.state == "arrived")
        #expect(JournalQuery.incidents(records, since: Fixture.start.adding(seconds: 1)).isEmpty)
    }

    @Test func disclosuresListWhoWasToldWhatAndWhen() async throws {
        let dir = temporaryDirectory()
        let s = EngineTests.Setup(journal: true, dir: dir)
        await s.engine.receive(Fixture.fall())
        await s.advance(60)
        let d = JournalQuery.disclosures(try IncidentJournal.read(directory: dir, person: "linda"))
        #expect(d.map(\.member) == ["linda", "anna"])
        #expect(d[1].text == "Linda: Fall detected at 14:02 (hallway). Can you go?")
        #expect(d[1].time == Fixture.start.adding(seconds: 60))
        #expect(d[1].notifier == "mqtt")
    }

    @Test func forgetDeletesClosedIncidentsBeforeTheDateAndKeepsOpenOnes() async throws {
        let dir = temporaryDirectory()
        let s = EngineTests.Setup(journal: true, dir: dir)
        await s.engine.receive(Fixture.fall())
        await s.engine.receive(Ack(incident: "linda-20261123-140200", member: "linda", action: .cancel))
        await s.advance(3600)
        await s.engine.receive(Fixture.fall(at: s.clock.now().wall))      // a second fall, left open
        await s.engine.waitForDeliveries()
        let removed = try IncidentJournal.forget(directory: dir, person: "linda", before: Fixture.start.adding(seconds: 1800))
        #expect(removed == 1)
        let left = JournalQuery.incidents(try IncidentJournal.read(directory: dir, person: "linda"))
        #expect(left.map(\.id) == ["linda-20261123-150200"])
    }

    @Test func retentionOnStartDropsOldClosedIncidents() async throws {
        let dir = temporaryDirectory()
        do {
            let s = EngineTests.Setup(journal: true, dir: dir)
            await s.engine.receive(Fixture.fall())
            await s.engine.receive(Ack(incident: "linda-20261123-140200", member: "linda", action: .cancel))
            await s.engine.waitForDeliveries()
        }
        let later = ManualClock(wall: Fixture.start.adding(seconds: 366 * 86_400))
        let engine = EscalationEngine(config: Fixture.config, clock: later, notifiers: [:], stateDirectory: dir, bootID: "other")
        let report = try await engine.recover()
        #expect(report.expiredIncidents == 1)
        #expect(try IncidentJournal.read(directory: dir, person: "linda").isEmpty)
    }
}

@Suite("Alarm path checks")
struct AlarmPathTests {
    @Test func testAlertIsMarkedAndItsAnswerIsRecognised() async throws {
        var c = Fixture.config
        c.members.append(Member(id: "tech", name: "Sam", role: .technical, contacts: [Contact(notifier: "mqtt", address: "ops/sam")]))
        let s = EngineTests.Setup(config: c)
        let sent = try #require(await s.engine.sendTestAlert(to: "anna"))
        #expect(sent.outcomes.count == 1)
        let n = try #require(s.notifier.delivered.first)
        #expect(n.purpose == .test && n.text.hasPrefix("TEST ONLY, nothing has happened to Linda."))
        #expect(await !s.engine.testAnswered(sent.id))
        await s.engine.receive(Ack(incident: sent.id, member: "ben", action: .claim))
        #expect(await !s.engine.testAnswered(sent.id), "only the member who was tested answers it")
        await s.engine.receive(Ack(incident: sent.id, member: "anna", action: .claim))
        #expect(await s.engine.testAnswered(sent.id))
        #expect(await s.engine.allIncidents.isEmpty, "a test opens no incident")

        _ = await s.engine.sendHeartbeat()
        #expect(s.notifier.delivered.last?.member == "tech")
        #expect(s.notifier.delivered.last?.text.contains("0 open incidents, journal OK.") == true)
    }

    @Test func smsRepliesAreFetchedByPolling() async throws {
        let spool = temporaryDirectory("esc-sms")
        mkdir(spool + "/outgoing", 0o755)
        mkdir(spool + "/incoming", 0o755)
        var c = Fixture.config
        c.notifiers["sms"] = SMSNotifier.Configuration(spool: spool)
        c.members[0].contacts = [Contact(notifier: "sms", address: "+447700900123")]
        let clock = ManualClock(wall: Fixture.start)
        let engine = EscalationEngine(config: c, clock: clock, notifiers: NotifierRegistry.instantiate(c.notifiers, context: NotifierContext()).merging(["mqtt": InMemoryNotifier()]) { $1 },
                                      stateDirectory: nil, bootID: "b")
        await engine.receive(Fixture.fall())
        clock.advance(by: .seconds(60))
        await engine.tick()
        await engine.waitForDeliveries()
        #expect(FileManager.default.fileExists(atPath: spool + "/outgoing/caremonitord-linda-20261123-140200_2"))
        try "From: 447700900123\n\n2\n".write(toFile: spool + "/incoming/GSM1.x", atomically: true, encoding: .utf8)
        await engine.pollNotifiers()
        #expect(await engine.openIncidents.first?.responses["anna"]?.kind == .declined)
    }
}

@Suite("Recovery across a reboot")
struct RebootRecoveryTests {
    @Test func timersArmedBeforeARebootFireAfterTheRemainingWallClockTime() async throws {
        let dir = temporaryDirectory()
        do {
            let s = EngineTests.Setup(journal: true, dir: dir)   // boot "test-boot", monotonic 5 s at 14:02:00
            await s.engine.receive(Fixture.fall())              // self-cancel window: 60 s
            await s.engine.waitForDeliveries()
        }
        // Rebooted 20 s later: the monotonic clock restarted near zero.
        let clock = ManualClock(wall: Fixture.start.adding(seconds: 20), monotonic: MonotonicInstant(nanoseconds: 1_000_000_000))
        let n = InMemoryNotifier()
        let engine = EscalationEngine(config: Fixture.config, clock: clock, notifiers: ["mqtt": n], stateDirectory: dir, bootID: "new-boot")
        _ = try await engine.recover()
        #expect(await engine.nextDeadline == MonotonicInstant(nanoseconds: 41_000_000_000), "40 s left of the window")
        clock.advance(by: .seconds(39))
        await engine.tick()
        #expect(await engine.openIncidents.first?.state == .selfCancelWindow)
        clock.advance(by: .seconds(1))
        await engine.tick()
        await engine.waitForDeliveries()
        #expect(await engine.openIncidents.first?.state == .escalating)
        #expect(n.delivered.map(\.member) == ["anna"])
    }

    @Test func personCancellingAfterPagesTellsEveryonePaged() {
        var h = Harness()
        h.fire(.selfCancel)
        h.advance(30)
        h.ack("linda", .cancel)
        #expect(h.lastSends.map(\.text) == ["All clear: Linda pressed \"I'm fine\" at 14:03; nobody needs to go. Fall detected at 14:02 (hallway)."])
        #expect(h.lastSends.map(\.member) == ["anna"])
    }
}
