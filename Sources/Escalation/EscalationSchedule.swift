import CareSupport

/// A test page waiting for its answer.
struct PendingTest: Sendable, Equatable {
    var member: String
    var sentAt: WallTime
    /// Monotonic: an unanswered test is reported when it passes.
    var deadline: MonotonicInstant
    var answerMinutes: Int
    /// Why the page could not be delivered, when it could not.
    var failure: String?
}

/// What the schedule has done, rebuilt from the journal's `send` records on recovery.
struct ScheduleState: Sendable {
    /// False until the first `runSchedule()` with a plausible wall clock: slots already past then are not caught up
    /// unless the journal shows they were missed.
    var started = false
    /// Local day number each digest slot (minute of day) last went out.
    var digestDone: [Int: Int] = [:]
    var heartbeatDone: Int?
    /// Member → local day number of their last weekly test.
    var weeklyDone: [String: Int] = [:]
    /// Test id → the test waiting for its answer.
    var weeklyPending: [String: PendingTest] = [:]
    /// Members whose weekly test went unanswered since the last daily heartbeat (it repeats them).
    var unansweredSinceHeartbeat: [String] = []
    var nextPing: MonotonicInstant?
    var pingFailing = false
}

/// A local calendar position in the person's time zone.
struct LocalDay: Sendable, Equatable {
    /// Days since 1970-01-01, local.
    var day: Int
    var minute: Int
    /// 0 = Sunday … 6 = Saturday.
    var weekday: Int

    init(_ t: WallTime, in zone: ZoneInfo) {
        let secs = t.milliseconds >= 0 ? t.milliseconds / 1000 : (t.milliseconds - 999) / 1000
        let local = secs + Int64(zone.offset(at: secs))
        let d = local >= 0 ? local / 86400 : (local - 86399) / 86400
        day = Int(d)
        minute = Int((local - d * 86400) / 60)
        weekday = Int(((d % 7) + 7 + 4) % 7)  // 1970-01-01 was a Thursday
    }

    /// "2026-11-23".
    static func date(_ day: Int) -> String { String(RFC3339.format(WallTime(seconds: Int64(day) * 86400)).prefix(10)) }

    /// The local day of the latest daily `slot` (minute of day) at or before now.
    func lastDaily(_ slot: Int) -> Int { minute >= slot ? day : day - 1 }

    /// The local day of the latest weekly slot (`weekday`, minute of day) at or before now.
    func lastWeekly(weekday d: Int, _ slot: Int) -> Int {
        var back = (weekday - d + 7) % 7
        if back == 0 && minute < slot { back = 7 }
        return day - back
    }

    /// True when this moment is before `slot` on local day `d`.
    func isBefore(day d: Int, _ slot: Int) -> Bool { day < d || (day == d && minute < slot) }
}

extension EscalationEngine {
    /// A wall clock before this is a gateway that booted without an RTC: calendar jobs wait for NTP.
    static let plausibleWall = RFC3339.parse("2024-01-01")!

    /// Runs what is due on the injected clock: the heartbeat URL ping (every `heartbeat.every` seconds, monotonic),
    /// unanswered weekly tests (their answer window, monotonic), and, once the wall clock is plausible, the daily
    /// digest, the daily heartbeat to `technical` members and the weekly test pages (local time of the person).
    /// `run()` calls it with `tick()`; tests advance a `ManualClock` and call both. Every message goes through the
    /// journaled outbox with a key per day (per week for tests), so a restart sends nothing twice.
    public func runSchedule() {
        let now = now()
        pingIfDue(now)
        reportUnansweredTests(now)
        guard now.wall > Self.plausibleWall else { return }
        let local = LocalDay(now.wall, in: config.person.timeZone)
        if !schedule.started { startSchedule(local) }
        sendDigestsIfDue(now, local)
        sendHeartbeatIfDue(now, local)
        sendWeeklyTestsIfDue(now, local)
    }

    /// With no journal record of a job, its latest slot counts as done: nothing is caught up at a first start,
    /// except digest entries collected before the latest digest time. What the journal shows was missed (it
    /// recorded an earlier day) goes out now.
    func startSchedule(_ local: LocalDay) {
        schedule.started = true
        let tz = config.person.timeZone
        for slot in digestSlots() where schedule.digestDone[slot] == nil {
            let last = local.lastDaily(slot)
            if !digest.contains(where: { digestSlot($0) == slot && LocalDay($0.time, in: tz).isBefore(day: last, slot) }) {
                schedule.digestDone[slot] = last
            }
        }
        if schedule.heartbeatDone == nil { schedule.heartbeatDone = local.lastDaily(config.heartbeat.at.minutes) }
        for m in config.members {
            guard let w = m.weeklyTest, schedule.weeklyDone[m.id] == nil else { continue }
            schedule.weeklyDone[m.id] = local.lastWeekly(weekday: w.day, w.at.minutes)
        }
    }

    // MARK: - Digest

    func digestPolicy(_ a: Alert) -> Policy { config.policies.policy(kind: a.kind, severity: a.severity) }
    func digestSlot(_ a: Alert) -> Int { (digestPolicy(a).digestAt ?? config.digest.at).minutes }

    func digestSlots() -> Set<Int> {
        var s: Set<Int> = [config.digest.at.minutes]
        for p in config.policies.policies { if let t = p.digestAt { s.insert(t.minutes) } }
        for a in digest { s.insert(digestSlot(a)) }
        return s
    }

    func sendDigestsIfDue(_ now: Moment, _ local: LocalDay) {
        for slot in digestSlots().sorted() {
            // The latest digest time not yet served (after downtime: yesterday's, sent now with that day's key).
            let last = local.lastDaily(slot)
            guard (schedule.digestDone[slot] ?? Int.min) < last else { continue }
            let items = digest.filter { digestSlot($0) == slot }
            digest.removeAll { digestSlot($0) == slot }
            schedule.digestDone[slot] = last
            let date = LocalDay.date(last)
            let id = "digest-\(person)-\(date)-\(TimeOfDay(minutes: slot).description.replacingAll(":", with: ""))"
            var sends: [OutgoingNotification] = []
            for m in config.members where m.consent.given {
                guard let c = m.contacts.first else { continue }
                let mine = items.filter { (digestPolicy($0).digestRecipients ?? config.digest.recipients).resolve(in: config.members).contains(m) }
                guard !mine.isEmpty else { continue }
                sends.append(OutgoingNotification(
                    key: "\(id)/\(m.id)", incident: id, person: person, personName: config.person.name, member: m.id,
                    notifier: c.notifier, address: c.address, kind: "digest", severity: .info, purpose: .summary, tier: 0,
                    title: "\(config.person.name): daily summary", text: Messages.digest(config.person, items: mine, date: date),
                    time: now.wall, incidentState: "digest", actions: []))
            }
            if !items.isEmpty && sends.isEmpty {
                logger.warning("the daily digest for \(date) has \(items.count) entr\(items.count == 1 ? "y" : "ies") but nobody to send it to (consent, contacts); check digest.members/roles")
            } else if !items.isEmpty {
                logger.info("daily digest for \(date): \(items.count) entr\(items.count == 1 ? "y" : "ies") to \(sends.map(\.member).joined(separator: ", "))")
            }
            sendSystem(sends, ["job": "digest", "slot": .number(Double(slot)), "day": .number(Double(last))], now)
        }
    }

    // MARK: - Heartbeat

    func heartbeatNotifications(key: String, at now: Moment) -> [OutgoingNotification] {
        let open = openIncidents.count
        let unanswered = schedule.unansweredSinceHeartbeat
        var text = "careMonitord at \(config.person.name)'s is running (\(RFC3339.format(now.wall))): \(open) open incident\(open == 1 ? "" : "s"), "
            + (journalFailing ? "the journal CANNOT be written (check the disk)." : "journal OK.")
        if schedule.pingFailing { text += " The heartbeat URL cannot be reached (check the Internet connection)." }
        if !unanswered.isEmpty { text += " Weekly test unanswered by: \(unanswered.joined(separator: ", "))." }
        var out: [OutgoingNotification] = []
        for m in config.members where m.role == .technical && m.consent.given {
            guard let c = m.contacts.first else { continue }
            out.append(OutgoingNotification(key: "\(key)/\(m.id)", incident: key, person: person, personName: config.person.name,
                                            member: m.id, notifier: c.notifier, address: c.address, kind: "heartbeat", severity: .info,
                                            purpose: .summary, tier: 0, title: "careMonitord heartbeat", text: text, time: now.wall,
                                            incidentState: "heartbeat", actions: []))
        }
        return out
    }

    func sendHeartbeatIfDue(_ now: Moment, _ local: LocalDay) {
        let last = local.lastDaily(config.heartbeat.at.minutes)
        guard (schedule.heartbeatDone ?? Int.min) < last else { return }
        schedule.heartbeatDone = last
        let sends = heartbeatNotifications(key: "heartbeat-\(person)-\(LocalDay.date(last))", at: now)
        schedule.unansweredSinceHeartbeat = []
        sendSystem(sends, ["job": "heartbeat", "day": .number(Double(last))], now)
    }

    /// The heartbeat URL: pinged at the first run, then every `heartbeat.every` seconds; one ping at a time.
    func pingIfDue(_ now: Moment) {
        guard let pinger else { return }
        if let next = schedule.nextPing, next > now.monotonic { return }
        let key = "heartbeat-ping-\(person)"
        guard inFlight[key] == nil else { return }
        let every = config.heartbeat.everySeconds
        schedule.nextPing = now.monotonic.advanced(by: .seconds(every))
        let timeout = Duration.seconds(min(10, every))
        inFlight[key] = Task {
            let error = await pinger.ping(timeout: timeout)
            self.pinged(key: key, error: error, shown: pinger.shown)
        }
    }

    func pinged(key: String, error: NotifierError?, shown: String) {
        inFlight[key] = nil
        if let error {
            if !schedule.pingFailing { logger.warning("heartbeat ping to \(shown) failed: \(error.message); nobody outside the home hears that the gateway is alive") }
            schedule.pingFailing = true
        } else {
            if schedule.pingFailing { logger.notice("heartbeat ping to \(shown) works again") }
            schedule.pingFailing = false
            logger.debug("heartbeat ping to \(shown) OK")
        }
    }

    // MARK: - Weekly tests

    func sendWeeklyTestsIfDue(_ now: Moment, _ local: LocalDay) {
        for m in config.members {
            // Due from the test time to the end of that day (a test missed on its day waits for the next week).
            guard let w = m.weeklyTest, local.weekday == w.day, local.minute >= w.at.minutes,
                  (schedule.weeklyDone[m.id] ?? Int.min) < local.day else { continue }
            // Not in the middle of a real incident: later the same day, once it is over.
            guard openIncidents.isEmpty else { continue }
            schedule.weeklyDone[m.id] = local.day
            guard m.consent.given, let c = m.contacts.first else {
                logger.notice("weekly test for \(m.label) not sent: \(m.consent.given ? "no contact" : "no consent recorded")")
                continue
            }
            let id = "weekly-test-\(person)-\(m.id)-\(LocalDay.date(local.day))"
            let deadline = now.monotonic.advanced(by: .seconds(w.answerMinutes * 60))
            schedule.weeklyPending[id] = PendingTest(member: m.id, sentAt: now.wall, deadline: deadline, answerMinutes: w.answerMinutes)
            let n = testNotification(id: id, member: m, contact: c, contactIndex: 0, at: now)
            logger.info("weekly test page to \(m.label) via \(c.notifier)")
            sendSystem([n], ["job": "weekly-test", "test": .string(id), "member": .string(m.id), "day": .number(Double(local.day)),
                             "deadline": .number(Double(deadline.nanoseconds)), "sentAt": .string(RFC3339.format(now.wall)),
                             "answerMinutes": .number(Double(w.answerMinutes))], now)
        }
    }

    func testNotification(id: String, member m: Member, contact c: Contact, contactIndex i: Int, at now: Moment) -> OutgoingNotification {
        var n = OutgoingNotification(
            key: "\(id)/\(i)", incident: id, person: person, personName: config.person.name, member: m.id, notifier: c.notifier,
            address: c.address, kind: "test", severity: .info, purpose: .test, tier: 0, title: "careMonitord test",
            text: Messages.join(Messages.testPage(config.person), Messages.howToAnswer(m, on: c, severity: .info, purpose: .test)),
            time: now.wall, incidentState: "test", actions: [.claim])
        n.token = answerToken(incident: id, member: m.id)
        return n
    }

    func weeklyTestAnswered(_ ack: Ack) {
        guard let t = schedule.weeklyPending[ack.incident] else { return }
        guard ack.member == t.member else {
            logger.notice("test page \(ack.incident) answered by \(ack.member), not \(t.member); ignored")
            return
        }
        schedule.weeklyPending[ack.incident] = nil
        answeredTests.insert(ack.incident)
        let now = now()
        logger.info("weekly test \(ack.incident) answered by \(t.member) via \(ack.via) after \(max(0, now.wall.milliseconds - t.sentAt.milliseconds) / 1000) s")
        write([.object(["t": "test-answer", "test": .string(ack.incident), "member": .string(ack.member), "via": .string(ack.via),
                        "wall": .string(RFC3339.format(now.wall)), "mono": .number(Double(now.monotonic.nanoseconds)),
                        "boot": .string(bootID)])], sync: true)
    }

    /// A weekly test whose answer window passed: warning in the log, and a message to every `technical` member.
    func reportUnansweredTests(_ now: Moment) {
        for (id, t) in schedule.weeklyPending.sorted(by: { $0.key < $1.key }) where t.deadline <= now.monotonic {
            schedule.weeklyPending[id] = nil
            let label = config.member(t.member)?.label ?? t.member
            if !schedule.unansweredSinceHeartbeat.contains(label) { schedule.unansweredSinceHeartbeat.append(label) }
            let why = t.failure.map { " (the page could not be delivered: \($0))" } ?? ""
            logger.warning("weekly test page to \(label) was not answered within \(t.answerMinutes) min\(why): alerts may not reach them; check their phone or app")
            let tz = config.person.timeZone
            let text = "careMonitord at \(config.person.name)'s: the weekly test page to \(label), sent \(LocalTime(t.sentAt, in: tz).hhmm), "
                + "was not answered within \(t.answerMinutes) min\(why). Alerts may not reach them: please check with them."
            var sends: [OutgoingNotification] = []
            for m in config.members where m.role == .technical && m.consent.given && m.id != t.member {
                guard let c = m.contacts.first else { continue }
                sends.append(OutgoingNotification(
                    key: "\(id)-unanswered/\(m.id)", incident: id, person: person, personName: config.person.name, member: m.id,
                    notifier: c.notifier, address: c.address, kind: "test", severity: .warning, purpose: .summary, tier: 0,
                    title: "careMonitord: test page unanswered", text: text, time: now.wall, incidentState: "test-unanswered", actions: []))
            }
            if sends.isEmpty { logger.warning("no technical member to tell that \(label) did not answer the weekly test") }
            sendSystem(sends, ["job": "test-report", "test": .string(id)], now)
        }
    }

    // MARK: - Journaled messages outside incidents

    /// Journals the messages (one durable `send` record, with their event lines for the transparency log) and the
    /// job's bookkeeping, then delivers them through the outbox. Also written with no message, so that a restart
    /// knows the job ran.
    func sendSystem(_ sends: [OutgoingNotification], _ job: JSONObject, _ now: Moment) {
        var r: JSONObject = ["t": "send", "wall": .string(RFC3339.format(now.wall)), "mono": .number(Double(now.monotonic.nanoseconds)),
                             "boot": .string(bootID)]
        for m in job.members { r[m.key] = m.value }
        let lines = sends.map { EventLine.notification(time: now.wall, incident: $0.incident, member: $0.member, notifier: $0.notifier, tier: 0, text: $0.text) }
        if !sends.isEmpty {
            r["sends"] = .array(sends.map(JournalCodec.encode))
            r["lines"] = .array(lines.map(\.json))
        }
        write([.object(r)], sync: true)
        for l in lines { events(l) }
        for n in sends {
            systemKeys.insert(n.key)
            dispatch(n)
        }
    }

    func systemDelivered(_ n: OutgoingNotification, _ result: DeliveryResult) {
        systemKeys.remove(n.key)
        delivered.insert(n.key)
        let now = now()
        var r: JSONObject = ["t": "delivered", "key": .string(n.key), "wall": .string(RFC3339.format(now.wall)),
                             "mono": .number(Double(now.monotonic.nanoseconds)), "boot": .string(bootID)]
        if case .failed(let reason) = result {
            r["ok"] = false
            r["reason"] = .string(reason)
            logger.warning("could not deliver the \(n.kind) message to \(n.member) via \(n.notifier): \(reason)")
            if schedule.weeklyPending[n.incident] != nil { schedule.weeklyPending[n.incident]!.failure = reason }
        } else {
            r["ok"] = true
        }
        write([.object(r)], sync: true)
    }

    /// Recovery: what a journaled `send` record says the schedule already did.
    func replaySchedule(_ r: JSONValue) {
        let day = r["day"]?.exactInt
        switch r["job"]?.stringValue {
        case "digest":
            guard let slot = r["slot"]?.exactInt, let day else { return }
            schedule.digestDone[slot] = max(schedule.digestDone[slot] ?? day, day)
            digest.removeAll { digestSlot($0) == slot }
        case "heartbeat":
            if let day { schedule.heartbeatDone = max(schedule.heartbeatDone ?? day, day) }
        case "weekly-test":
            guard let id = r["test"]?.stringValue, let member = r["member"]?.stringValue, let day,
                  let deadline = r["deadline"]?.exactInt64, let sentAt = r["sentAt"]?.stringValue.flatMap(RFC3339.parse) else { return }
            schedule.weeklyDone[member] = max(schedule.weeklyDone[member] ?? day, day)
            schedule.weeklyPending[id] = PendingTest(member: member, sentAt: sentAt, deadline: MonotonicInstant(nanoseconds: deadline),
                                                     answerMinutes: r["answerMinutes"]?.exactInt ?? 60)
        case "test-report":
            if let id = r["test"]?.stringValue { schedule.weeklyPending[id] = nil }
        default: break
        }
    }
}
