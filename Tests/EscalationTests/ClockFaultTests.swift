import CareSupport
@testable import Escalation
import Foundation
import Testing

/// The wall clock stepped or not yet set: no spurious alert, no missed one, and rules of local time fail safe.
@Suite("Wall clock faults")
struct ClockFaultTests {
    struct Home {
        let clock: ManualClock
        let notifier = InMemoryNotifier()
        let logs = LogRecorder()
        let engine: EscalationEngine
        init(config: EscalationConfig = Fixture.config, wall: WallTime = Fixture.start, dir: String? = nil) {
            clock = ManualClock(wall: wall, monotonic: MonotonicInstant(nanoseconds: 5_000_000_000))
            engine = EscalationEngine(config: config, clock: clock, notifiers: ["mqtt": notifier], stateDirectory: dir,
                                      checksWallClock: true, bootID: "b", logger: logs.logger(minimumLevel: .debug))
        }
        func advance(_ seconds: Int) async {
            for _ in 0..<(seconds / 10) { clock.advance(by: .seconds(10)); await engine.tick(); await engine.waitForDeliveries() }
        }
    }

    /// A gateway booted in 1970 before NTP: Anna, whose away date has long passed, and Carol, whose quiet hours the
    /// 1970 clock falls in, are both paged; the log says why once.
    @Test func aGatewayIn1970PagesEveryoneThePolicyNames() async throws {
        var c = Fixture.config
        c.members[0].awayUntil = RFC3339.parse("2026-11-01T00:00:00Z")
        let h = Home(config: c, wall: WallTime(milliseconds: 3_600_000))
        await h.engine.receive(Fixture.fall(at: WallTime(milliseconds: 3_600_000)))
        await h.advance(60 + 300 + 10)
        #expect(h.notifier.delivered.contains { $0.member == "anna" && $0.purpose == .page }, "Anna, back since November, was not paged")
        #expect(h.notifier.delivered.contains { $0.member == "carol" && $0.purpose == .page }, "Carol was held back by quiet hours read on a 1970 clock")
        #expect(!h.notifier.delivered.contains { $0.member == "dave" }, "consent still holds")
        #expect(h.logs.entries.filter { $0.level == .warning && $0.message.contains("wall clock") }.count == 1)
    }

    /// Resolved at 14:05; the clock steps back two minutes; a new fall 30 s later is a new incident, paged, not a
    /// "late duplicate" of the one just closed.
    @Test func aNewFallAfterABackwardStepIsPagedNotTakenForADuplicate() async throws {
        let h = Home()
        await h.engine.receive(Fixture.fall())
        await h.advance(60)
        let first = try #require(await h.engine.openIncidents.first?.id)
        await h.advance(120)
        await h.engine.receive(Ack(incident: first, member: "anna", action: .resolve))
        h.clock.advance(by: .seconds(30))
        h.clock.stepWall(to: h.clock.now().wall.adding(seconds: -120))
        let route = await h.engine.receive(Fixture.fall(at: h.clock.now().wall))
        #expect(route == .open, "\(route)")
        // A genuinely late detection of the closed fall is still one.
        let late = await h.engine.receive(Fixture.fall(at: Fixture.start.adding(seconds: 30)))
        #expect(late == .group(into: await h.engine.openIncidents.first!.id) || late == .duplicate(of: first))
    }

    /// The wall clock jumps a day ahead while an incident escalates: timers run on the monotonic clock, so nothing
    /// fires early and nobody is paged out of turn; a day back changes nothing either.
    @Test func wallClockStepsOfADayFireNothingEarly() async throws {
        for step in [86_400, -86_400] {
            let h = Home()
            await h.engine.receive(Fixture.fall())
            await h.advance(60)                                      // Anna paged
            let before = h.notifier.delivered.count
            h.clock.stepWall(to: h.clock.now().wall.adding(seconds: Int64(step)))
            await h.engine.tick()
            await h.engine.waitForDeliveries()
            #expect(h.notifier.delivered.count == before, "a wall step of \(step) s fired something")
            await h.advance(300)                                     // tier 2 at its monotonic time
            #expect(h.notifier.delivered.contains { $0.member == "ben" && $0.purpose == .page })
        }
    }
}
