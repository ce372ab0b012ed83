import CareSupport
@testable import Escalation
import Testing

/// Journal records whose times no clock gives (found by `tools/fuzz journal`): recovery after a reboot re-arms
/// timers from them, and must not trap on every start, which would leave her with nobody paged at all.
@Suite("journal records with absurd times")
struct JournalTimeRegressionTests {
    @Test(arguments: [
        // Year 1: the wall time elapsed since, in nanoseconds, is beyond Int64.
        #"{"t":"step","incident":"linda-00010101-000000","wall":"0001-01-01T00:00:00Z","mono":0,"boot":"before"}"#,
        // A monotonic reading near Int64.max.
        #"{"t":"step","incident":"linda-20261123-140000","wall":"2026-11-22T14:00:00Z","mono":9200000000000000000,"boot":"before"}"#,
    ])
    func recoveryAfterARebootSurvivesARecordWithAnAbsurdTimeAndStillPages(record: String) async throws {
        let dir = temporaryDirectory()
        let lines = JournalFile.encodeLine(JournalFile.header) + JournalFile.encodeLine(try JSONParser.parse(record))
        try DurableFile.write(lines, to: "\(dir)/\(IncidentJournal.fileName(person: "linda"))")
        let clock = ManualClock(wall: Fixture.start, monotonic: MonotonicInstant(nanoseconds: 1_000_000_000))
        let mqtt = InMemoryNotifier()
        let e = EscalationEngine(config: Fixture.config, clock: clock, notifiers: ["mqtt": mqtt], stateDirectory: dir,
                                 bootID: "after-reboot")
        _ = try await e.recover()
        await e.receive(Fixture.fall())
        await e.waitForDeliveries()
        #expect(await e.openIncidents.count == 1)
        #expect(!mqtt.delivered.isEmpty)
    }
}
