import CareSupport
@testable import Escalation
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The journal cannot grow (a full disk, here a file size limit): paging goes on from memory, the log says loudly
/// that durability is lost, and the next start cuts any torn tail and recovers what was written.
@Suite("Journal on a full disk")
struct JournalFullTests {
    /// Runs only as the child process of `pagingGoesOnWhenTheJournalCannotGrow`, under RLIMIT_FSIZE.
    @Test func fullDiskChildProcess() async throws {
        guard let dir = ProcessInfo.processInfo.environment["CM_JOURNAL_FULL_DIR"] else { return }
        signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit(rlim_cur: 8000, rlim_max: rlim_t.max)
        #expect(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit) == 0)
        let clock = ManualClock(wall: Fixture.start, monotonic: MonotonicInstant(nanoseconds: 5_000_000_000))
        let notifier = InMemoryNotifier()
        let logs = LogRecorder()
        let engine = EscalationEngine(config: Fixture.config, clock: clock, notifiers: ["mqtt": notifier], stateDirectory: dir,
                                      bootID: "b", logger: logs.logger(minimumLevel: .debug))
        _ = try await engine.recover()
        await engine.receive(Fixture.fall())
        for _ in 0..<70 { clock.advance(by: .seconds(10)); await engine.tick(); await engine.waitForDeliveries() }
        let pages = notifier.delivered.filter { $0.purpose == .page }.map(\.member)
        let lost = logs.entries.filter { $0.message.contains("DURABILITY LOST") }.count
        // Standard output is a pipe: no file size limit on it.
        print("RESULT pages=\(Set(pages).sorted().joined(separator: ",")) durabilityLost=\(lost)")
    }

    @Test func pagingGoesOnWhenTheJournalCannotGrow() async throws {
        let dir = temporaryDirectory("journal-full")
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let r = try await offCooperativePool { () -> Result<ProcessResult, SpawnError> in
            Result { () throws(SpawnError) -> ProcessResult in
                try ChildProcess.run(executable: exe, arguments: ["--testing-library", "swift-testing", "--filter", "fullDiskChildProcess"],
                                     environment: ["CM_JOURNAL_FULL_DIR": dir, "PATH": "/usr/bin:/bin"],
                                     outputLimit: 1 << 20, timeout: .seconds(120))
            }
        }.get()
        let out = r.standardOutput.text
        let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "no result: \(out.suffix(2000)) \(r.standardError.text.suffix(2000))")
        #expect(line.contains("pages=anna,ben,carol,centre"), "paging stopped with the journal: \(line)")
        #expect(line.contains("durabilityLost=1"), "durability lost was not said, or said more than once: \(line)")
        var st = stat()
        #expect(stat(dir + "/" + IncidentJournal.fileName(person: "linda"), &st) == 0 && st.st_size <= 8000)
        // The next start (no limit) reads what was written, cuts any torn record, and carries the incident on.
        let engine = EscalationEngine(config: Fixture.config, clock: ManualClock(wall: Fixture.start.adding(seconds: 800)), notifiers: ["mqtt": InMemoryNotifier()],
                                      stateDirectory: dir, bootID: "after")
        let report = try await engine.recover()
        #expect(report.openIncidents.count == 1, "\(report)")
        #expect(report.corruptRecords == 0)
    }
}
