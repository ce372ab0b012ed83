import CareSupport
@testable import Escalation
import Foundation
import Synchronization
import Testing

/// A notifier whose service is down (5xx, retryable) for some addresses until told otherwise.
final class OutageNotifier: Notifier {
    let name = "mqtt"
    let retry = RetryPolicy(attempts: 1, attemptTimeout: .seconds(1), deadline: .seconds(1))
    private let state = Mutex<(down: Set<String>, delivered: [OutgoingNotification], failures: [String: Int])>(([], [], [:]))

    func setDown(_ addresses: Set<String>) { state.withLock { $0.down = addresses } }
    var delivered: [OutgoingNotification] { state.withLock { $0.delivered } }
    func failures(of key: String) -> Int { state.withLock { $0.failures[key] ?? 0 } }

    func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        let down = state.withLock { s -> Bool in
            if s.down.contains(n.address) { s.failures[n.key, default: 0] += 1; return true }
            s.delivered.append(n)
            return false
        }
        if down { throw NotifierError(notifier: name, disposition: .retryable, message: "HTTP 503 from the test", status: 503) }
        return DeliveryReceipt()
    }
}

/// Delivery under faults: a page that failed is sent again for as long as it is wanted, and never once it is not.
@Suite("Delivery under faults")
struct DeliveryFaultTests {
    struct Home {
        let clock = ManualClock(wall: Fixture.start, monotonic: MonotonicInstant(nanoseconds: 5_000_000_000))
        let notifier = OutageNotifier()
        let logs = LogRecorder()
        let engine: EscalationEngine

        init(config: EscalationConfig = Fixture.config, dir: String? = nil) {
            engine = EscalationEngine(config: config, clock: clock, notifiers: ["mqtt": notifier], stateDirectory: dir,
                                      bootID: "b", logger: logs.logger(minimumLevel: .debug))
        }

        func advance(_ seconds: Int) async {
            for _ in 0..<(seconds / 10) { clock.advance(by: .seconds(10)); await engine.tick(); await engine.waitForDeliveries() }
        }
    }

    /// Anna's phone service is down for an hour: her page is retried with backoff all that time and arrives once
    /// it is back; meanwhile her other contact, the next tiers and everyone else are paged as if nothing happened.
    @Test func aPageToANotifierDownForAnHourArrivesAfterwardsAndOthersAreUnaffected() async throws {
        let h = Home()
        h.notifier.setDown(["phones/anna"])
        await h.engine.receive(Fixture.fall())
        await h.engine.waitForDeliveries()
        await h.advance(60)                                                     // Anna paged: it fails
        #expect(await h.engine.redeliveriesPending == 1)
        #expect(h.notifier.delivered.contains { $0.address == "sms/anna" && $0.purpose == .page }, "her next contact was not tried")
        await h.advance(300)
        #expect(h.notifier.delivered.contains { $0.member == "ben" && $0.purpose == .page }, "tier 2 held up by the outage")
        await h.advance(3600)
        let first = try #require(await h.engine.incident("linda-20261123-140200")?.pages.first { $0.member == "anna" && $0.purpose == .page })
        // 30 s doubling to 10 min, ±20 %: about nine tries in an hour, never a tight loop.
        let tries = h.notifier.failures(of: first.key)
        #expect(tries >= 7 && tries <= 12, "Anna's first page was tried \(tries) times in an hour")
        #expect(!h.notifier.delivered.contains { $0.address == "phones/anna" })
        h.notifier.setDown([])
        await h.advance(730)                                                    // the longest backoff is 10 min (+20 %)
        #expect(h.notifier.delivered.contains { $0.key == first.key }, "Anna's first page never arrived after the outage")
        #expect(await h.engine.incident("linda-20261123-140200")?.pages.first { $0.key == first.key }?.status == .delivered)
    }

    /// The incident closes while Anna's page waits to be sent again: it is never sent (only her all-clear is).
    @Test func noPageLeavesAfterItsIncidentClosed() async throws {
        let h = Home()
        h.notifier.setDown(["phones/anna"])
        await h.engine.receive(Fixture.fall())
        await h.advance(60)
        let id = try #require(await h.engine.openIncidents.first?.id)
        #expect(await h.engine.redeliveriesPending == 1)
        await h.engine.receive(Ack(incident: id, member: "linda", action: .cancel))
        await h.engine.waitForDeliveries()
        h.notifier.setDown([])
        await h.advance(1200)
        #expect(!h.notifier.delivered.contains { $0.address == "phones/anna" && $0.purpose == .page }, "a page left after the incident closed")
        #expect(h.notifier.delivered.contains { $0.member == "anna" && $0.purpose == .allClear })
        #expect(await h.engine.redeliveriesPending == 0)
    }

    /// Stopped with a page queued and the incident then closed (in the journal): recovery sends the all-clear and
    /// never the stale page.
    @Test func recoveryNeverSendsPagesOfClosedIncidents() async throws {
        let dir = temporaryDirectory("delivery-recovery")
        let first = Home(dir: dir)
        _ = try await first.engine.recover()
        first.notifier.setDown(["phones/anna"])
        await first.engine.receive(Fixture.fall())
        await first.advance(60)
        let id = try #require(await first.engine.openIncidents.first?.id)
        await first.engine.receive(Ack(incident: id, member: "linda", action: .cancel))
        await first.engine.waitForDeliveries()
        // The retry of Anna's page was journaled as pending; a new process takes over.
        let second = Home(dir: dir)
        let report = try await second.engine.recover()
        await second.engine.waitForDeliveries()
        await second.advance(1200)
        #expect(!second.notifier.delivered.contains { $0.purpose == .page }, "recovery sent a page of a closed incident: \(report)")
        #expect(await second.engine.redeliveriesPending == 0)
    }

    /// Carol had not consented when tier 2 was paged; the config read at the restart has her consent: she is paged
    /// at once instead of never.
    @Test func aRestartWithAChangedConfigPagesWhoCanNowBePaged() async throws {
        let dir = temporaryDirectory("delivery-catch-up")
        var before = Fixture.config
        let carol = try #require(before.members.firstIndex { $0.id == "carol" })
        before.members[carol].consent = Consent(given: false)
        let first = Home(config: before, dir: dir)
        _ = try await first.engine.recover()
        await first.engine.receive(Fixture.fall())
        await first.advance(60 + 300 + 10)                                      // tiers 1 and 2 paged, Carol skipped
        #expect(!first.notifier.delivered.contains { $0.member == "carol" })
        let second = Home(config: Fixture.config, dir: dir)
        second.clock.advance(by: .seconds(370))
        _ = try await second.engine.recover()
        await second.engine.waitForDeliveries()
        let open = await second.engine.openIncidents.map { ($0.state, $0.tiersPaged, $0.pages.map(\.member)) }
        #expect(second.notifier.delivered.contains { $0.member == "carol" && $0.purpose == .page },
                "Carol was never paged: \(second.logs.entries.map(\.message)) \(open)")
        #expect(!second.notifier.delivered.contains { $0.member == "ben" && $0.purpose == .page }, "Ben was paged twice")
    }

    @Test func redeliveryBacksOffWithJitterAndHonoursRetryAfter() {
        for failures in 1...8 {
            let d = EscalationEngine.redeliveryDelay(failures: failures, retryAfter: nil).secondsDouble
            let base = min(600.0, 30.0 * Double(1 << (failures - 1)))
            #expect(d >= base * 0.8 - 0.001 && d <= base * 1.2 + 0.001, "\(failures): \(d)")
        }
        #expect(EscalationEngine.redeliveryDelay(failures: 1, retryAfter: .seconds(900)) == .seconds(900))
        #expect(HTTPClient.parseStandardError(Array("\ncareMonitord-retry-after=120\ncareMonitord-http-status=429\n".utf8)).retryAfterSeconds == 120)
        #expect(HTTPClient.parseStandardError(Array("\ncareMonitord-retry-after=\ncareMonitord-http-status=503\n".utf8)).retryAfterSeconds == nil)
    }
}
