import CareSupport

/// Where an incident is in its lifecycle.
public enum IncidentState: String, Sendable, Equatable, CaseIterable {
    case opened
    /// The person is asked "are you fine?" before anyone else is paged.
    case selfCancelWindow = "self-cancel-window"
    case escalating
    case claimed
    case arrived
    case resolved
    /// Cancelled by the person (or a member who knows it is a false alarm).
    case cancelled
    /// The detection cleared (recovery detected) before anyone arrived (not by the front door while someone is on
    /// the way: that may be them coming in).
    case stoodDown = "stood-down"

    public var isClosed: Bool { self == .resolved || self == .cancelled || self == .stoodDown }
}

/// A timer the incident asked for. Its `id` string is what the journal records.
public enum TimerKey: Sendable, Hashable, CustomStringConvertible {
    case selfCancel
    /// Page tier n (0-based) now.
    case tier(Int)
    /// Re-page tier n's silent members, the k-th time.
    case tierRepeat(Int, Int)
    /// The member has not answered their page number `attempt`.
    case ackTimeout(member: String, attempt: Int)
    /// The member claimed but nobody has arrived by ETA + margin.
    case claimExpiry(member: String)
    /// Every tier was paged and nobody is going: page everyone again, the n-th time.
    case lastResort(Int)

    public var id: String {
        switch self {
        case .selfCancel: "self-cancel"
        case .tier(let n): "tier:\(n)"
        case .tierRepeat(let n, let k): "tier-repeat:\(n):\(k)"
        case .ackTimeout(let m, let a): "ack-timeout:\(a):\(m)"
        case .claimExpiry(let m): "claim-expiry:\(m)"
        case .lastResort(let n): "last-resort:\(n)"
        }
    }
    public var description: String { id }

    public init?(id: String) {
        let p = id.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        switch p[0] {
        case "self-cancel" where p.count == 1: self = .selfCancel
        case "tier" where p.count == 2: guard let n = Int(p[1]) else { return nil }; self = .tier(n)
        case "tier-repeat" where p.count == 3: guard let n = Int(p[1]), let k = Int(p[2]) else { return nil }; self = .tierRepeat(n, k)
        case "ack-timeout" where p.count == 3: guard let a = Int(p[1]) else { return nil }; self = .ackTimeout(member: p[2], attempt: a)
        case "claim-expiry" where p.count >= 2: self = .claimExpiry(member: p.dropFirst().joined(separator: ":"))
        case "last-resort" where p.count == 2: guard let n = Int(p[1]) else { return nil }; self = .lastResort(n)
        default: return nil
        }
    }
}

/// The outcome of a delivery, fed back to the incident.
public enum DeliveryResult: Sendable, Equatable {
    case delivered
    case failed(reason: String)
}

/// Everything that can happen to an open incident.
public enum IncidentEvent: Sendable, Equatable {
    /// The same kind raised again for the person within the grouping window.
    case raisedAgain(Alert)
    /// The detection cleared: recovery detected.
    case cleared(Alert)
    case ack(Ack)
    case timerFired(TimerKey)
    case delivery(key: String, result: DeliveryResult)
    case home(HomeEvidence)
    /// A more serious incident opened for the person whose policy inhibits this kind (a fall while an inactivity
    /// incident is open): this one stands down and everyone paged hears that the other incident carries on.
    case superseded(Supersession)
    /// After a restart (perhaps with a changed config): members of tiers already paged who can be paged now and
    /// never were are paged at once.
    case catchUp
}

/// The incident that took over from a superseded one.
public struct Supersession: Sendable, Equatable {
    public var incident: String
    public var kind: String
    public var openedAt: WallTime
    public var device: String?
    public init(incident: String, kind: String, openedAt: WallTime, device: String? = nil) {
        self.incident = incident; self.kind = kind; self.openedAt = openedAt; self.device = device
    }
}

/// What the incident asks its driver to do.
public enum IncidentAction: Sendable, Equatable {
    case send(OutgoingNotification)
    case armTimer(TimerKey, after: Duration)
    case cancelTimer(TimerKey)
    case emit(EventLine)
    /// The state changed: journal it durably (fsync) before acting on the sends.
    case persist
    case log(LogLevel, String)
}

/// A message sent to someone about this incident.
public struct PageRecord: Sendable, Equatable {
    public enum Status: Sendable, Equatable { case pending, delivered, failed(String) }
    public var key: String
    public var member: String
    public var notifier: String
    public var contactIndex: Int
    public var tier: Int
    public var purpose: NotificationPurpose
    public var at: WallTime
    public var status: Status
}

/// A member's answer.
public struct Response: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case claimed(etaMinutes: Int), declined, arrived }
    public var kind: Kind
    public var at: WallTime
    /// A claim that ran past ETA + margin without an arrival.
    public var expired: Bool = false
}

/// What an incident needs to know about the home, fixed when it opens.
public struct IncidentContext: Sendable {
    public var person: PersonProfile
    public var members: [Member]
    public var policy: Policy
    public init(person: PersonProfile, members: [Member], policy: Policy) {
        self.person = person; self.members = members; self.policy = policy
    }
    public init(config: EscalationConfig, kind: String, severity: Severity) {
        self.init(person: config.person, members: config.members, policy: config.policies.policy(kind: kind, severity: severity))
    }
}

/// One incident's lifecycle as a pure state machine: `open` and `handle` take an event and the current moment and
/// return actions (send, arm or cancel a timer, emit an event line, persist). No I/O, no clock reads: the same
/// events give the same actions, which is what journal replay relies on.
///
/// `opened → self-cancel window → escalating (tier n) → claimed → arrived → resolved`, plus `cancelled`,
/// `stood-down`, and an expired claim (escalation resumes and the circle is told).
public struct Incident: Sendable {
    public let id: String
    public private(set) var context: IncidentContext
    public let kind: String
    public private(set) var severity: Severity
    public let openedAt: WallTime
    public private(set) var device: String?
    public private(set) var detail: String
    /// The words for its kind (the table beside the detection kinds, carried by the alert).
    public let wording: KindWording
    public private(set) var state: IncidentState = .opened
    /// Every message sent about this incident, in order.
    public private(set) var pages: [PageRecord] = []
    /// Each member's latest answer.
    public private(set) var responses: [String: Response] = [:]
    /// Member ids in the order they claimed.
    public private(set) var claimOrder: [String] = []
    public private(set) var arrivedBy: String?
    public private(set) var arrivedAt: WallTime?
    public private(set) var arrivalVerified = false
    public private(set) var closedBy: String?
    public private(set) var closedAt: WallTime?
    /// Set when the incident stood down because a more serious one took over.
    public private(set) var supersededBy: Supersession?
    /// Tiers paged so far (0-based indices).
    public private(set) var tiersPaged: Set<Int> = []
    /// Timers currently armed, with their monotonic deadlines (the journal re-arms them after a restart).
    public internal(set) var armed: [TimerKey: MonotonicInstant] = [:]
    /// How many times each member has been paged (for ack-timeout re-pages).
    public private(set) var pageAttempts: [String: Int] = [:]
    /// Raises grouped into this incident after the first.
    public private(set) var groupedRaises = 0
    var doorOpenedAt: WallTime?
    var sequence = 0

    public init(id: String, alert: Alert, context: IncidentContext) {
        self.id = id
        self.context = context
        self.kind = alert.kind
        self.severity = alert.severity
        self.openedAt = alert.time
        self.device = alert.device
        self.detail = alert.detail
        self.wording = alert.wording ?? .generic(kind: alert.kind)
    }

    var policy: Policy { context.policy }
    var person: PersonProfile { context.person }
    public var isClosed: Bool { state.isClosed }

    public func member(_ id: String) -> Member? { context.members.first { $0.id == id } }

    /// Claims that still count (not expired), in claim order.
    public var activeClaims: [String] {
        claimOrder.filter { if case .claimed = responses[$0]?.kind, responses[$0]?.expired == false { true } else { false } }
    }

    /// True while the policy still wants more people going: nobody has claimed, or the two-responder rule is not met.
    public var needsResponders: Bool {
        switch state {
        case .escalating: return true
        case .claimed:
            guard policy.twoResponders else { return false }
            let claims = activeClaims
            if claims.contains(where: { member($0)?.role == .monitoringCentre }) { return false }
            return claims.count < 2
        default: return false
        }
    }

    /// Members who have been paged or have answered (not counting the person), in first-page order then answer
    /// order: everyone who hears about every change.
    public var pagedMembers: [String] {
        var seen: [String] = []
        for p in pages where p.purpose == .page && !seen.contains(p.member) { seen.append(p.member) }
        for m in claimOrder where !seen.contains(m) { seen.append(m) }
        for m in responses.keys.sorted() where !seen.contains(m) && member(m) != nil { seen.append(m) }
        return seen
    }

    // MARK: - Opening

    /// Starts the incident: the self-cancel window when the policy has one and the person has a channel, otherwise
    /// straight to escalation.
    public mutating func open(at now: Moment) -> [IncidentAction] {
        var out: [IncidentAction] = []
        transition(.opened, by: nil, at: now, &out)
        if policy.selfCancelSeconds > 0 && !person.contacts.isEmpty {
            transition(.selfCancelWindow, by: nil, at: now, &out)
            for (i, c) in person.contacts.enumerated() {
                send(to: person.id, contact: c, contactIndex: i, tier: 0, purpose: .selfCheck,
                     text: Messages.selfCheck(self, at: now.wall), at: now, &out)
            }
            arm(.selfCancel, after: .seconds(policy.selfCancelSeconds), at: now, &out)
        } else {
            startEscalation(at: now, &out)
        }
        out.append(.persist)
        return out
    }

    // MARK: - Events

    public mutating func handle(_ event: IncidentEvent, at now: Moment) -> [IncidentAction] {
        var out: [IncidentAction] = []
        if case .timerFired(let k) = event {
            guard armed.removeValue(forKey: k) != nil else {
                return [.log(.debug, "incident \(id): timer \(k) fired but is no longer armed; ignored")]
            }
        }
        if isClosed {
            switch event {
            case .delivery(let key, let result): recordDelivery(key, result, at: now, &out)
            case .ack(let a) where member(a.member) == nil && a.member != person.id:
                out.append(.log(.notice, "incident \(id): ack from \"\(a.member)\", who is not in the circle, ignored"))
            case .ack(let a):
                out.append(.log(.info, "incident \(id) is already \(state.rawValue); \(a.action.rawValue) from \(a.member) ignored"))
            default: break
            }
            return out
        }
        switch event {
        case .raisedAgain(let a):
            groupedRaises += 1
            if a.severity > severity { severity = a.severity }
            out.append(.log(.info, "incident \(id): \(a.kind) raised again (\(groupedRaises) grouped)"))
        case .cleared(let a):
            handleCleared(a, at: now, &out)
        case .ack(let a):
            handleAck(a, at: now, &out)
        case .timerFired(let k):
            handleTimer(k, at: now, &out)
        case .delivery(let key, let result):
            recordDelivery(key, result, at: now, &out)
        case .home(let e):
            handleHome(e, at: now, &out)
        case .superseded(let s):
            supersededBy = s
            out.append(.log(.info, "incident \(id): superseded by \(s.kind) incident \(s.incident); standing down"))
            close(.stoodDown, by: nil, at: now, &out)
            tellPaged(purpose: .allClear, at: now, &out) { i, _ in Messages.superseded(i, by: s, at: now.wall) }
        case .catchUp:
            catchUp(at: now, &out)
        }
        return out
    }

    /// Why a member cannot be paged now. With an untrusted wall clock only consent counts: quiet hours,
    /// availability windows and away dates are read on a clock that may be days out.
    func unavailability(of m: Member, at now: Moment, local: LocalTime) -> Unavailability? {
        guard now.wallIsTrusted else { return m.consent.given ? nil : .noConsent }
        return m.unavailability(at: now.wall, local: local, severity: severity)
    }

    /// Moves a replayed incident to the circle and policy of the config read now (its timers stay as they are).
    mutating func adopt(_ c: IncidentContext) { context = c }

    mutating func catchUp(at now: Moment, _ out: inout [IncidentAction]) {
        guard needsResponders else { return }
        let local = LocalTime(now.wall, in: person.timeZone)
        for n in tiersPaged.sorted() {
            for m in policy.tiers[n].resolve(in: context.members) where !m.contacts.isEmpty && responses[m.id] == nil {
                guard !pages.contains(where: { $0.member == m.id && $0.purpose == .page }),
                      unavailability(of: m, at: now, local: local) == nil else { continue }
                out.append(.log(.notice, "incident \(id): \(m.label) can be paged now (tier \(n + 1) was paged before the restart)"))
                pageAttempts[m.id] = 1
                send(to: m.id, contact: m.contacts[0], contactIndex: 0, tier: n + 1, purpose: .page,
                     text: Messages.page(self, to: m, at: now.wall), at: now, &out)
                arm(.ackTimeout(member: m.id, attempt: 1), after: .seconds(policy.ackTimeoutSeconds), at: now, &out)
            }
        }
    }

    // MARK: - Transitions

    mutating func transition(_ s: IncidentState, by: String?, at now: Moment, _ out: inout [IncidentAction], lineState: String? = nil) {
        state = s
        out.append(.emit(.incident(time: now.wall, incident: id, person: person.id, kind: kind,
                                   state: lineState ?? s.rawValue, by: by)))
        out.append(.persist)
    }

    mutating func arm(_ k: TimerKey, after d: Duration, at now: Moment, _ out: inout [IncidentAction]) {
        armed[k] = now.monotonic.advanced(by: d)
        out.append(.armTimer(k, after: d))
    }

    mutating func disarm(where predicate: (TimerKey) -> Bool, _ out: inout [IncidentAction]) {
        for k in armed.keys.sorted(by: { $0.id < $1.id }) where predicate(k) {
            armed.removeValue(forKey: k)
            out.append(.cancelTimer(k))
        }
    }

    static func isEscalationTimer(_ k: TimerKey) -> Bool {
        switch k {
        case .tier, .tierRepeat, .ackTimeout, .selfCancel, .lastResort: true
        case .claimExpiry: false
        }
    }

    mutating func startEscalation(at now: Moment, _ out: inout [IncidentAction]) {
        transition(.escalating, by: nil, at: now, &out)
        for (i, t) in policy.tiers.enumerated() where t.afterSeconds > 0 {
            arm(.tier(i), after: .seconds(t.afterSeconds), at: now, &out)
        }
        for i in policy.tiers.indices where policy.tiers[i].afterSeconds == 0 && !tiersPaged.contains(i) {
            pageTier(i, at: now, &out)
        }
        if policy.tiers.isEmpty {
            out.append(.log(.warning, "incident \(id): the \(kind) policy has no tiers, nobody can be paged; add tiers to the policy"))
        }
    }

    /// Pages a tier's available members who have not answered. A tier with nobody available moves on to the next.
    mutating func pageTier(_ n: Int, repeatNumber: Int = 0, at now: Moment, _ out: inout [IncidentAction]) {
        guard policy.tiers.indices.contains(n) else { return }
        let tier = policy.tiers[n]
        let firstTime = !tiersPaged.contains(n)
        tiersPaged.insert(n)
        var paged = 0
        let local = LocalTime(now.wall, in: person.timeZone)
        for m in tier.resolve(in: context.members) {
            // Anyone who answered (claimed, declined, arrived) is not paged again; an expired claimer is.
            if let r = responses[m.id], !r.expired { continue }
            if let why = unavailability(of: m, at: now, local: local) {
                if firstTime { out.append(.log(.info, "incident \(id): not paging \(m.label): \(why)")) }
                continue
            }
            let attempt = (pageAttempts[m.id] ?? 0)
            let ci = attempt % m.contacts.count
            pageAttempts[m.id] = attempt + 1
            send(to: m.id, contact: m.contacts[ci], contactIndex: ci, tier: n + 1, purpose: .page,
                 text: Messages.page(self, to: m, at: now.wall), at: now, &out)
            disarm(where: { if case .ackTimeout(let who, _) = $0 { who == m.id } else { false } }, &out)
            arm(.ackTimeout(member: m.id, attempt: attempt + 1), after: .seconds(policy.ackTimeoutSeconds), at: now, &out)
            paged += 1
        }
        if tier.repeatCount > repeatNumber && tier.repeatEverySeconds > 0 {
            arm(.tierRepeat(n, repeatNumber + 1), after: .seconds(tier.repeatEverySeconds), at: now, &out)
        }
        if paged == 0 && firstTime {
            if let next = policy.tiers.indices.first(where: { $0 > n && !tiersPaged.contains($0) }) {
                out.append(.log(.notice, "incident \(id): nobody in tier \(n + 1) could be paged; paging tier \(next + 1) now"))
                disarm(where: { $0 == .tier(next) }, &out)
                pageTier(next, at: now, &out)
            } else if pagedMembers.isEmpty {
                out.append(.log(.warning, "incident \(id): nobody in the circle can be paged for this \(kind) (consent, availability, quiet hours); check the circle"))
            }
        }
    }

    mutating func send(to member: String, contact: Contact, contactIndex: Int, tier: Int, purpose: NotificationPurpose,
                       text: String, at now: Moment, _ out: inout [IncidentAction]) {
        sequence += 1
        let key = "\(id)/\(sequence)"
        let actions: [Ack.Action]
        switch purpose {
        case .selfCheck: actions = [.cancel]
        case .page: actions = [.claim, .decline]
        case .update:
            if case .claimed = responses[member]?.kind { actions = [.arrived, .resolve] } else if state == .arrived { actions = [.resolve] }
            else if needsResponders && responses[member] == nil { actions = [.claim, .decline] } else { actions = [] }
        case .allClear, .test, .summary: actions = []
        }
        var text = text
        if !actions.isEmpty, let m = self.member(member) {
            text = Messages.join(text, Messages.howToAnswer(m, on: contact, severity: severity, purpose: purpose))
        }
        let n = OutgoingNotification(
            key: key, incident: id, person: person.id, personName: person.name, member: member, notifier: contact.notifier,
            address: contact.address, kind: kind, severity: severity, purpose: purpose, tier: tier,
            title: Messages.title(self, purpose: purpose), text: text, time: now.wall, incidentState: state.rawValue,
            actions: actions)
        pages.append(PageRecord(key: key, member: member, notifier: contact.notifier, contactIndex: contactIndex, tier: tier,
                                purpose: purpose, at: now.wall, status: .pending))
        out.append(.send(n))
        out.append(.emit(.notification(time: now.wall, incident: id, member: member, notifier: contact.notifier, tier: tier, text: text)))
    }

    /// Tells everyone paged so far (except `except`) about a change, on the contact that last reached them.
    mutating func tellPaged(purpose: NotificationPurpose, except: Set<String> = [], at now: Moment, _ out: inout [IncidentAction],
                            text: (Incident, Member) -> String) {
        for mid in pagedMembers where !except.contains(mid) {
            guard let m = member(mid) else { continue }
            guard !m.contacts.isEmpty else { continue }
            let last = pages.last { $0.member == mid && !isFailed($0.status) } ?? pages.last { $0.member == mid }
            let ci = min(last?.contactIndex ?? 0, m.contacts.count - 1)
            let body = text(self, m)
            send(to: mid, contact: m.contacts[ci], contactIndex: ci, tier: tierOf(mid), purpose: purpose, text: body, at: now, &out)
        }
    }

    func isFailed(_ s: PageRecord.Status) -> Bool { if case .failed = s { true } else { false } }
    func tierOf(_ member: String) -> Int { pages.first { $0.member == member && $0.purpose == .page }?.tier ?? 0 }

    mutating func tellPerson(_ text: String, at now: Moment, _ out: inout [IncidentAction]) {
        for (i, c) in person.contacts.enumerated() {
            send(to: person.id, contact: c, contactIndex: i, tier: 0, purpose: .update, text: text, at: now, &out)
        }
    }

    // MARK: - Handlers

    mutating func handleCleared(_ a: Alert, at now: Moment, _ out: inout [IncidentAction]) {
        switch state {
        case .arrived:
            out.append(.log(.info, "incident \(id): \(kind) cleared after arrival; waiting for \(arrivedBy ?? "the responder") to resolve"))
        case .claimed where a.clearedAtFrontDoor:
            out.append(.log(.info, "incident \(id): \(kind) cleared by the front door while someone is on the way; "
                            + "waiting for their arrival and answer"))
        default:
            close(.stoodDown, by: nil, at: now, &out)
            tellPaged(purpose: .allClear, at: now, &out) { s, _ in Messages.stoodDown(s, at: now.wall) }
        }
    }

    mutating func close(_ s: IncidentState, by: String?, at now: Moment, _ out: inout [IncidentAction]) {
        closedBy = by
        closedAt = now.wall
        disarm(where: { _ in true }, &out)
        transition(s, by: by, at: now, &out)
    }

    mutating func handleAck(_ a: Ack, at now: Moment, _ out: inout [IncidentAction]) {
        // The person's own device or button: any answer means "I'm fine".
        if a.member == person.id {
            out.append(.emit(.ack(time: now.wall, incident: id, member: a.member, action: a.action.rawValue, eta: nil)))
            let wasPaging = !pagedMembers.isEmpty
            close(.cancelled, by: person.id, at: now, &out)
            if wasPaging { tellPaged(purpose: .allClear, at: now, &out) { s, _ in Messages.cancelledByPerson(s, at: now.wall) } }
            return
        }
        guard let m = member(a.member) else {
            out.append(.log(.notice, "incident \(id): ack \(a.action.rawValue) from \"\(a.member)\" via \(a.via), who is not in the circle, ignored"))
            return
        }
        if state == .selfCancelWindow && a.action != .cancel && a.action != .resolve {
            // A member answering during the window (they heard some other way) starts escalation with their answer.
            disarm(where: { $0 == .selfCancel }, &out)
            startEscalation(at: now, &out)
        }
        out.append(.emit(.ack(time: now.wall, incident: id, member: m.id, action: a.action.rawValue,
                              eta: a.action == .claim ? (a.etaMinutes ?? policy.defaultEtaMinutes) : nil)))
        switch a.action {
        case .claim: claim(m, eta: a.etaMinutes ?? policy.defaultEtaMinutes, at: now, &out)
        case .decline: decline(m, at: now, &out)
        case .arrived: arrive(by: m.id, verified: false, how: nil, at: now, &out)
        case .resolve:
            close(.resolved, by: m.id, at: now, &out)
            tellPaged(purpose: .allClear, at: now, &out) { s, _ in Messages.resolved(s, by: m, at: now.wall) }
            tellPerson(Messages.resolvedForPerson(self, by: m), at: now, &out)
        case .cancel:
            close(.cancelled, by: m.id, at: now, &out)
            tellPaged(purpose: .allClear, except: [m.id], at: now, &out) { s, _ in Messages.cancelledByMember(s, by: m, at: now.wall) }
        }
    }

    mutating func claim(_ m: Member, eta: Int, at now: Moment, _ out: inout [IncidentAction]) {
        if state == .arrived {
            responses[m.id] = Response(kind: .claimed(etaMinutes: eta), at: now.wall)
            if !claimOrder.contains(m.id) { claimOrder.append(m.id) }
            out.append(.persist)
            return
        }
        responses[m.id] = Response(kind: .claimed(etaMinutes: eta), at: now.wall)
        claimOrder.removeAll { $0 == m.id }
        claimOrder.append(m.id)
        disarm(where: { if case .ackTimeout(let who, _) = $0 { who == m.id } else { false } }, &out)
        disarm(where: { $0 == .claimExpiry(member: m.id) }, &out)
        arm(.claimExpiry(member: m.id), after: .seconds(eta * 60 + policy.claimMarginSeconds), at: now, &out)
        transition(.claimed, by: m.id, at: now, &out)
        if !needsResponders { disarm(where: Incident.isEscalationTimer, &out) }
        // Everyone already paged hears who is going; the claimer gets a confirmation with the same picture.
        tellPaged(purpose: .update, except: [m.id], at: now, &out) { s, r in Messages.claimUpdate(s, claimer: m, eta: eta, to: r, at: now.wall) }
        if let c = m.contacts.first {
            let ci = pages.last(where: { $0.member == m.id }).map { min($0.contactIndex, m.contacts.count - 1) } ?? 0
            send(to: m.id, contact: m.contacts.isEmpty ? c : m.contacts[ci], contactIndex: ci, tier: tierOf(m.id), purpose: .update,
                 text: Messages.claimConfirmation(self, claimer: m, eta: eta, at: now.wall), at: now, &out)
        }
        tellPerson(Messages.helpComing(self, claimer: m, eta: eta), at: now, &out)
    }

    mutating func decline(_ m: Member, at now: Moment, _ out: inout [IncidentAction]) {
        let wasClaim: Bool = { if case .claimed = responses[m.id]?.kind { true } else { false } }()
        responses[m.id] = Response(kind: .declined, at: now.wall)
        claimOrder.removeAll { $0 == m.id }
        disarm(where: { if case .ackTimeout(let who, _) = $0 { who == m.id } else { false } }, &out)
        disarm(where: { $0 == .claimExpiry(member: m.id) }, &out)
        out.append(.persist)
        if wasClaim && state == .claimed && activeClaims.isEmpty {
            // The only person going withdrew: back to escalating, and everyone hears it.
            transition(.escalating, by: nil, at: now, &out)
            tellPaged(purpose: .update, except: [m.id], at: now, &out) { s, r in Messages.status(s, to: r, lead: "\(m.label) can no longer go.", at: now.wall) }
            resumeEscalation(at: now, &out)
            return
        }
        // Everyone paged so far has declined or could not be reached: do not wait for the next tier's timer.
        if needsResponders, pagedMembers.allSatisfy({ responses[$0]?.kind == .declined || unreachable($0) }),
           let next = policy.tiers.indices.first(where: { !tiersPaged.contains($0) }) {
            out.append(.log(.info, "incident \(id): everyone paged declined; paging tier \(next + 1) now"))
            disarm(where: { $0 == .tier(next) }, &out)
            pageTier(next, at: now, &out)
        }
        if needsResponders, pagedMembers.allSatisfy({ responses[$0]?.kind == .declined || unreachable($0) }) {
            // Nobody left to wait for: their ack timers would only delay the last step.
            disarm(where: { if case .ackTimeout = $0 { true } else { false } }, &out)
            startLastResortIfExhausted(at: now, &out)
        }
    }

    func unreachable(_ member: String) -> Bool {
        let mine = pages.filter { $0.member == member && $0.purpose == .page }
        return !mine.isEmpty && mine.allSatisfy { isFailed($0.status) }
    }

    mutating func arrive(by who: String?, verified: Bool, how: String?, at now: Moment, _ out: inout [IncidentAction]) {
        if state == .arrived {
            if verified && !arrivalVerified {
                arrivalVerified = true
                out.append(.log(.info, "incident \(id): the home's sensors confirm the arrival (\(how ?? "sensors"))"))
                out.append(.persist)
            }
            return
        }
        arrivedBy = who
        arrivedAt = now.wall
        arrivalVerified = verified
        if let who { responses[who] = Response(kind: .arrived, at: now.wall) }
        disarm(where: { _ in true }, &out)
        transition(.arrived, by: who, at: now, &out)
        let whoLabel = who.flatMap { member($0)?.label }
        tellPaged(purpose: .update, except: who.map { [$0] } ?? [], at: now, &out) { s, _ in
            Messages.arrived(s, by: whoLabel, verifiedHow: verified ? how : nil, at: now.wall)
        }
    }

    mutating func handleHome(_ e: HomeEvidence, at now: Moment, _ out: inout [IncidentAction]) {
        guard state == .claimed || state == .escalating || state == .arrived else { return }
        let soleClaimer = activeClaims.count == 1 ? activeClaims.first : nil
        switch e {
        case .doorOpened:
            doorOpenedAt = now.wall
            out.append(.persist)
        case .presence:
            guard let door = doorOpenedAt, now.wall.milliseconds - door.milliseconds <= Int64(policy.arrivalWindowSeconds) * 1000 else { return }
            guard state == .arrived || !claimOrder.isEmpty else {
                out.append(.log(.info, "incident \(id): door then presence but nobody claimed; not counted as an arrival"))
                return
            }
            arrive(by: state == .arrived ? arrivedBy : soleClaimer, verified: true, how: "front door, then movement inside", at: now, &out)
        case .homeButton:
            arrive(by: state == .arrived ? arrivedBy : soleClaimer, verified: true, how: "the button in the home", at: now, &out)
        }
    }

    mutating func handleTimer(_ k: TimerKey, at now: Moment, _ out: inout [IncidentAction]) {
        switch k {
        case .selfCancel:
            guard state == .selfCancelWindow else { return }
            out.append(.log(.info, "incident \(id): no answer from \(person.name) within \(policy.selfCancelSeconds) s; escalating"))
            startEscalation(at: now, &out)
        case .tier(let n):
            guard needsResponders else { return }
            pageTier(n, at: now, &out)
            startLastResortIfExhausted(at: now, &out)
        case .tierRepeat(let n, let r):
            guard needsResponders else { return }
            pageTier(n, repeatNumber: r, at: now, &out)
            startLastResortIfExhausted(at: now, &out)
        case .lastResort(let round):
            guard needsResponders else { return }
            pageEveryone(round: round, at: now, &out)
        case .ackTimeout(let mid, let attempt):
            guard needsResponders, responses[mid] == nil || responses[mid]?.expired == true, let m = member(mid) else { return }
            guard attempt <= policy.rePages else {
                out.append(.log(.info, "incident \(id): \(m.label) has not answered after \(attempt) pages"))
                startLastResortIfExhausted(at: now, &out)
                return
            }
            let local = LocalTime(now.wall, in: person.timeZone)
            if unavailability(of: m, at: now, local: local) != nil { return }
            let ci = attempt % m.contacts.count
            pageAttempts[mid] = attempt + 1
            send(to: mid, contact: m.contacts[ci], contactIndex: ci, tier: tierOf(mid), purpose: .page,
                 text: Messages.page(self, to: m, at: now.wall), at: now, &out)
            arm(.ackTimeout(member: mid, attempt: attempt + 1), after: .seconds(policy.ackTimeoutSeconds), at: now, &out)
        case .claimExpiry(let mid):
            guard state == .claimed || state == .escalating, var r = responses[mid], case .claimed = r.kind, !r.expired,
                  let m = member(mid) else { return }
            r.expired = true
            responses[mid] = r
            transition(activeClaims.isEmpty ? .escalating : .claimed, by: mid, at: now, &out, lineState: "claim-expired")
            tellPaged(purpose: .update, at: now, &out) { s, r in Messages.claimExpired(s, claimer: m, to: r, at: now.wall) }
            resumeEscalation(at: now, &out)
        }
    }

    /// When every tier has been paged, every re-page has run out and still nobody is going, the policy's last step
    /// keeps acting: everyone in the circle who can be paged, and the monitoring centre, are paged again every
    /// `ackTimeoutSeconds` until someone answers.
    mutating func startLastResortIfExhausted(at now: Moment, _ out: inout [IncidentAction]) {
        guard needsResponders, !policy.tiers.isEmpty, policy.tiers.indices.allSatisfy(tiersPaged.contains),
              !armed.keys.contains(where: { k in
                  switch k {
                  case .tier, .tierRepeat, .ackTimeout, .lastResort: true
                  case .selfCancel, .claimExpiry: false
                  }
              }) else { return }
        out.append(.log(.warning, "incident \(id): every tier of the \(kind) policy was paged and nobody is going; "
            + "paging everyone again\(context.members.contains { $0.role == .monitoringCentre } ? ", the monitoring centre included," : "") "
            + "every \(policy.ackTimeoutSeconds) s until someone answers"))
        pageEveryone(round: 1, at: now, &out)
    }

    mutating func pageEveryone(round: Int, at now: Moment, _ out: inout [IncidentAction]) {
        let local = LocalTime(now.wall, in: person.timeZone)
        let inTiers = Set(policy.tiers.flatMap { $0.resolve(in: context.members).map(\.id) })
        for m in context.members where inTiers.contains(m.id) || m.role == .monitoringCentre {
            if let r = responses[m.id], !r.expired, r.kind != .declined { continue }
            guard !m.contacts.isEmpty, unavailability(of: m, at: now, local: local) == nil else { continue }
            let attempt = pageAttempts[m.id] ?? 0
            let ci = attempt % m.contacts.count
            pageAttempts[m.id] = attempt + 1
            send(to: m.id, contact: m.contacts[ci], contactIndex: ci, tier: tierOf(m.id), purpose: .page,
                 text: Messages.page(self, to: m, at: now.wall), at: now, &out)
        }
        arm(.lastResort(round + 1), after: .seconds(policy.ackTimeoutSeconds), at: now, &out)
    }

    /// After a claim expired or was withdrawn: page the next tier not yet paged, or everyone again.
    mutating func resumeEscalation(at now: Moment, _ out: inout [IncidentAction]) {
        guard needsResponders else { return }
        if let next = policy.tiers.indices.first(where: { !tiersPaged.contains($0) }) {
            disarm(where: { $0 == .tier(next) }, &out)
            pageTier(next, at: now, &out)
        } else {
            for n in policy.tiers.indices { pageTier(n, repeatNumber: policy.tiers[n].repeatCount, at: now, &out) }
        }
    }

    mutating func recordDelivery(_ key: String, _ result: DeliveryResult, at now: Moment, _ out: inout [IncidentAction]) {
        guard let i = pages.firstIndex(where: { $0.key == key }) else {
            out.append(.log(.debug, "incident \(id): delivery result for unknown \(key)"))
            return
        }
        switch result {
        case .delivered:
            pages[i].status = .delivered
        case .failed(let reason):
            pages[i].status = .failed(reason)
            let p = pages[i]
            out.append(.log(.warning, "incident \(id): could not reach \(p.member) via \(p.notifier): \(reason)"))
            // A page that failed for good: try the member's next contact at once.
            if p.purpose == .page, !isClosed, needsResponders, let m = member(p.member), responses[m.id] == nil,
               p.contactIndex + 1 < m.contacts.count,
               !pages.contains(where: { $0.member == m.id && $0.contactIndex == p.contactIndex + 1 && $0.at == now.wall }) {
                let ci = p.contactIndex + 1
                send(to: m.id, contact: m.contacts[ci], contactIndex: ci, tier: p.tier, purpose: .page,
                     text: Messages.page(self, to: m, at: now.wall), at: now, &out)
            }
        }
        out.append(.persist)
    }
}

#if DEBUG
extension Incident {
    /// Debug builds only: what must hold between any two events, as one message per broken rule (empty when all
    /// hold). The engine checks after every step (`EscalationEngine.invariantViolations`); the table tests after
    /// every transition.
    public func checkInvariants() -> [String] {
        var v: [String] = []
        func expect(_ ok: Bool, _ m: @autoclosure () -> String) { if !ok { v.append("\(state.rawValue): \(m())") } }
        // Closing
        expect(state != .opened, "\"opened\" is transient: open() always moves on")
        expect(isClosed == (closedAt != nil), "closedAt is set exactly when closed")
        expect(closedBy == nil || isClosed, "closedBy is set only when closed")
        expect(supersededBy == nil || state == .stoodDown, "a superseded incident is stood down")
        expect(!isClosed || armed.isEmpty, "a closed incident has no timers (armed: \(armed.keys.map(\.id).sorted()))")
        // Phases
        if state == .selfCancelWindow {
            expect(Set(armed.keys) == [.selfCancel], "only the self-cancel timer runs in the window (armed: \(armed.keys.map(\.id).sorted()))")
            expect(tiersPaged.isEmpty && !pages.contains { $0.purpose == .page }, "nobody is paged during the window")
        }
        if state == .escalating { expect(activeClaims.isEmpty, "nobody has an active claim while escalating (\(activeClaims))") }
        if state == .claimed {
            expect(!activeClaims.isEmpty, "someone has an active claim")
            if !needsResponders {
                expect(!armed.keys.contains(where: Incident.isEscalationTimer), "no escalation timer once enough people are going (armed: \(armed.keys.map(\.id).sorted()))")
            }
        }
        if state == .arrived {
            expect(arrivedAt != nil, "an arrival has a time")
            expect(armed.isEmpty, "no timers after an arrival (armed: \(armed.keys.map(\.id).sorted()))")
        }
        expect(arrivedAt == nil || state == .arrived || isClosed, "an arrival is only undone by closing")
        // Timers
        for k in armed.keys {
            switch k {
            case .claimExpiry(let m):
                if case .claimed = responses[m]?.kind, responses[m]?.expired == false {} else { v.append("\(state.rawValue): \(k) armed without an active claim by \(m)") }
            case .ackTimeout(let m, _):
                expect(member(m) != nil, "\(k) for someone not in the circle")
                expect(responses[m] == nil || responses[m]?.expired == true, "\(k) armed for \(m), who answered")
            case .tier(let n), .tierRepeat(let n, _):
                expect(policy.tiers.indices.contains(n), "\(k) names no tier of the policy")
            case .selfCancel:
                expect(state == .selfCancelWindow, "the self-cancel timer runs only in the window")
            case .lastResort:
                expect(policy.tiers.indices.allSatisfy(tiersPaged.contains), "\(k) armed before every tier was paged")
            }
        }
        // Records
        expect(sequence == pages.count, "one page record per message sent (\(pages.count) records, sequence \(sequence))")
        expect(Set(pages.map(\.key)).count == pages.count, "message keys are unique")
        expect(Set(claimOrder).count == claimOrder.count, "nobody claims twice in claimOrder")
        for m in claimOrder {
            switch responses[m]?.kind {
            case .claimed?, .arrived?: break
            default: v.append("\(state.rawValue): \(m) is in claimOrder without a claim or arrival")
            }
        }
        expect(tiersPaged.allSatisfy { policy.tiers.indices.contains($0) }, "tiers paged exist in the policy")
        return v
    }
}
#endif
