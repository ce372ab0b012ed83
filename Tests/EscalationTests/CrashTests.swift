import CareSupport
@testable import Escalation
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Delivers by appending the key to `deliveries.log` (fsynced), like a service that would show the message; a
/// receiver that deduplicates by key (Matrix `txnId`) shows each key once.
final class FileDeliveryNotifier: Notifier {
    let name = "mqtt"
    let retry = RetryPolicy(attempts: 1, attemptTimeout: .seconds(5), deadline: .seconds(5))
    let path: String
    init(directory: String) { path = directory + "/deliveries.log" }

    func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        let line = n.key + "\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
        fsync(fd)
        close(fd)
        usleep(1000)  // a real send takes time: widen the window between the send and its journal record
        return DeliveryReceipt()
    }
}

/// The crash test's scenario, resumable: every step happens at a fixed simulated time on a 10-second grid, and each
/// scripted answer is given only if the journal shows it has not been given yet.
enum CrashScenario {
    static let person = "linda"

    static func run(directory dir: String) async throws {
        let resume = EscalationEngine.lastMoment(stateDirectory: dir, person: person)
        let clock = ManualClock(wall: resume?.wall ?? Fixture.start, monotonic: resume?.monotonic ?? MonotonicInstant(nanoseconds: 0))
        let engine = EscalationEngine(config: Fixture.config, clock: clock, notifiers: ["mqtt": FileDeliveryNotifier(directory: dir)],
                                      stateDirectory: dir, bootID: "crash-test")
        _ = try await engine.recover()
        await engine.waitForDeliveries()
        if await engine.allIncidents.isEmpty {
            await engine.receive(Fixture.fall())
            await engine.waitForDeliveries()
        }
        while true {
            let t = Int((clock.now().wall.milliseconds - Fixture.start.milliseconds) / 1000)
            await engine.tick()
            await engine.waitForDeliveries()
            let inc = await engine.allIncidents[0]
            let id = inc.id
            if t >= 240 && inc.responses["anna"] == nil && !inc.isClosed {
                await engine.receive(Ack(incident: id, member: "anna", action: .decline))
            }
            if t >= 300 && inc.responses["ben"] == nil && !inc.isClosed {
                await engine.receive(Ack(incident: id, member: "ben", action: .claim, etaMinutes: 10))
            }
            if t >= 900 && t < 910 && inc.state == .claimed { await engine.receive(.doorOpened) }
            if t >= 920 && inc.state == .claimed { await engine.receive(.presence) }
            if t >= 1800 && inc.state == .arrived { await engine.receive(Ack(incident: id, member: "ben", action: .resolve)) }
            await engine.waitForDeliveries()
            if await engine.allIncidents[0].isClosed { return }
            clock.advance(by: .seconds((t / 10 + 1) * 10 - t))
        }
    }

    /// (key, member, purpose, text) of every notification the journal queued, in order.
    static func queued(_ dir: String) throws -> [String] {
        try IncidentJournal.read(directory: dir, person: person).flatMap { r in
            (r["sends"]?.arrayValue ?? []).map { s in
                "\(s["key"]!.stringValue!) \(s["member"]!.stringValue!) \(s["purpose"]!.stringValue!) \(s["text"]!.stringValue!)"
            }
        }
    }

    static func deliveries(_ dir: String) -> [String] {
        guard let text = try? String(contentsOfFile: dir + "/deliveries.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }
}

@Suite("Crash safety")
struct CrashTests {
    /// Runs only as the child process of `killedAtRandomPointsLosesNothingAndPagesNothingTwice`.
    @Test func crashScenarioChildProcess() async throws {
        guard let dir = ProcessInfo.processInfo.environment["CM_ESC_CRASH_CHILD_DIR"] else { return }
        try await CrashScenario.run(directory: dir)
        _ = FileManager.default.createFile(atPath: dir + "/done", contents: nil)
    }

    static func child(_ dir: String, killAfter: Duration) async throws -> Bool {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let child = try ChildProcess.spawn(executable: exe, arguments: ["--testing-library", "swift-testing", "--filter", "crashScenarioChildProcess"],
                                           environment: ["CM_ESC_CRASH_CHILD_DIR": dir, "PATH": "/usr/bin:/bin"],
                                           stdout: .null, stderr: .null, searchPath: false, newProcessGroup: true)
        // kill -9 at the chosen instant unless it finished first (waiting blocks: off the cooperative pool).
        let finished = await offCooperativePool { () -> Bool in
            if child.wait(timeout: killAfter) != nil { return true }
            _ = child.terminate(SIGKILL)
            _ = child.wait()
            return false
        }
        return finished && FileManager.default.fileExists(atPath: dir + "/done")
    }

    /// `CM_CRASH_ITERATIONS=500` for the long mode.
    @Test func killedAtRandomPointsLosesNothingAndPagesNothingTwice() async throws {
        let iterations = Int(ProcessInfo.processInfo.environment["CM_CRASH_ITERATIONS"] ?? "") ?? 4
        // The reference: the same scenario with no crash.
        let refDir = temporaryDirectory("esc-crash-ref")
        let t0 = ContinuousClock.now
        #expect(try await Self.child(refDir, killAfter: .seconds(30)), "the scenario completes without a crash")
        let refDuration = ContinuousClock.now - t0
        let reference = try CrashScenario.queued(refDir)
        #expect(reference.count >= 10)
        #expect(Set(CrashScenario.deliveries(refDir)).count == reference.count)

        var rng = SystemRandomNumberGenerator()
        var kills = 0, redeliveries = 0, totalDeliveries = 0
        for _ in 0..<iterations {
            let dir = temporaryDirectory("esc-crash")
            var done = false
            var attempts = 0
            while !done {
                attempts += 1
                // Up to three kills per iteration at random instants, then let it finish.
                let ms = attempts <= 3 ? Int.random(in: 1...max(2, Int(refDuration.secondsDouble * 1000)), using: &rng) : 30_000
                done = try await Self.child(dir, killAfter: .milliseconds(ms))
                if !done { kills += 1 }
                #expect(attempts < 10)
                if attempts >= 10 { break }
            }
            let queued = try CrashScenario.queued(dir)
            #expect(queued == reference, "after crashes the same notifications were queued, with the same keys: nothing lost, nothing paged twice")
            let delivered = CrashScenario.deliveries(dir)
            let keys = Set(queued.map { String($0.split(separator: " ")[0]) })
            #expect(Set(delivered) == keys, "every queued notification was delivered")
            redeliveries += delivered.count - Set(delivered).count
            totalDeliveries += delivered.count
            let report = try #require(JournalQuery.incidents(try IncidentJournal.read(directory: dir, person: "linda")).first)
            #expect(report.state == "resolved" && report.closedBy == "ben")
        }
        print("crash test: \(iterations) iterations, \(kills) kills, \(redeliveries) redeliveries of \(totalDeliveries) deliveries "
              + "(a crash between a send and its journal record; receivers that take the key drop them)")
    }
}
