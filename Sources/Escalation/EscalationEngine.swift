import CareSupport

/// A message to send again after a failed delivery.
struct Redelivery: Sendable {
    var notification: OutgoingNotification
    var due: MonotonicInstant
    var failures: Int
}

/// What `recover()` found and did.
public struct RecoveryReport: Sendable, Equatable {
    public var openIncidents: [String]
    /// Notifications queued before the stop with no delivery recorded: sent again now.
    public var redelivered: [String]
    public var tornBytes: Int
    public var corruptRecords: Int
    /// Closed incidents deleted by retention during compaction.
    public var expiredIncidents: Int
}

/// Drives the incidents of one person: routes alerts (open, group, inhibit, digest, clear), feeds acks, home evidence
/// and fired timers to the pure `Incident` machines, journals every step before acting on it, delivers the
/// notifications through the notifier instances and feeds their outcomes back.
///
/// Time comes from the injected clock: `tick()` fires what is due; the daemon calls `run()`, tests advance a
/// `ManualClock` and call `tick()`. One engine per person; a process watching many homes has many engines.
public actor EscalationEngine {
    public nonisolated let person: String
    let config: EscalationConfig
    let clock: any CareClock
    let notifiers: [String: any Notifier]
    let logger: Logger
    let events: @Sendable (EventLine) -> Void
    let bootID: String
    let journal: JournalFile?

    var incidents: [String: Incident] = [:]
    var order: [String] = []
    var delivered: Set<String> = []
    /// Ids of incidents forgotten while running (`forget(before:)`).
    var retiredIDs: Set<String> = []
    var inFlight: [String: Task<Void, Never>] = [:]
    /// Messages whose delivery failed with a retryable error, sent again at `due` while still wanted.
    var retries: [String: Redelivery] = [:]
    /// Routine alerts waiting for the daily summary.
    public internal(set) var digest: [Alert] = []
    var journalFailing = false
    /// Journal records not written yet because the journal could not grow.
    var unwritten: [JSONValue] = []
    var pendingTests: [String: String] = [:]
    /// Replies refused because their address belongs to no member, by notifier (a stranger writing in the Matrix
    /// room, a text from an unknown number).
    public private(set) var refusedReplies: [String: Int] = [:]
    var answeredTests: Set<String> = []
    /// The daily digest, the daily heartbeat, weekly tests and the heartbeat ping (`runSchedule()`).
    var schedule = ScheduleState()
    /// Keys of queued messages that belong to no incident (digest, heartbeat, tests): their deliveries are journaled
    /// as `delivered` records.
    var systemKeys: Set<String> = []
    let pinger: HeartbeatPinger?
    let answers: AnswerCheck
    /// The latest wall time seen (journal records, earlier steps): a clock before it is not trusted.
    var latestWall = WallTime(milliseconds: 0)
    var untrustedClockReported = false
    /// Live engines check the wall clock's plausibility; a replay's clock is the recording's own time.
    let checksWallClock: Bool
    /// Earlier than this, a wall clock is a gateway that booted before NTP set it.
    static let plausibleEpoch = WallTime(milliseconds: 1_704_067_200_000)  // 2024-01-01

    /// Both clocks now, the wall one marked untrusted while it is before the journal's last record (minus a
    /// minute of slack for NTP's small corrections) or before 2024.
    func now() -> Moment {
        var m = clock.moment()
        guard checksWallClock else { return m }
        if m.wall < Self.plausibleEpoch || m.wall.milliseconds < latestWall.milliseconds - 60_000 {
            m.wallIsTrusted = false
            if !untrustedClockReported {
                untrustedClockReported = true
                logger.warning("the wall clock reads \(RFC3339.format(m.wall)), before the last journal record (\(RFC3339.format(latestWall))) or not yet set: until it is plausible, quiet hours, availability and away dates do not hold pages back")
            }
        } else {
            if untrustedClockReported { untrustedClockReported = false; logger.notice("the wall clock is plausible again (\(RFC3339.format(m.wall)))") }
            if m.wall > latestWall { latestWall = m.wall }
        }
        return m
    }

    /// Answers refused because they could not show they came from the member they name (no token, a wrong one).
    public private(set) var refusedAnswers = 0
    #if DEBUG
    /// Broken incident invariants seen after a step (debug builds; tests expect none).
    public private(set) var invariantViolations: [String] = []
    #endif

    /// - Parameters:
    ///   - stateDirectory: where the journal lives (`incidents-<person>.journal`); nil keeps nothing (tests, replay).
    ///   - bootID: identifies the monotonic clock's timeline (`/proc/sys/kernel/random/boot_id`); when it differs
    ///     from the journal's, timers are re-armed from wall-clock time elapsed instead.
    public init(config: EscalationConfig, clock: any CareClock, notifiers: [String: any Notifier],
                stateDirectory: String?, answers: AnswerCheck = .recorded, checksWallClock: Bool = false,
                bootID: String = EscalationEngine.currentBootID(),
                logger: Logger = .silent, events: @escaping @Sendable (EventLine) -> Void = { _ in }) {
        self.person = config.person.id
        self.config = config
        self.clock = clock
        self.notifiers = notifiers
        self.logger = logger.child("escalation.\(config.person.id)")
        self.events = events
        self.bootID = bootID
        self.journal = stateDirectory.map { JournalFile(directory: $0, name: IncidentJournal.fileName(person: config.person.id)) }
        self.pinger = config.heartbeat.url.map { HeartbeatPinger(url: $0) }
        self.answers = answers
        self.checksWallClock = checksWallClock
    }

    public static func currentBootID() -> String {
        guard let r = DurableFile.read("/proc/sys/kernel/random/boot_id", limit: 64 * 1024) else { return "unknown" }
        return String(decoding: r, as: UTF8.self).replacingAll("\n", with: "").trimmed
    }

    // MARK: - Inputs

    /// An alert for this person from the executable. Returns what was done with it.
    @discardableResult
    public func receive(_ alert: Alert) -> AlertRouting {
        guard alert.person == person else {
            logger.error("alert for \(alert.person) sent to the engine of \(person); ignored")
            return .ignore
        }
        let now = now()
        if alert.answersSelfCheck, alert.state == .raised {
            let waiting = order.filter { incidents[$0]?.state == .selfCancelWindow }
            if !waiting.isEmpty {
                logger.info("\(alert.kind) press\(alert.device.map { " on \($0)" } ?? "") taken as \(config.person.name)'s \"I'm fine\" to \(waiting.joined(separator: ", "))")
                for id in waiting {
                    apply(id, .ack(Ack(incident: id, member: person, action: .cancel, via: alert.device ?? "button", proof: .channel)), now)
                }
                return .answeredSelfCheck(waiting)
            }
        }
        let route = IncidentRouter.route(alert, incidents: order.compactMap { incidents[$0].map(IncidentSummary.init) },
                                         policies: config.policies, now: now.wall)
        switch route {
        case .open:
            let id = newIncidentID(alert.time)
            var inc = Incident(id: id, alert: alert, context: IncidentContext(config: config, kind: alert.kind, severity: alert.severity))
            let actions = inc.open(at: now)
            incidents[id] = inc
            order.append(id)
            step(id, .open(alert), actions, now, extra: ["context": JournalCodec.encode(inc.context)])
            supersede(by: id, now)
        case .group(let id):
            apply(id, .raisedAgain(alert), now)
        case .clear(let id):
            apply(id, .cleared(alert), now)
        case .inhibited(let by):
            logger.info("\(alert.kind) for \(person) not paged: incident \(by) (\(incidents[by]?.kind ?? "?")) is open and inhibits it")
            note(["t": "note", "wall": .string(RFC3339.format(now.wall)), "alert": JournalCodec.encode(alert),
                  "inhibitedBy": .string(by)])
        case .duplicate(let of):
            logger.info("\(alert.kind) at \(alert.time) is a late duplicate of closed incident \(of); not paged")
        case .digest:
            digest.append(alert)
            note(["t": "digest", "wall": .string(RFC3339.format(now.wall)), "alert": JournalCodec.encode(alert)])
        case .ignore:
            logger.debug("\(alert.kind) cleared with no open incident")
        case .answeredSelfCheck: break
        }
        return route
    }

    /// The token a message to `member` about `incident` (or a test) carries; nil when answers are not checked.
    public func answerToken(incident: String, member: String) -> String? {
        guard case .tokens(let key) = answers else { return nil }
        return key.token(person: person, incident: incident, member: member)
    }

    /// True when the answer shows it came from the member it names. Refusals are logged and counted.
    func authentic(_ ack: Ack) -> Bool {
        guard case .tokens(let key) = answers else { return true }
        let why: String
        switch ack.proof {
        case .channel: return true
        case .token(let t):
            if key.verify(t, person: person, incident: ack.incident, member: ack.member) { return true }
            why = "its token is not the one sent to that member for that incident"
        case .none: why = "it carries no token (answers must copy the \"token\" of the member's page)"
        }
        refusedAnswers += 1
        logger.warning("answer \(ack.action.rawValue) to \(ack.incident) naming \(ack.member) via \(ack.via) refused: \(why); \(refusedAnswers) refused since start")
        return false
    }

    /// An answer from the ack topic, an ntfy button, an SMS reply, a Pushover receipt or `careMonitord ack`. When
    /// answers are checked, one that cannot show it came from the member it names is refused.
    public func receive(_ ack: Ack) {
        guard authentic(ack) else { return }
        if schedule.weeklyPending[ack.incident] != nil {
            weeklyTestAnswered(ack)
            return
        }
        if let member = pendingTests[ack.incident] {
            if ack.member == member {
                pendingTests[ack.incident] = nil
                answeredTests.insert(ack.incident)
                logger.info("test alert \(ack.incident) answered by \(member) via \(ack.via)")
            } else {
                logger.notice("test alert \(ack.incident) answered by \(ack.member), not \(member); ignored")
            }
            return
        }
        guard incidents[ack.incident] != nil else {
            logger.notice("ack \(ack.action.rawValue) from \(ack.member) via \(ack.via) names unknown incident \(ack.incident); ignored")
            return
        }
        apply(ack.incident, .ack(ack), now())
    }

    /// A free-text reply on a channel without buttons (an SMS "1" / "2 ", a Matrix message): the member is found by
    /// the contact address it came from, the incident is the latest open one they were told about.
    @discardableResult
    public func receive(reply text: String, fromAddress address: String, notifier: String) -> Ack? {
        let norm = { (s: String) in SMSNotifier.number(s) ?? s }
        guard let m = config.members.first(where: { $0.contacts.contains { $0.notifier == notifier && norm($0.address) == norm(address) } }) else {
            refusedReplies[notifier, default: 0] += 1
            refusedAnswers += 1
            logger.notice("reply via \(notifier) from an address that belongs to no member; ignored")
            return nil
        }
        guard let (action, eta) = SMSNotifier.action(fromReply: text) else {
            logger.notice("reply from \(m.id) via \(notifier) not understood (\"\(text.prefix(40))\"); expected 1 (going) or 2 (can't)")
            return nil
        }
        guard let inc = order.reversed().compactMap({ incidents[$0] }).first(where: { !$0.isClosed && $0.pages.contains { $0.member == m.id } }) else {
            // No incident: perhaps the answer to a test page.
            if let test = schedule.weeklyPending.filter({ $0.value.member == m.id }).max(by: { $0.value.sentAt < $1.value.sentAt })?.key
                ?? pendingTests.first(where: { $0.value == m.id })?.key {
                let ack = Ack(incident: test, member: m.id, action: action, etaMinutes: eta, via: notifier, proof: .channel)
                receive(ack)
                return ack
            }
            logger.notice("reply from \(m.id) via \(notifier) but no open incident they were told about; ignored")
            return nil
        }
        let ack = Ack(incident: inc.id, member: m.id, action: action, etaMinutes: eta, via: notifier, proof: .channel)
        receive(ack)
        return ack
    }

    /// Door, presence or home-button evidence: offered to every open incident.
    public func receive(_ evidence: HomeEvidence) {
        let now = now()
        for id in order where incidents[id]?.isClosed == false { apply(id, .home(evidence), now) }
    }

    /// Fires every timer that is due on the monotonic clock, in deadline order, and sends again what is due.
    public func tick() {
        let monotonic = now().monotonic
        let due = retries.values.filter { $0.due <= monotonic }.sorted { $0.due < $1.due }
        for r in due {
            retries[r.notification.key] = nil
            if stillWanted(r.notification) { send(r.notification, attempt: r.failures) }
        }
        while true {
            let now = now()
            var best: (String, TimerKey, MonotonicInstant)?
            for id in order {
                guard let inc = incidents[id], !inc.isClosed else { continue }
                for (k, d) in inc.armed where d <= now.monotonic {
                    if best == nil || d < best!.2 || (d == best!.2 && k.id < best!.1.id) { best = (id, k, d) }
                }
            }
            guard let (id, k, _) = best else { return }
            apply(id, .timerFired(k), now)
        }
    }

    /// The earliest armed timer or redelivery, for a run loop's sleep.
    public var nextDeadline: MonotonicInstant? {
        (order.compactMap { incidents[$0] }.filter { !$0.isClosed }.flatMap { $0.armed.values } + retries.values.map(\.due)).min()
    }

    /// Fetches answers held by polling notifiers (Pushover receipts, ntfy buttons, SMS and Matrix replies) and feeds them in.
    /// With many homes in one process, poll a shared SMS spool once in the executable instead, and route replies with
    /// `receive(reply:fromAddress:notifier:)`.
    public func pollNotifiers(now: ContinuousClock.Instant = .now) async {
        for (name, n) in notifiers.sorted(by: { $0.key < $1.key }) {
            guard let p = n as? any PollingNotifier else { continue }
            for answer in await p.poll(now: now) {
                switch answer {
                case .ack(let a) where a.via == "pushover" && incidents[a.incident]?.responses[a.member] != nil:
                    // Acknowledging an emergency receipt silences the phone; after an answer on another channel (or
                    // a receipt restored after a restart) it says nothing new, and must not turn a "can't" into a claim.
                    logger.debug("pushover receipt acknowledged by \(a.member) for \(a.incident), who already answered; ignored")
                case .ack(let a): receive(a)
                case .reply(let from, let text): receive(reply: text, fromAddress: from, notifier: name)
                }
            }
        }
    }

    /// Sends a marked test page to one member (`careMonitord test-alert --member ID`), or to the person's own
    /// channels (her id), on their first contact or on all of them. Its answer comes back as an ack for the returned
    /// test id; `testAnswered(_:)` tells.
    public func sendTestAlert(to memberID: String, allContacts: Bool = false) async -> (id: String, outcomes: [DeliveryOutcome])? {
        let m: Member
        if let member = config.member(memberID) { m = member } else if memberID == person {
            m = Member(id: person, name: config.person.name, role: .family, relationship: "the person", contacts: config.person.contacts)
        } else { return nil }
        let now = now()
        let id = "test-\(person)-\(now.wall.milliseconds)"
        pendingTests[id] = memberID
        var outcomes: [DeliveryOutcome] = []
        for (i, c) in m.contacts.enumerated() where allContacts || i == 0 {
            let n = testNotification(id: id, member: m, contact: c, contactIndex: i, at: now)
            guard let notifier = notifiers[c.notifier] else {
                outcomes.append(.failed(NotifierError(notifier: c.notifier, disposition: .permanent, message: "no notifier instance \"\(c.notifier)\" is running"), attempts: 0))
                continue
            }
            outcomes.append(await notifier.deliver(n, logger: logger))
        }
        return (id, outcomes)
    }

    /// True once the member answered the test page.
    public func testAnswered(_ id: String) -> Bool { answeredTests.contains(id) }

    /// The "the gateway is alive" message to every `technical` member, now (`runSchedule()` sends it daily).
    public func sendHeartbeat() async -> [DeliveryOutcome] {
        var outcomes: [DeliveryOutcome] = []
        for n in heartbeatNotifications(key: "heartbeat-\(person)-\(now().wall.milliseconds)", at: now()) {
            guard let notifier = notifiers[n.notifier] else { continue }
            outcomes.append(await notifier.deliver(n, logger: logger))
        }
        return outcomes
    }

    /// The daemon's loop: ticks at each deadline (at least once a second), runs the schedule (digest, heartbeat,
    /// weekly tests, heartbeat ping) and polls notifiers until cancelled.
    public func run(pollNotifiers poll: Bool = true) async {
        while !Task.isCancelled {
            tick()
            runSchedule()
            if poll { await pollNotifiers() }
            let now = now().monotonic
            let wait = nextDeadline.map { max(Duration.milliseconds(1), min(now.duration(to: $0), .seconds(1))) } ?? .seconds(1)
            try? await Task.sleep(for: wait)
        }
    }

    /// Messages waiting to be sent again after a failed delivery.
    public var redeliveriesPending: Int { retries.count }

    /// Waits until every delivery started so far (and those their outcomes started) has finished.
    public func waitForDeliveries() async {
        while let (_, t) = inFlight.first { await t.value }
    }

    public func incident(_ id: String) -> Incident? { incidents[id] }
    public var openIncidents: [Incident] { order.compactMap { incidents[$0] }.filter { !$0.isClosed } }
    public var allIncidents: [Incident] { order.compactMap { incidents[$0] } }
    /// Deliveries started and not finished yet.
    public var deliveriesInFlight: Int { inFlight.count }
    /// How many incidents this engine holds (opened, and not yet forgotten).
    public var incidentCount: Int { order.count }
    /// True while any incident is open.
    public var hasOpenIncidents: Bool { order.contains { incidents[$0]?.isClosed == false } }

    /// Hands over the entries waiting for the daily digest and empties it (`runSchedule()` sends them itself at
    /// the digest time; take them only to send them some other way).
    public func takeDigest() -> [Alert] { defer { digest = [] }; return digest }

    // MARK: - Steps

    func apply(_ id: String, _ event: IncidentEvent, _ now: Moment, extra: JSONObject = [:]) {
        guard var inc = incidents[id] else { return }
        let actions = inc.handle(event, at: now)
        incidents[id] = inc
        step(id, .event(event), actions, now, extra: extra)
    }

    /// An incident opening now takes over the open incidents its policy inhibits (a fall supersedes inactivity):
    /// they stand down and everyone paged about them is told.
    func supersede(by id: String, _ now: Moment) {
        guard let inc = incidents[id], !inc.isClosed, let index = order.firstIndex(of: id) else { return }
        let earlier = order[..<index].compactMap { incidents[$0].map(IncidentSummary.init) }
        let s = Supersession(incident: id, kind: inc.kind, openedAt: inc.openedAt, device: inc.device)
        for old in IncidentRouter.superseded(byKind: inc.kind, severity: inc.severity, incidents: earlier, except: id, policies: config.policies) {
            apply(old, .superseded(s), now)
        }
    }

    /// Journals the step (durably when the state changed), then acts on it.
    func step(_ id: String, _ input: JournalCodec.Input, _ actions: [IncidentAction], _ now: Moment, extra: JSONObject = [:]) {
        let sends = actions.compactMap { if case .send(let n) = $0 { n } else { nil } }
        let lines = actions.compactMap { if case .emit(let l) = $0 { l } else { nil } }
        let persist = actions.contains(.persist)
        if persist || !sends.isEmpty || !lines.isEmpty {
            var r: JSONObject = ["t": "step", "wall": .string(RFC3339.format(now.wall)), "mono": .number(Double(now.monotonic.nanoseconds)),
                                 "boot": .string(bootID), "incident": .string(id), "input": JournalCodec.encode(input)]
            if !now.wallIsTrusted { r["untrustedWall"] = true }
            if !lines.isEmpty { r["lines"] = .array(lines.map(\.json)) }
            if !sends.isEmpty { r["sends"] = .array(sends.map(JournalCodec.encode)) }
            for m in extra.members { r[m.key] = m.value }
            write([.object(r)], sync: persist || !sends.isEmpty || !extra.isEmpty)
        }
        #if DEBUG
        if let inc = incidents[id] {
            for v in inc.checkInvariants() {
                invariantViolations.append(v)
                logger.error("BUG: incident \(id) after \(input): \(v)")
            }
        }
        #endif
        if case .event(.delivery(let key, _)) = input { delivered.insert(key) }
        for a in actions {
            switch a {
            case .emit(let l): events(l)
            case .log(let level, let m): logger.log(level, m)
            case .send(let n): dispatch(n)
            case .armTimer, .cancelTimer, .persist: break // deadlines live in `Incident.armed`
            }
        }
    }

    func note(_ r: JSONObject) { write([.object(r)], sync: true) }

    func write(_ records: [JSONValue], sync: Bool) {
        guard let journal else { return }
        // Records that could not be written wait, in order, so that the journal never skips a step: a later record
        // after a gap would replay into a different incident.
        let all = unwritten + records
        do {
            try journal.append(all, sync: sync || !unwritten.isEmpty)
            unwritten = []
            if journalFailing {
                journalFailing = false
                logger.notice("the incident journal is writable again: \(all.count) record(s) written that were waiting")
            }
        } catch {
            unwritten = all
            // Paging must not stop because the disk is full; say so loudly, once.
            if !journalFailing {
                logger.error("DURABILITY LOST: \(error). Paging continues from memory, but a restart now would forget these incidents' progress")
            }
            journalFailing = true
        }
    }

    func dispatch(_ n: OutgoingNotification) {
        guard inFlight[n.key] == nil, !delivered.contains(n.key) else { return }
        send(n, attempt: 0)
    }

    /// True while the message still says something true and needed: a page only while its incident is open and its
    /// member has not answered, a self-check only during the window, an update unless the incident closed after it
    /// was written; an all-clear for a day; tests and summaries always.
    func stillWanted(_ n: OutgoingNotification) -> Bool {
        guard let inc = incidents[n.incident] else { return systemKeys.contains(n.key) || n.purpose == .allClear }
        switch n.purpose {
        case .page: return !inc.isClosed && (inc.responses[n.member] == nil || inc.responses[n.member]?.expired == true)
        case .selfCheck: return inc.state == .selfCancelWindow
        case .update:
            // An update composed while the incident was open is stale once it closed; the one to the person sent
            // as it closed ("Ben has marked this as resolved") is not.
            return !inc.isClosed || inc.closedAt.map { n.time >= $0 } ?? false
        case .allClear:
            // Everyone paged hears the all-clear, for a day; after that it says nothing useful.
            return now().wall.milliseconds - n.time.milliseconds < 86_400_000
        case .test, .summary: return true
        }
    }

    func replaced(_ n: OutgoingNotification) {
        inFlight[n.key] = nil
        dispatch(n)
    }

    /// Starts one delivery (with the notifier's own quick retries). `failures` counts earlier failed deliveries.
    func send(_ n: OutgoingNotification, attempt failures: Int) {
        guard inFlight[n.key] == nil else { return }
        guard let notifier = notifiers[n.notifier] else {
            let error = NotifierError(notifier: n.notifier, disposition: .permanent,
                                      message: "no notifier instance \"\(n.notifier)\" is running; check notifiers in the config")
            inFlight[n.key] = Task { self.finished(n, .failed(error, attempts: 0)) }
            return
        }
        let log = logger
        var signed = n
        signed.token = answerToken(incident: n.incident, member: n.member)
        let message = signed
        inFlight[n.key] = Task {
            let outcome = await notifier.deliver(message, logger: log, stillWanted: { await self.stillWanted(message) })
            self.finished(n, outcome, failures: failures)
        }
    }

    /// The wait before sending a failed message again: 30 s doubling to 10 min, ±20 % so that many homes behind
    /// one outage do not retry in step, and never less than the service asked for (`Retry-After`).
    static func redeliveryDelay(failures: Int, retryAfter: Duration?) -> Duration {
        let base = min(600.0, 30.0 * Double(1 << min(failures - 1, 5)))
        let jittered = Duration.milliseconds(Int64(base * Double.random(in: 0.8...1.2) * 1000))
        return max(jittered, min(retryAfter ?? .zero, .seconds(3600)))
    }

    func finished(_ n: OutgoingNotification, _ outcome: DeliveryOutcome, failures: Int = 0) {
        inFlight[n.key] = nil
        if case .failed(let e, _) = outcome, e.isRetryable, n.purpose != .test, n.purpose != .summary, stillWanted(n) {
            // Kept trying for as long as the message is wanted; the incident hears of the first failure only, so
            // that the policy's next contact and tier go ahead meanwhile.
            let count = failures + 1
            let wait = Self.redeliveryDelay(failures: count, retryAfter: e.retryAfter)
            retries[n.key] = Redelivery(notification: n, due: now().monotonic.advanced(by: wait), failures: count)
            logger.notice("\(n.notifier): \(n.purpose.rawValue) for \(n.member) (\(n.key)) not delivered (\(e.message)); trying again in \(Int(wait.secondsDouble)) s")
            if failures > 0 { return }
        } else if failures > 0, case .delivered = outcome {
            logger.notice("\(n.notifier): \(n.purpose.rawValue) for \(n.member) (\(n.key)) delivered after \(failures) failed deliveries")
        } else if failures > 0 {
            return
        }
        let result: DeliveryResult
        var extra: JSONObject = [:]
        switch outcome {
        case .delivered(let receipt, _):
            result = .delivered
            // A receipt that keeps something ringing (a Pushover emergency) is journaled: after a restart it is
            // still polled, and cancelled when the incident closes.
            if let ref = receipt.reference, let keeper = notifiers[n.notifier] as? any ReceiptKeeping, keeper.keepsReceipt(for: n) {
                extra["receipt"] = .string(ref)
            }
        case .failed(let e, _): result = .failed(reason: e.message)
        }
        if retries[n.key] != nil { extra["retrying"] = true }
        if incidents[n.incident] != nil {
            apply(n.incident, .delivery(key: n.key, result: result), now(), extra: extra)
        } else if systemKeys.contains(n.key) {
            systemDelivered(n, result)
        }
    }

    func newIncidentID(_ t: WallTime) -> String {
        let s = RFC3339.format(t)  // 2026-11-23T14:02:03.125Z
        let compact = s.prefix(19).filter { $0 != "-" && $0 != ":" }.replacingAll("T", with: "-")
        var id = "\(person)-\(compact)"
        var n = 2
        while incidents[id] != nil || retiredIDs.contains(id) { id = "\(person)-\(compact)-\(n)"; n += 1 }
        return id
    }

    // MARK: - Recovery

    /// Loads the journal: cuts a torn tail, compacts (drops corrupt records and closed incidents past
    /// `journal.retentionDays`), replays every step into fresh incident machines, re-arms their timers and sends
    /// again what was queued but never recorded as delivered. Call once, before any input.
    public func recover() throws(JournalError) -> RecoveryReport {
        guard let journal else { return RecoveryReport(openIncidents: [], redelivered: [], tornBytes: 0, corruptRecords: 0, expiredIncidents: 0) }
        try journal.lock()
        let now = now()
        let load = try JournalFile.load(path: journal.path)
        try JournalFile.checkFormat(load, path: journal.path)
        let cutoff = WallTime(milliseconds: now.wall.milliseconds - Int64(config.journal.retentionDays) * 86_400_000)
        // A gateway that booted in 1970 must not delete everything: only apply retention to a plausible clock.
        let plausible = now.wall > RFC3339.parse("2024-01-01")!
        let (records, expired) = IncidentJournal.keep(load.records, droppingClosedBefore: plausible ? cutoff : nil)
        if records.count != load.records.count || load.corruptRecords > 0 { try journal.rewrite(records) }

        var outbox: [String: OutgoingNotification] = [:]
        var outboxOrder: [String] = []
        var receipts: [(key: String, receipt: String)] = []
        var retrying: Set<String> = []
        var last: (mono: Int64, wall: WallTime, boot: String)?
        func queue(_ r: JSONValue) {
            for s in r["sends"]?.arrayValue ?? [] {
                if let n = JournalCodec.notification(s), outbox[n.key] == nil { outbox[n.key] = n; outboxOrder.append(n.key) }
            }
        }
        for r in records {
            if let wall = r["wall"]?.stringValue.flatMap(RFC3339.parse), let mono = r["mono"]?.exactInt64, let boot = r["boot"]?.stringValue {
                last = (mono, wall, boot)
            }
            switch r["t"]?.stringValue {
            case "step":
                guard let id = r["incident"]?.stringValue, let input = JournalCodec.input(r["input"], incident: id),
                      let wall = r["wall"]?.stringValue.flatMap(RFC3339.parse), let mono = r["mono"]?.exactInt64 else { continue }
                let m = Moment(monotonic: MonotonicInstant(nanoseconds: mono), wall: wall, wallIsTrusted: r["untrustedWall"]?.boolValue != true)
                if m.wallIsTrusted && wall > latestWall { latestWall = wall }
                switch input {
                case .open(let alert):
                    // Replayed under the circle it ran with; moved to the current config once replayed.
                    let context = JournalCodec.context(r["context"], person: config.person)
                        ?? IncidentContext(config: config, kind: alert.kind, severity: alert.severity)
                    var inc = Incident(id: id, alert: alert, context: context)
                    _ = inc.open(at: m)
                    incidents[id] = inc
                    order.append(id)
                case .event(let e):
                    guard var inc = incidents[id] else { continue }
                    // A restart moved it to the config of that day.
                    if let c = JournalCodec.context(r["context"], person: config.person) { inc.adopt(c) }
                    _ = inc.handle(e, at: m)
                    incidents[id] = inc
                    if case .delivery(let key, let result) = e {
                        delivered.insert(key)
                        if let ref = r["receipt"]?.stringValue { receipts.append((key, ref)) }
                        if result == .delivered { retrying.remove(key) } else if r["retrying"]?.boolValue == true { retrying.insert(key) }
                    }
                }
                queue(r)
            case "digest":
                if let a = JournalCodec.alert(r["alert"]) { digest.append(a) }
            case "send":
                queue(r)
                for s in r["sends"]?.arrayValue ?? [] { if let k = s["key"]?.stringValue { systemKeys.insert(k) } }
                replaySchedule(r)
            case "delivered":
                if let k = r["key"]?.stringValue { delivered.insert(k); systemKeys.remove(k) }
            case "test-answer":
                if let id = r["test"]?.stringValue { schedule.weeklyPending[id] = nil }
            default: break
            }
        }
        // Timers were armed on the monotonic timeline of the boot that wrote them.
        if let last, last.boot != bootID {
            // Saturating and wrapping (as `rebase` adds): a record with an absurd time must not trap at every start.
            let elapsed = max(0, now.wall.milliseconds - last.wall.milliseconds).multipliedReportingOverflow(by: 1_000_000)
            let offset = now.monotonic.nanoseconds &- (last.mono &+ (elapsed.overflow ? .max : elapsed.partialValue))
            for id in order { incidents[id]?.rebase(monotonicBy: offset) }
            for id in schedule.weeklyPending.keys {
                schedule.weeklyPending[id]!.deadline = MonotonicInstant(nanoseconds: schedule.weeklyPending[id]!.deadline.nanoseconds &+ offset)
            }
            logger.notice("journal written before a reboot: timers re-armed from wall-clock time")
        }
        let pending = outboxOrder.filter { !delivered.contains($0) }
        // Emergency receipts of incidents still open (or whose all-clear is still to go out) go back to their notifier
        // before anything is resent: an all-clear cancels them, polling turns an acknowledgement into a claim.
        let pendingIncidents = Set(pending.compactMap { outbox[$0]?.incident })
        var restore: [String: [(receipt: String, notification: OutgoingNotification)]] = [:]
        for (key, ref) in receipts {
            guard let n = outbox[key], let inc = incidents[n.incident], !inc.isClosed || pendingIncidents.contains(n.incident) else { continue }
            restore[n.notifier, default: []].append((ref, n))
        }
        for (name, list) in restore.sorted(by: { $0.key < $1.key }) {
            guard let keeper = notifiers[name] as? any ReceiptKeeping else { continue }
            keeper.restoreReceipts(list)
            logger.info("\(list.count) emergency receipt\(list.count == 1 ? "" : "s") restored to \(name)")
        }
        // Pages and updates of incidents that closed meanwhile say something no longer true: never sent.
        let stale = pending.filter { !stillWanted(outbox[$0]!) }
        if !stale.isEmpty { logger.info("\(stale.count) message(s) queued before the stop are no longer true (their incident closed); not sent") }
        for key in pending where stillWanted(outbox[key]!) {
            let n = outbox[key]!
            if let keeper = notifiers[n.notifier] as? any ReceiptKeeping, keeper.keepsReceipt(for: n) {
                // It may have gone out before the crash: the copy sent now replaces the first.
                inFlight[key] = Task { await keeper.replacing(n); self.replaced(n) }
            } else {
                dispatch(n)
            }
        }
        // Failed deliveries that were being retried carry on.
        for key in retrying.sorted() where outbox[key].map(stillWanted) == true {
            retries[key] = Redelivery(notification: outbox[key]!, due: now.monotonic, failures: 1)
        }
        // A tier paged before the stop whose members can be paged now (consent given, availability changed in the
        // config read at this start) has them paged at once, not at some later timer.
        for id in order where incidents[id]?.isClosed == false {
            let inc = incidents[id]!
            incidents[id]!.adopt(IncidentContext(config: config, kind: inc.kind, severity: inc.severity))
            apply(id, .catchUp, now, extra: ["context": JournalCodec.encode(incidents[id]!.context)])
        }
        // A crash between a fall opening and the inactivity incident standing down: finish it now.
        for id in order { supersede(by: id, now) }
        if load.tornBytes > 0 { logger.notice("cut a torn journal tail of \(load.tornBytes) bytes (a crash mid-write)") }
        if load.corruptRecords > 0 { logger.warning("\(load.corruptRecords) journal records failed their checksum and were dropped; check the disk") }
        return RecoveryReport(openIncidents: openIncidents.map(\.id), redelivered: pending.filter { !stale.contains($0) }, tornBytes: load.tornBytes,
                              corruptRecords: load.corruptRecords, expiredIncidents: expired)
    }

    /// `careMonitord forget` while the daemon runs: deletes for good every closed incident (and digest entry) older
    /// than `date`, from the journal (rewritten, as `IncidentJournal.forget` does) and from memory. Open incidents
    /// stay whatever their age. Returns how many incidents were deleted.
    public func forget(before date: WallTime) throws(JournalError) -> Int {
        var dropped = 0
        var keptIDs: Set<String>?
        if let journal {
            let load = try JournalFile.load(path: journal.path)
            try JournalFile.checkFormat(load, path: journal.path)
            let (kept, n) = IncidentJournal.keep(load.records, droppingClosedBefore: date)
            if kept.count != load.records.count || load.corruptRecords > 0 { try journal.rewrite(kept) }
            dropped = n
            keptIDs = Set(kept.compactMap { $0["incident"]?.stringValue })
        }
        for id in order {
            guard let inc = incidents[id], inc.isClosed else { continue }
            if keptIDs.map({ !$0.contains(id) }) ?? (inc.openedAt < date) {
                incidents[id] = nil
                retiredIDs.insert(id)  // its delivery keys are still known as delivered: never reuse the id
            }
        }
        order.removeAll { incidents[$0] == nil }
        digest.removeAll { $0.time < date }
        return dropped
    }

    /// The moment of the last journaled step, so that a replay (or a crash test's manual clock) can continue from it.
    public static func lastMoment(stateDirectory: String, person: String) -> Moment? {
        guard let rs = try? IncidentJournal.read(directory: stateDirectory, person: person) else { return nil }
        for r in rs.reversed() {
            if let w = r["wall"]?.stringValue.flatMap(RFC3339.parse), let m = r["mono"]?.exactInt64 {
                return Moment(monotonic: MonotonicInstant(nanoseconds: m), wall: w)
            }
        }
        return nil
    }
}

extension Incident {
    /// Moves every armed deadline onto another monotonic timeline (after a reboot).
    mutating func rebase(monotonicBy offset: Int64) {
        for (k, d) in armed { armed[k] = MonotonicInstant(nanoseconds: d.nanoseconds &+ offset) }
    }
}
