import CareSupport
@testable import Escalation
import Foundation
import Synchronization
import Testing

/// Pushover emergency receipts are journaled, so that after a restart the phones that are ringing are still
/// polled and still stopped by the incident's all-clear.
@Suite("Pushover receipts across a restart")
struct ReceiptRecoveryTests {
    static let userKey = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"

    /// Anna is reached through Pushover; the fall is critical, so her page is an emergency with a receipt.
    static func config(url: String) -> EscalationConfig {
        var c = Fixture.config
        c.notifiers["pushover"] = PushoverNotifier.Configuration(url: url, token: Secret("azGDORePK8gMaC0QOYAMyEEuzJnyUi"), retrySeconds: 60,
                                                                  expireSeconds: 3600, pollSeconds: 5,
                                                                  retry: RetryPolicy(attempts: 1, attemptTimeout: .seconds(5), deadline: .seconds(5)))
        c.members[0].contacts = [Contact(notifier: "pushover", address: userKey)]
        return c
    }

    static func engine(_ c: EscalationConfig, clock: ManualClock, dir: String, boot: String = "test-boot") -> EscalationEngine {
        let notifiers = NotifierRegistry.instantiate(c.notifiers, context: NotifierContext()).merging(["mqtt": InMemoryNotifier()]) { $1 }
        return EscalationEngine(config: c, clock: clock, notifiers: notifiers, stateDirectory: dir, bootID: boot)
    }

    static func server(acknowledged: Bool = false) -> TestHTTPServer {
        TestHTTPServer { req in
            if req.path == "/1/messages.json" { return .init(200, #"{"status":1,"request":"q","receipt":"rcptANNA"}"#) }
            if req.path.hasPrefix("/1/receipts/rcptANNA.json") { return .init(200, #"{"status":1,"acknowledged":\#(acknowledged ? 1 : 0)}"#) }
            return .init(200, #"{"status":1}"#)
        }
    }

    /// Fall at 14:02, Anna's emergency page at 14:03 (after Linda's self-cancel window), delivered unless
    /// `waiting` is false (the process stops with it on its way). Returns the engine, for what happens next.
    @discardableResult
    static func pageAnnaThenStop(_ c: EscalationConfig, dir: String, waiting: Bool = true) async -> EscalationEngine {
        let clock = ManualClock(wall: Fixture.start, monotonic: MonotonicInstant(nanoseconds: 5_000_000_000))
        let e = engine(c, clock: clock, dir: dir)
        await e.receive(Fixture.fall())
        clock.advance(by: .seconds(60))
        await e.tick()
        if waiting { await e.waitForDeliveries() }
        return e
    }

    @Test func receiptIsRestoredAfterARestartAndTheAllClearCancelsIt() async throws {
        let server = Self.server()
        defer { server.stop() }
        let c = Self.config(url: server.baseURL)
        let dir = temporaryDirectory()
        await Self.pageAnnaThenStop(c, dir: dir)
        #expect(server.requests.map(\.path) == ["/1/messages.json"])
        #expect(try IncidentJournal.read(directory: dir, person: "linda").contains { $0["receipt"]?.stringValue == "rcptANNA" })

        let clock = ManualClock(wall: Fixture.start.adding(seconds: 120), monotonic: MonotonicInstant(nanoseconds: 2_000_000_000))
        let e = Self.engine(c, clock: clock, dir: dir, boot: "after-restart")
        _ = try await e.recover()
        // Linda says she is fine: the all-clear stops Anna's phone before telling her.
        await e.receive(Ack(incident: "linda-20261123-140200", member: "linda", action: .cancel))
        await e.waitForDeliveries()
        #expect(server.requests.map(\.path) == ["/1/messages.json", "/1/receipts/rcptANNA/cancel.json",
                                                "/1/receipts/cancel_by_tag/cm_linda_20261123_140200_anna.json", "/1/messages.json"])
    }

    /// A crash after Pushover took Anna's emergency but before its receipt was journaled: the page is sent again
    /// after the restart, and the first copy is cancelled by its tag first, so one phone is not left ringing for
    /// an hour beside the second.
    @Test func anEmergencySentAgainAfterACrashReplacesTheFirst() async throws {
        let first = Mutex(true)
        let server = TestHTTPServer { req in
            if req.path == "/1/messages.json" {
                // The first copy is taken but its answer never comes back before the "crash".
                if first.withLock({ f in defer { f = false }; return f }) { usleep(1_500_000) }
                return .init(200, #"{"status":1,"request":"q","receipt":"rcptANNA"}"#)
            }
            return .init(200, #"{"status":1}"#)
        }
        defer { server.stop() }
        let c = Self.config(url: server.baseURL)
        let dir = temporaryDirectory()
        await Self.pageAnnaThenStop(c, dir: dir, waiting: false)  // Anna's emergency is on its way; no delivery on record yet
        #expect(try !IncidentJournal.read(directory: dir, person: "linda").contains { $0["input"]?["delivery"] != nil && $0["incident"] != nil && $0["receipt"] != nil })
        let e = Self.engine(c, clock: ManualClock(wall: Fixture.start.adding(seconds: 90), monotonic: MonotonicInstant(nanoseconds: 1_000_000_000)),
                            dir: dir, boot: "after-restart")
        _ = try await e.recover()
        await e.waitForDeliveries()
        let paths = server.requests.map(\.path)
        let cancel = try #require(paths.firstIndex(of: "/1/receipts/cancel_by_tag/cm_linda_20261123_140200_anna.json"), "\(paths)")
        #expect(paths.lastIndex(of: "/1/messages.json").map { $0 > cancel } == true, "\(paths)")
        let sent = try #require(server.requests.last { $0.path == "/1/messages.json" })
        #expect(sent.body.contains("tags=cm_linda_20261123_140200_anna"))
    }

    @Test func receiptOfAClosedIncidentIsNotRestored() async throws {
        let server = Self.server()
        defer { server.stop() }
        let c = Self.config(url: server.baseURL)
        let dir = temporaryDirectory()
        do {
            let e = await Self.pageAnnaThenStop(c, dir: dir)
            await e.receive(Ack(incident: "linda-20261123-140200", member: "anna", action: .resolve))
            await e.waitForDeliveries()
        }
        let before = server.requests.count
        let e = Self.engine(c, clock: ManualClock(wall: Fixture.start.adding(seconds: 300)), dir: dir, boot: "after-restart")
        _ = try await e.recover()
        await e.pollNotifiers()
        await e.waitForDeliveries()
        #expect(server.requests.count == before, "nothing polled, nothing resent")
    }

    @Test func restoredReceiptIsPolledAndItsAcknowledgementBecomesAClaim() async throws {
        let server = Self.server(acknowledged: true)
        defer { server.stop() }
        let c = Self.config(url: server.baseURL)
        let dir = temporaryDirectory()
        await Self.pageAnnaThenStop(c, dir: dir)
        let e = Self.engine(c, clock: ManualClock(wall: Fixture.start.adding(seconds: 120)), dir: dir, boot: "after-restart")
        _ = try await e.recover()
        await e.pollNotifiers()
        await e.waitForDeliveries()
        #expect(await e.incident("linda-20261123-140200")?.activeClaims == ["anna"])
    }

    @Test func acknowledgingTheRingingPhoneAfterDecliningIsNotAClaim() async throws {
        let server = Self.server(acknowledged: true)
        defer { server.stop() }
        let c = Self.config(url: server.baseURL)
        let clock = ManualClock(wall: Fixture.start, monotonic: MonotonicInstant(nanoseconds: 5_000_000_000))
        let notifiers = NotifierRegistry.instantiate(c.notifiers, context: NotifierContext()).merging(["mqtt": InMemoryNotifier()]) { $1 }
        let e = EscalationEngine(config: c, clock: clock, notifiers: notifiers, stateDirectory: nil, bootID: "b")
        await e.receive(Fixture.fall())
        clock.advance(by: .seconds(60))
        await e.tick()
        await e.waitForDeliveries()
        // Anna answered "can't" by another channel, then silenced her phone.
        await e.receive(Ack(incident: "linda-20261123-140200", member: "anna", action: .decline, via: "sms"))
        await e.pollNotifiers()
        #expect(await e.incident("linda-20261123-140200")?.responses["anna"]?.kind == .declined)
    }
}
