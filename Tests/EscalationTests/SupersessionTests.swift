import CareSupport
@testable import Escalation
import Foundation
import Testing

/// A fall opening while an inactivity incident is open for Linda: the inactivity incident stands down, and whoever
/// was paged about it hears that the fall incident carries on.
@Suite("Supersession: a fall takes over an open inactivity incident")
struct SupersessionTests {
    static let inactivityAt = Fixture.start.adding(seconds: -720)   // 13:50

    static func inactivity(at t: WallTime = inactivityAt) -> Alert {
        Alert(person: "linda", kind: "inactivity", severity: .warning, time: t, device: "living room",
              wording: KindWording(headline: "No movement detected", question: "Are you all right?"))
    }

    @Test func fallOpeningStandsDownTheOpenInactivityIncidentAndTellsThoseAlreadyPaged() async throws {
        let s = EngineTests.Setup()
        s.clock.stepWall(to: Self.inactivityAt)
        #expect(await s.engine.receive(Self.inactivity()) == .open)
        await s.engine.waitForDeliveries()
        #expect(s.notifier.delivered.map(\.member) == ["anna"], "inactivity pages Anna at once")
        s.clock.advance(by: .seconds(720))
        #expect(await s.engine.receive(Fixture.fall()) == .open)
        await s.engine.waitForDeliveries()

        let old = try #require(await s.engine.incident("linda-20261123-135000"))
        #expect(old.state == .stoodDown)
        #expect(old.supersededBy?.incident == "linda-20261123-140200")
        #expect(old.armed.isEmpty)
        let toAnna = try #require(s.notifier.delivered.last { $0.member == "anna" && $0.incident == old.id })
        #expect(toAnna.purpose == .allClear)
        #expect(toAnna.title == "Linda: inactivity alert replaced by the fall alert", "not an \"all clear\" while a fall is open")
        #expect(toAnna.text == "Stand down for Linda: superseded by the fall incident opened 14:02 (hallway). No movement detected at 13:50 (living room). "
            + "Alerts continue under the fall incident; if you are already on your way, please keep going.")
        // The fall carries on from its own start (the self-check to Linda), and shows in the event lines.
        #expect(await s.engine.openIncidents.map(\.id) == ["linda-20261123-140200"])
        #expect(await s.engine.openIncidents.first?.state == .selfCancelWindow)
        #expect(s.lines.all.contains(.incident(time: Fixture.start, incident: old.id, person: "linda", kind: "inactivity", state: "stood-down", by: nil)))
        // New inactivity alerts are still inhibited while the fall is open.
        #expect(await s.engine.receive(Self.inactivity(at: Fixture.start.adding(seconds: 30))) == .inhibited(by: "linda-20261123-140200"))
        #if DEBUG
        #expect(await s.engine.invariantViolations.isEmpty)
        #endif
    }

    @Test func claimerOfTheInactivityIncidentIsToldToKeepGoing() throws {
        var h = Harness(alert: Self.inactivity())
        h.ack("anna", .claim, eta: 15)
        h.advance(60)
        h.handle(.superseded(Supersession(incident: "linda-2", kind: "fall", openedAt: h.now.wall, device: "hallway")))
        #expect(h.incident.state == .stoodDown)
        #expect(h.incident.closedBy == nil)
        let msg = try #require(h.lastSends.first { $0.member == "anna" })
        #expect(msg.text.contains("superseded by the fall incident opened 13:51 (hallway)"))
        #expect(msg.text.hasSuffix("if you are already on your way, please keep going."))
        #expect(h.incident.armed.isEmpty, "the claim-expiry timer is gone")
    }

    @Test("a superseded event closes every open state and leaves closed ones alone", arguments: StartState.allCases)
    func supersededFromEveryState(_ start: StartState) {
        var h = start.reach()
        let before = h.incident.state
        let sends = h.sends.count
        h.handle(.superseded(Supersession(incident: "linda-2", kind: "fall", openedAt: h.now.wall)))
        if before.isClosed {
            #expect(h.incident.state == before)
            #expect(h.sends.count == sends)
            #expect(h.incident.supersededBy == nil)
        } else {
            #expect(h.incident.state == .stoodDown)
            #expect(h.incident.supersededBy?.incident == "linda-2")
            #expect(Set(h.lastSends.filter { $0.purpose == .allClear }.map(\.member)) == Set(h.incident.pagedMembers))
        }
    }

    @Test func routerSupersedesOnlyOpenIncidentsOfInhibitedKinds() {
        let incidents = [
            IncidentSummary(id: "a", kind: "inactivity", severity: .warning, isClosed: false),
            IncidentSummary(id: "b", kind: "inactivity", severity: .warning, isClosed: true),
            IncidentSummary(id: "c", kind: "door-left-open", severity: .warning, isClosed: false),
        ]
        let policies = Fixture.config.policies
        #expect(IncidentRouter.superseded(byKind: "fall", severity: .critical, incidents: incidents, except: "f", policies: policies) == ["a"])
        #expect(IncidentRouter.superseded(byKind: "door-left-open", severity: .warning, incidents: incidents, except: "f", policies: policies).isEmpty)
    }

    @Test func supersessionIsJournaledAndARestartKeepsItStoodDown() async throws {
        let dir = temporaryDirectory()
        do {
            let s = EngineTests.Setup(journal: true, dir: dir)
            s.clock.stepWall(to: Self.inactivityAt)
            await s.engine.receive(Self.inactivity())
            s.clock.advance(by: .seconds(720))
            await s.engine.receive(Fixture.fall())
            await s.engine.waitForDeliveries()
        }
        let n = InMemoryNotifier()
        let engine = EscalationEngine(config: Fixture.config, clock: ManualClock(wall: Fixture.start.adding(seconds: 5)), notifiers: ["mqtt": n],
                                      stateDirectory: dir, bootID: "test-boot")
        let report = try await engine.recover()
        #expect(report.openIncidents == ["linda-20261123-140200"])
        #expect(await engine.incident("linda-20261123-135000")?.supersededBy?.kind == "fall")
        #expect(n.delivered.isEmpty, "nothing is sent twice")
    }

    @Test func crashBeforeTheStandDownIsFinishedOnRecovery() async throws {
        // Written by a config whose fall policy inhibits nothing: both incidents open, as if the process died
        // between the fall's opening and the inactivity incident's stand-down.
        var loose = Fixture.config
        loose.policies.policies[0].inhibits = []
        let dir = temporaryDirectory()
        do {
            let s = EngineTests.Setup(journal: true, dir: dir, config: loose)
            s.clock.stepWall(to: Self.inactivityAt)
            await s.engine.receive(Self.inactivity())
            s.clock.advance(by: .seconds(720))
            await s.engine.receive(Fixture.fall())
            await s.engine.waitForDeliveries()
            #expect(await s.engine.openIncidents.count == 2)
        }
        let n = InMemoryNotifier()
        let engine = EscalationEngine(config: Fixture.config, clock: ManualClock(wall: Fixture.start.adding(seconds: 5)), notifiers: ["mqtt": n],
                                      stateDirectory: dir, bootID: "test-boot")
        _ = try await engine.recover()
        await engine.waitForDeliveries()
        #expect(await engine.openIncidents.map(\.id) == ["linda-20261123-140200"])
        #expect(n.delivered.map(\.member) == ["anna"])
        #expect(n.delivered.first?.text.hasPrefix("Stand down for Linda: superseded by the fall incident") == true)
    }
}

/// `Incident.checkInvariants()`: checked after every step by `Harness` and the engine; here on long random walks.
@Suite("Incident invariants")
struct InvariantTests {
    @Test("random event sequences keep the invariants", arguments: [false, true])
    func randomWalksKeepTheInvariants(twoResponders: Bool) {
        var rng = SplitMix64(seed: twoResponders ? 2 : 1)   // the same walks on every run
        let members = ["anna", "ben", "carol", "centre", "dave", "linda", "mallory"]
        let actions = Ack.Action.allCases
        for _ in 0..<150 {
            var h = Harness(policy: { $0.twoResponders = twoResponders })
            for _ in 0..<14 {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0, 1, 2:
                    if let k = h.incident.armed.min(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.id < $1.key.id) })?.key { h.fire(k) }
                case 3, 4, 5:
                    h.advance(Int.random(in: 0...120, using: &rng))
                    h.ack(members.randomElement(using: &rng)!, actions.randomElement(using: &rng)!, eta: Int.random(in: 1...30, using: &rng))
                case 6:
                    h.handle(.home([HomeEvidence.doorOpened, .presence, .homeButton].randomElement(using: &rng)!))
                case 7:
                    if let p = h.incident.pages.randomElement(using: &rng) {
                        h.handle(.delivery(key: p.key, result: Bool.random(using: &rng) ? .delivered : .failed(reason: "HTTP 404")))
                    }
                case 8:
                    h.handle(.cleared(Alert(person: "linda", kind: "fall", severity: .critical, state: .cleared, time: h.now.wall)))
                default:
                    h.handle(.raisedAgain(Fixture.fall(at: h.now.wall)))
                }
            }
        }
    }

    #if DEBUG
    @Test func brokenIncidentIsReported() {
        var h = Harness()
        h.ack("linda", .cancel)
        #expect(h.incident.checkInvariants().isEmpty)
        h.incident.armed[.tier(0)] = h.now.monotonic
        #expect(h.incident.checkInvariants().contains { $0.contains("a closed incident has no timers") })
    }
    #endif
}
