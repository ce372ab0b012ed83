import CareSupport
@testable import Escalation
import Testing

/// The states a table row starts from, each reached through the real lifecycle.
enum StartState: String, CaseIterable, CustomTestStringConvertible {
    case selfCancelWindow, escalating, claimed, arrived, resolved, cancelled, stoodDown
    var testDescription: String { rawValue }

    func reach() -> Harness {
        var h = Harness()
        switch self {
        case .selfCancelWindow: break
        case .escalating: h.fire(.selfCancel)
        case .claimed: h.fire(.selfCancel); h.ack("ben", .claim, eta: 10)
        case .arrived: h.fire(.selfCancel); h.ack("ben", .claim, eta: 10); h.ack("ben", .arrived)
        case .resolved: h.fire(.selfCancel); h.ack("ben", .claim, eta: 10); h.ack("ben", .arrived); h.ack("ben", .resolve)
        case .cancelled: h.ack("linda", .cancel)
        case .stoodDown: h.fire(.selfCancel); h.handle(.cleared(Alert(person: "linda", kind: "fall", severity: .critical, state: .cleared, time: h.now.wall)))
        }
        return h
    }
}

enum TableEvent: String, CaseIterable, CustomTestStringConvertible {
    case cleared, annaClaims, annaDeclines, annaArrives, annaResolves, personAcks, strangerClaims, homeButton, doorThenPresence
    var testDescription: String { rawValue }

    func apply(_ h: inout Harness) {
        switch self {
        case .cleared: h.handle(.cleared(Alert(person: "linda", kind: "fall", severity: .critical, state: .cleared, time: h.now.wall)))
        case .annaClaims: h.ack("anna", .claim, eta: 15)
        case .annaDeclines: h.ack("anna", .decline)
        case .annaArrives: h.ack("anna", .arrived)
        case .annaResolves: h.ack("anna", .resolve)
        case .personAcks: h.ack("linda", .claim)
        case .strangerClaims: h.ack("mallory", .claim, eta: 1)
        case .homeButton: h.handle(.home(.homeButton))
        case .doorThenPresence: h.handle(.home(.doorOpened)); h.advance(20); h.handle(.home(.presence))
        }
    }
}

@Suite("Incident lifecycle: every state × event")
struct IncidentLifecycleTableTests {
    /// Expected state after each event, per starting state.
    static let table: [StartState: [TableEvent: IncidentState]] = [
        .selfCancelWindow: [.cleared: .stoodDown, .annaClaims: .claimed, .annaDeclines: .escalating, .annaArrives: .arrived,
                            .annaResolves: .resolved, .personAcks: .cancelled, .strangerClaims: .selfCancelWindow,
                            .homeButton: .selfCancelWindow, .doorThenPresence: .selfCancelWindow],
        .escalating: [.cleared: .stoodDown, .annaClaims: .claimed, .annaDeclines: .escalating, .annaArrives: .arrived,
                      .annaResolves: .resolved, .personAcks: .cancelled, .strangerClaims: .escalating,
                      .homeButton: .arrived, .doorThenPresence: .escalating],
        .claimed: [.cleared: .stoodDown, .annaClaims: .claimed, .annaDeclines: .claimed, .annaArrives: .arrived,
                   .annaResolves: .resolved, .personAcks: .cancelled, .strangerClaims: .claimed,
                   .homeButton: .arrived, .doorThenPresence: .arrived],
        .arrived: [.cleared: .arrived, .annaClaims: .arrived, .annaDeclines: .arrived, .annaArrives: .arrived,
                   .annaResolves: .resolved, .personAcks: .cancelled, .strangerClaims: .arrived,
                   .homeButton: .arrived, .doorThenPresence: .arrived],
        .resolved: Dictionary(uniqueKeysWithValues: TableEvent.allCases.map { ($0, .resolved) }),
        .cancelled: Dictionary(uniqueKeysWithValues: TableEvent.allCases.map { ($0, .cancelled) }),
        .stoodDown: Dictionary(uniqueKeysWithValues: TableEvent.allCases.map { ($0, .stoodDown) }),
    ]

    @Test("each state handles each event", arguments: StartState.allCases, TableEvent.allCases)
    func transition(from start: StartState, event: TableEvent) throws {
        var h = start.reach()
        let before = h.incident.state
        let sendsBefore = h.sends.count
        event.apply(&h)
        let expected = try #require(Self.table[start]?[event])
        #expect(h.incident.state == expected, "\(start) + \(event): \(before) → \(h.incident.state), expected \(expected)")
        if before.isClosed {
            #expect(h.sends.count == sendsBefore, "a closed incident sends nothing more")
            #expect(h.incident.armed.isEmpty, "a closed incident has no timers")
        }
        if h.incident.state.isClosed { #expect(h.incident.armed.isEmpty) }
        if event == .strangerClaims {
            #expect(h.lastSends.isEmpty)
            #expect(h.logs.last?.contains("\"mallory\"") == true && h.logs.last?.contains("not in the circle") == true)
            #expect(!h.lines.contains { if case .ack(_, _, "mallory", _, _) = $0 { true } else { false } })
        }
    }

    @Test("a timer that is no longer armed is ignored in every state", arguments: StartState.allCases)
    func staleTimerIgnored(from start: StartState) {
        var h = start.reach()
        let state = h.incident.state
        h.handle(.timerFired(.tier(7)))
        #expect(h.incident.state == state)
        #expect(h.lastSends.isEmpty)
    }
}

@Suite("Incident lifecycle: behaviour")
struct IncidentBehaviourTests {
    @Test func selfCancelWindowAsksThePersonFirstAndPagesNobodyElse() {
        let h = Harness()
        #expect(h.incident.state == .selfCancelWindow)
        #expect(h.sends.map(\.member) == ["linda"])
        #expect(h.sends[0].purpose == .selfCheck)
        #expect(h.sends[0].text.hasPrefix("Did you fall? Press OK if you are fine."))
        #expect(h.incident.armed[.selfCancel] == h.now.monotonic.advanced(by: .seconds(60)))
        #expect(h.states == ["opened", "self-cancel-window"])
    }

    @Test func personPressingOkDuringTheWindowCancelsBeforeAnyonePaged() {
        var h = Harness()
        h.advance(20)
        h.ack("linda", .cancel)
        #expect(h.incident.state == .cancelled)
        #expect(h.incident.closedBy == "linda")
        #expect(h.sends.filter { $0.member != "linda" }.isEmpty)
        #expect(h.last.contains(.cancelTimer(.selfCancel)))
    }

    @Test func noAnswerFromThePersonPagesTierOneThenTierTwoAfterItsDelay() {
        var h = Harness()
        h.fire(.selfCancel)
        #expect(h.incident.state == .escalating)
        #expect(h.lastSends.map(\.member) == ["anna"], "dave has not consented and is never paged")
        #expect(h.logs.contains { $0.contains("Dave (son)") && $0.contains("consented") })
        h.fire(.tier(1))
        #expect(Set(h.lastSends.filter { $0.purpose == .page }.map(\.member)) == ["ben", "carol"])
        #expect(h.pages(to: "dave").isEmpty)
    }

    @Test func everyPageSaysWhoElseWasToldAndWhoIsGoing() {
        var h = Harness()
        h.fire(.selfCancel)                     // 14:03 Anna paged
        h.advance(120)
        h.ack("anna", .decline)                 // 14:05 Anna can't: Ben and Carol paged at once
        let benPage = h.pages(to: "ben").last!
        #expect(benPage.text == "Linda: Fall detected at 14:02 (hallway). Anna (daughter) can't go. Can you go?")
        h.advance(60)
        h.ack("ben", .claim, eta: 10)
        let toCarol = h.lastSends.first { $0.member == "carol" }!
        #expect(toCarol.purpose == .update)
        #expect(toCarol.text == "Linda: Ben (neighbour) is going, ETA 10 min. Fall detected at 14:02 (hallway). Anna (daughter) can't go. Thank you: no need to go unless you hear again.")
        let toAnna = h.lastSends.first { $0.member == "anna" }!
        #expect(toAnna.text.contains("Ben (neighbour) is going"))
        let toBen = h.lastSends.first { $0.member == "ben" }!
        #expect(toBen.text.hasPrefix("Thank you, Ben: you are going to Linda, ETA 10 min."))
        #expect(toBen.actions == [.arrived, .resolve])
        #expect(h.lastSends.contains { $0.member == "linda" && $0.text == "Ben is on the way, about 10 minutes." })
    }

    @Test func pageTextNamesSilentMembersWithTheTimeTheyWerePaged() {
        var h = Harness()
        h.fire(.selfCancel)
        h.run(for: 300)
        let text = h.pages(to: "ben").last!.text
        #expect(text == "Linda: Fall detected at 14:02 (hallway). Anna (daughter) paged 14:03, no reply. Can you go?")
    }

    @Test func allClearGoesToEveryonePagedWithWhoResolvedIt() {
        var h = Harness()
        h.fire(.selfCancel)
        h.fire(.tier(1))
        h.ack("ben", .claim, eta: 5)
        h.ack("ben", .arrived)
        h.advance(600)
        h.ack("ben", .resolve)
        let allClear = h.lastSends.filter { $0.purpose == .allClear }
        #expect(Set(allClear.map(\.member)) == ["anna", "ben", "carol"])
        #expect(allClear.allSatisfy { $0.text.hasPrefix("All clear for Linda: Ben (neighbour) resolved it at 14:") })
        #expect(h.states.last == "resolved")
        #expect(h.lines.contains(.incident(time: h.now.wall, incident: "linda-1", person: "linda", kind: "fall", state: "resolved", by: "ben")))
    }

    @Test func recoveryDetectedStandsDownEveryonePaged() {
        var h = Harness()
        h.fire(.selfCancel)
        h.handle(.cleared(Alert(person: "linda", kind: "fall", severity: .critical, state: .cleared, time: h.now.wall)))
        #expect(h.incident.state == .stoodDown)
        #expect(h.lastSends.map(\.member) == ["anna"])
        #expect(h.lastSends[0].text.hasPrefix("Stand down for Linda: recovery detected at 14:03"))
    }

    @Test func declinesFromEveryonePagedPageTheNextTierWithoutWaiting() {
        var h = Harness()
        h.fire(.selfCancel)
        h.advance(10)
        h.ack("anna", .decline)
        #expect(Set(h.lastSends.map(\.member)) == ["ben", "carol"])
        #expect(h.incident.armed[.tier(1)] == nil)
    }

    @Test func aFailedPageTriesTheMembersNextContactAtOnce() {
        var h = Harness()
        h.fire(.selfCancel)
        let first = h.pages(to: "anna")[0]
        #expect(first.address == "phones/anna")
        h.handle(.delivery(key: first.key, result: .failed(reason: "HTTP 404")))
        #expect(h.lastSends.map(\.address) == ["sms/anna"])
    }

    @Test func silentMemberIsPagedAgainOnTheNextContactAfterTheAckTimeout() {
        var h = Harness()
        h.fire(.selfCancel)
        h.fire(.ackTimeout(member: "anna", attempt: 1))
        #expect(h.lastSends.map(\.address) == ["sms/anna"])
        // rePages is 1: the second timeout does not page again.
        h.fire(.ackTimeout(member: "anna", attempt: 2))
        #expect(h.lastSends.isEmpty)
    }

    @Test func ackFromSomeoneOutsideTheCircleIsIgnoredAndLogged() {
        var h = Harness()
        h.fire(.selfCancel)
        h.ack("mallory", .resolve)
        #expect(h.incident.state == .escalating)
        #expect(h.last == [.log(.notice, "incident linda-1: ack resolve from \"mallory\" via mqtt, who is not in the circle, ignored")])
    }

    @Test func eventLinesFollowTheFixedContract() {
        var h = Harness()
        h.fire(.selfCancel)
        h.ack("ben", .claim, eta: 10)
        let lines = h.lines.map(\.line)
        #expect(lines[0] == #"{"type":"incident","time":"2026-11-23T14:02:00.000Z","incident":"linda-1","person":"linda","kind":"fall","state":"opened"}"#)
        #expect(lines.contains(#"{"type":"ack","time":"2026-11-23T14:03:00.000Z","incident":"linda-1","member":"ben","action":"claim","eta":10}"#))
        #expect(lines.contains(#"{"type":"incident","time":"2026-11-23T14:03:00.000Z","incident":"linda-1","person":"linda","kind":"fall","state":"claimed","by":"ben"}"#))
        #expect(lines.contains { $0.hasPrefix(#"{"type":"notification","time":"2026-11-23T14:03:00.000Z","incident":"linda-1","member":"anna","notifier":"mqtt","tier":1,"text":"Linda: Fall detected"#) })
        for l in h.lines { #expect(EventLine(json: try! JSONParser.parse(l.line)) == l) }
    }
}

@Suite("Two-responder rule")
struct TwoResponderTests {
    static func harness() -> Harness { Harness(policy: { $0.twoResponders = true }) }

    @Test func oneClaimKeepsEscalatingAndSaysASecondPersonIsNeeded() {
        var h = Self.harness()
        h.fire(.selfCancel)
        h.ack("anna", .claim, eta: 20)
        #expect(h.incident.state == .claimed)
        #expect(h.incident.needsResponders)
        #expect(h.incident.armed[.tier(1)] != nil, "tier 2 is still due")
        h.fire(.tier(1))
        let benPage = h.lastSends.first { $0.member == "ben" }!
        #expect(benPage.text.contains("Anna (daughter) is going, ETA 20 min. Still looking for a second person to go."))
    }

    @Test func secondClaimStopsEscalation() {
        var h = Self.harness()
        h.fire(.selfCancel)
        h.ack("anna", .claim, eta: 20)
        h.fire(.tier(1))
        h.ack("ben", .claim, eta: 5)
        #expect(!h.incident.needsResponders)
        #expect(h.incident.armed.keys.allSatisfy { if case .claimExpiry = $0 { true } else { false } })
        #expect(h.incident.activeClaims == ["anna", "ben"])
    }

    @Test func monitoringCentreClaimCountsAsTwo() {
        var h = Self.harness()
        h.fire(.selfCancel)
        h.ack("centre", .claim, eta: 30)
        #expect(!h.incident.needsResponders)
        #expect(h.incident.armed[.tier(1)] == nil)
    }

    @Test func withoutTheRuleOneClaimIsEnough() {
        var h = Harness()
        h.fire(.selfCancel)
        h.ack("anna", .claim, eta: 20)
        #expect(!h.incident.needsResponders)
        #expect(h.incident.armed[.tier(1)] == nil)
    }
}

@Suite("Arrival verification")
struct ArrivalTests {
    static func claimed() -> Harness {
        var h = Harness()
        h.fire(.selfCancel)
        h.ack("ben", .claim, eta: 10)
        return h
    }

    @Test func doorThenPresenceWithinTheWindowIsAVerifiedArrivalOfTheClaimer() {
        var h = Self.claimed()
        h.advance(300)
        h.handle(.home(.doorOpened))
        h.advance(30)
        h.handle(.home(.presence))
        #expect(h.incident.state == .arrived)
        #expect(h.incident.arrivedBy == "ben")
        #expect(h.incident.arrivalVerified)
        #expect(h.lastSends.first { $0.member == "anna" }!.text.hasPrefix("Linda: Ben (neighbour) arrived 14:08 (confirmed by front door, then movement inside)."))
    }

    @Test func presenceWithoutTheDoorIsNotAnArrival() {
        var h = Self.claimed()
        h.handle(.home(.presence))
        #expect(h.incident.state == .claimed)
    }

    @Test func presenceLongAfterTheDoorIsNotAnArrival() {
        var h = Self.claimed()
        h.handle(.home(.doorOpened))
        h.advance(301)
        h.handle(.home(.presence))
        #expect(h.incident.state == .claimed)
    }

    @Test func responderWordIsUnverifiedUntilTheSensorsAgree() {
        var h = Self.claimed()
        h.ack("ben", .arrived)
        #expect(h.incident.state == .arrived && !h.incident.arrivalVerified)
        h.handle(.home(.homeButton))
        #expect(h.incident.arrivalVerified)
        #expect(h.incident.arrivedBy == "ben")
    }

    @Test func doorAndPresenceWithNobodyClaimedIsNotCountedAsArrival() {
        var h = Harness()
        h.fire(.selfCancel)
        h.handle(.home(.doorOpened))
        h.handle(.home(.presence))
        #expect(h.incident.state == .escalating)
    }
}

@Suite("Claim expiry")
struct ClaimExpiryTests {
    @Test func claimNotArrivedByEtaPlusMarginResumesEscalationAndTellsTheCircle() {
        var h = Harness()
        h.fire(.selfCancel)                       // 14:03 anna paged
        h.ack("anna", .claim, eta: 10)            // expires at 14:03 + 10 min + 600 s = 14:23
        #expect(h.incident.armed[.tier(1)] == nil)
        h.fire(.claimExpiry(member: "anna"))
        #expect(h.now.wall == RFC3339.parse("2026-11-23T14:23:00Z")!)
        #expect(h.states.suffix(1) == ["claim-expired"])
        #expect(h.incident.state == .escalating)
        #expect(h.lines.contains(.incident(time: h.now.wall, incident: "linda-1", person: "linda", kind: "fall", state: "claim-expired", by: "anna")))
        let annaUpdate = h.lastSends.first { $0.member == "anna" }!
        #expect(annaUpdate.text.contains("nobody has arrived yet (14:23)"))
        #expect(annaUpdate.text.contains("Anna (daughter) said at 14:03 they were going (ETA 10 min) but has not arrived."))
        #expect(Set(h.lastSends.filter { $0.purpose == .page }.map(\.member)) == ["ben", "carol"])
    }

    @Test func arrivalBeforeExpiryCancelsTheExpiryTimer() {
        var h = Harness()
        h.fire(.selfCancel)
        h.ack("anna", .claim, eta: 10)
        h.ack("anna", .arrived)
        #expect(h.incident.armed.isEmpty)
        #expect(h.last.contains(.cancelTimer(.claimExpiry(member: "anna"))))
    }

    @Test func withdrawnOnlyClaimGoesBackToEscalating() {
        var h = Harness()
        h.fire(.selfCancel)
        h.ack("anna", .claim, eta: 10)
        h.ack("anna", .decline)
        #expect(h.incident.state == .escalating)
        #expect(Set(h.lastSends.filter { $0.purpose == .page }.map(\.member)) == ["ben", "carol"])
    }
}

@Suite("Quiet hours, availability, consent")
struct QuietHoursTests {
    /// 23:30 London time in November (UTC+0).
    static let night = RFC3339.parse("2026-11-23T23:30:00Z")!

    static func atNight(_ severity: Severity) -> Harness {
        var h = Harness(alert: Fixture.fall(at: night, severity: severity))
        h.fire(.selfCancel)
        h.fire(.tier(1))
        return h
    }

    @Test func criticalOverridesQuietHoursWhenTheMemberAllowsIt() {
        let h = Self.atNight(.critical)
        #expect(!h.pages(to: "ben").isEmpty)
    }

    @Test func criticalDoesNotOverrideWhenTheMemberSaidNo() {
        let h = Self.atNight(.critical)
        #expect(h.pages(to: "carol").isEmpty)
        #expect(h.logs.contains { $0.contains("Carol (volunteer)") && $0.contains("quiet hours") })
    }

    @Test func warningRespectsQuietHours() {
        let h = Self.atNight(.warning)
        #expect(h.pages(to: "ben").isEmpty)
        #expect(h.pages(to: "carol").isEmpty)
    }

    @Test func outsideQuietHoursEveryoneIsPaged() {
        let h = { var h = Harness(alert: Fixture.fall(severity: .warning)); h.fire(.selfCancel); h.fire(.tier(1)); return h }()
        #expect(!h.pages(to: "ben").isEmpty && !h.pages(to: "carol").isEmpty)
    }

    @Test func memberAwayUntilALaterDateIsNotPaged() {
        var c = Fixture.config
        c.members[0].awayUntil = RFC3339.parse("2026-12-01")
        var h = Harness(config: c)
        h.fire(.selfCancel)
        #expect(h.pages(to: "anna").isEmpty)
        #expect(Set(h.lastSends.map(\.member)) == ["ben", "carol"], "an empty tier moves on to the next at once")
    }

    @Test func memberOutsideAvailabilityWindowIsNotPaged() {
        var c = Fixture.config
        c.members[0].availability = [AvailabilityWindow(days: [1], from: TimeOfDay("09:00")!, to: TimeOfDay("12:00")!)]
        var h = Harness(config: c)
        h.fire(.selfCancel)
        #expect(h.pages(to: "anna").isEmpty)
    }

    @Test func availabilityWindowThatWrapsMidnightBelongsToItsStartDay() {
        let w = AvailabilityWindow(days: [1], from: TimeOfDay("22:00")!, to: TimeOfDay("06:00")!)
        #expect(w.contains(LocalTime(weekday: 1, minuteOfDay: 23 * 60)))
        #expect(w.contains(LocalTime(weekday: 2, minuteOfDay: 5 * 60)))
        #expect(!w.contains(LocalTime(weekday: 1, minuteOfDay: 5 * 60)))
    }
}

@Suite("Grouping, dedup, inhibition, digest")
struct RoutingTests {
    let policies = Fixture.config.policies
    func alert(_ kind: String, _ state: Alert.State = .raised, at t: WallTime = Fixture.start, severity: Severity = .critical) -> Alert {
        Alert(person: "linda", kind: kind, severity: severity, state: state, time: t)
    }

    @Test func sameKindWhileOpenIsOneIncident() {
        let open = [IncidentSummary(id: "f1", kind: "fall", severity: .critical, isClosed: false)]
        #expect(IncidentRouter.route(alert("fall"), incidents: open, policies: policies) == .group(into: "f1"))
    }

    @Test func openFallSuppressesInactivityForTheSamePerson() {
        let open = [IncidentSummary(id: "f1", kind: "fall", severity: .critical, isClosed: false)]
        #expect(IncidentRouter.route(alert("inactivity"), incidents: open, policies: policies) == .inhibited(by: "f1"))
    }

    @Test func closedFallNoLongerSuppressesInactivity() {
        let closed = [IncidentSummary(id: "f1", kind: "fall", severity: .critical, isClosed: true, closedAt: Fixture.start)]
        #expect(IncidentRouter.route(alert("inactivity"), incidents: closed, policies: policies) == .open)
    }

    @Test func lateDuplicateOfAClosedIncidentDoesNotPageAgain() {
        let closed = [IncidentSummary(id: "f1", kind: "fall", severity: .critical, isClosed: true, closedAt: Fixture.start.adding(seconds: 30))]
        #expect(IncidentRouter.route(alert("fall"), incidents: closed, policies: policies) == .duplicate(of: "f1"))
        #expect(IncidentRouter.route(alert("fall", at: Fixture.start.adding(seconds: 60)), incidents: closed, policies: policies) == .open,
                "a new fall after the incident closed is a new incident")
    }

    @Test func routineKindsGoToTheDigest() {
        #expect(IncidentRouter.route(alert("drift"), incidents: [], policies: policies) == .digest)
        #expect(IncidentRouter.route(alert("unknown-kind", severity: .info), incidents: [], policies: policies) == .digest)
    }

    @Test func clearClosesTheOpenIncidentOfThatKindOnly() {
        let open = [IncidentSummary(id: "f1", kind: "fall", severity: .critical, isClosed: false)]
        #expect(IncidentRouter.route(alert("fall", .cleared), incidents: open, policies: policies) == .clear("f1"))
        #expect(IncidentRouter.route(alert("inactivity", .cleared), incidents: open, policies: policies) == .ignore)
    }
}

@Suite("Tiers")
struct TierTests {
    @Test func everyTierDueAtOnceIsPagedOnceEach() {
        var h = Harness(policy: {
            $0.selfCancelSeconds = 0
            $0.tiers = [Tier(members: ["anna"]), Tier(members: ["ben"]), Tier(members: ["carol"], afterSeconds: 60)]
        })
        #expect(h.sends.filter { $0.purpose == .page }.map(\.member) == ["anna", "ben"])
        h.fire(.tier(2))
        #expect(h.pages(to: "carol").count == 1 && h.pages(to: "anna").count == 1)
    }

    @Test func tierRepeatRepagesOnlyMembersWhoHaveNotAnswered() {
        var h = Harness(policy: {
            $0.selfCancelSeconds = 0
            $0.ackTimeoutSeconds = 3600
            $0.tiers = [Tier(members: ["anna", "ben"], repeatEverySeconds: 120, repeatCount: 2)]
        })
        h.advance(30)
        h.ack("anna", .decline)
        h.fire(.tierRepeat(0, 1))
        #expect(h.lastSends.filter { $0.purpose == .page }.map(\.member) == ["ben"])
        h.fire(.tierRepeat(0, 2))
        #expect(h.pages(to: "ben").count == 3)
        #expect(h.incident.armed[.tierRepeat(0, 3)] == nil, "repeat count reached")
    }

    @Test func policyWithoutSelfCancelOrPersonChannelPagesAtOnce() {
        var c = Fixture.config
        c.person.contacts = []
        let h = Harness(config: c)
        #expect(h.incident.state == .escalating)
        #expect(h.sends.map(\.member) == ["anna"])
    }
}
