/// The words people read. Every message about an incident says who else was told and who is going, so that the
/// circle coordinates instead of everyone driving over (or nobody).
///
/// English only for now (`EscalationConfig.supportedLanguages`); a second language adds a table here.
public enum Messages {
    static func time(_ t: WallTime, _ i: Incident) -> String { LocalTime(t, in: i.context.person.timeZone).hhmm }

    /// "Fall detected at 14:02 (hallway).", "Linda pressed her help button at 14:02 (bedroom)."
    public static func headline(_ i: Incident) -> String {
        let place = i.device.map { " (\($0))" } ?? ""
        return "\(fill(i.wording.headline, i.context.person)) at \(time(i.openedAt, i))\(place)."
    }

    /// "Linda: Fall detected at 14:02 (hallway)." or, when the headline names her already, "Linda pressed her help
    /// button at 14:02."
    static func subject(_ i: Incident) -> String {
        i.wording.headline.hasPrefix("{name}") ? headline(i) : "\(i.context.person.name): \(headline(i))"
    }

    /// The table's placeholders filled in for the person.
    static func fill(_ text: String, _ p: PersonProfile) -> String {
        text.replacingAll("{name}", with: p.name).replacingAll("{their}", with: p.pronouns.possessive)
    }

    /// What a member must (or must not) do about this kind, or "".
    static func advice(_ i: Incident) -> String { i.wording.advice.map { fill($0, i.context.person) } ?? "" }

    /// How the member answers a message sent on `contact` that asks for an answer. Channels that take answers
    /// say so themselves (buttons, or the notifier's reply instructions); on one that cannot, the member is sent to
    /// a channel of theirs that can.
    public static func howToAnswer(_ m: Member, on contact: Contact, severity: Severity, purpose: NotificationPurpose) -> String {
        func answers(_ c: Contact) -> Bool {
            c.answers == .acknowledge ? (severity == .critical && purpose == .page) : c.answers != .none
        }
        if answers(contact) {
            return contact.answers == .acknowledge ? "Acknowledge this alert if you are going." : ""
        }
        guard let other = m.contacts.first(where: { $0 != contact && answers($0) }) else {
            return "Answers to this message are not read: phone the others in the circle to say whether you are going."
        }
        switch other.answers {
        case .reply: return "Answers to this message are not read: reply 1 (going) or 2 (can't) to the \(other.notifier) message instead."
        case .acknowledge: return "Answers to this message are not read: acknowledge the \(other.notifier) alert instead."
        case .buttons, .none: return "Answers to this message are not read: answer with the buttons in \(other.notifier) instead."
        }
    }

    public static func title(_ i: Incident, purpose: NotificationPurpose) -> String {
        let name = i.context.person.name
        switch purpose {
        case .selfCheck: return "Are you all right, \(name)?"
        case .page:
            let what = fill(i.wording.headline, i.context.person)
            return i.wording.headline.hasPrefix("{name}") ? "\(what) — can you go?" : "\(name): \(what) — can you go?"
        case .update:
            if let c = i.activeClaims.first, let m = i.member(c), i.state == .claimed { return "\(name): \(m.name) is going" }
            if i.state == .arrived { return "\(name): someone is there" }
            return "\(name): \(fill(i.wording.headline, i.context.person)), update"
        case .allClear:
            if let s = i.supersededBy { return "\(name): \(i.kind) alert replaced by the \(s.kind) alert" }
            return "\(name): all clear"
        case .test: return "careMonitord test"
        case .summary: return "\(name): summary"
        }
    }

    /// One sentence per member paged so far (except `recipient`): who was paged, who answered what.
    public static func circleStatus(_ i: Incident, excluding recipient: String?) -> String {
        var parts: [String] = []
        for mid in i.pagedMembers where mid != recipient {
            guard let m = i.member(mid) else { continue }
            let firstPage = i.pages.first { $0.member == mid && $0.purpose == .page }
            if let r = i.responses[mid] {
                switch r.kind {
                case .claimed(let eta) where r.expired:
                    parts.append("\(m.label) said at \(time(r.at, i)) they were going (ETA \(eta) min) but has not arrived.")
                case .claimed(let eta):
                    parts.append("\(m.label) is going, ETA \(eta) min.")
                case .declined:
                    parts.append("\(m.label) can't go.")
                case .arrived:
                    parts.append("\(m.label) arrived \(time(r.at, i)).")
                }
            } else if i.unreachable(mid) {
                parts.append("\(m.label) could not be reached.")
            } else if let firstPage {
                parts.append("\(m.label) paged \(time(firstPage.at, i)), no reply.")
            }
        }
        if i.needsResponders && !i.activeClaims.isEmpty { parts.append("Still looking for a second person to go.") }
        return parts.joined(separator: " ")
    }

    static func join(_ parts: String...) -> String { parts.filter { !$0.isEmpty }.joined(separator: " ") }

    public static func selfCheck(_ i: Incident, at t: WallTime) -> String {
        let q = fill(i.wording.question, i.context.person)
        return "\(q) Press OK if you are fine. If you don't, your circle of care will be told in \(i.context.policy.selfCancelSeconds) seconds."
    }

    public static func page(_ i: Incident, to m: Member, at t: WallTime) -> String {
        join(subject(i), advice(i), circleStatus(i, excluding: m.id), "Can you go?")
    }

    public static func status(_ i: Incident, to m: Member, lead: String, at t: WallTime) -> String {
        join("\(i.context.person.name): \(lead)", headline(i), circleStatus(i, excluding: m.id))
    }

    public static func claimUpdate(_ i: Incident, claimer: Member, eta: Int, to m: Member, at t: WallTime) -> String {
        join("\(i.context.person.name): \(claimer.label) is going, ETA \(eta) min.", headline(i),
             circleStatus(i, excluding: m.id).replacingAll("\(claimer.label) is going, ETA \(eta) min.", with: "").trimmed,
             i.needsResponders ? "" : "Thank you: no need to go unless you hear again.")
    }

    public static func claimConfirmation(_ i: Incident, claimer: Member, eta: Int, at t: WallTime) -> String {
        join("Thank you, \(claimer.name): you are going to \(i.context.person.name), ETA \(eta) min.", headline(i),
             circleStatus(i, excluding: claimer.id), "Press \"arrived\" when you are there.")
    }

    public static func helpComing(_ i: Incident, claimer: Member, eta: Int) -> String {
        "\(claimer.name) is on the way, about \(eta) minutes."
    }

    public static func arrived(_ i: Incident, by label: String?, verifiedHow: String?, at t: WallTime) -> String {
        let who = label ?? "Someone"
        let how = verifiedHow.map { " (confirmed by \($0))" } ?? ""
        return "\(i.context.person.name): \(who) arrived \(time(t, i))\(how). \(headline(i))"
    }

    public static func claimExpired(_ i: Incident, claimer: Member, to m: Member, at t: WallTime) -> String {
        join("\(i.context.person.name): nobody has arrived yet (\(time(t, i))). Paging the circle again.", headline(i), advice(i),
             circleStatus(i, excluding: m.id == claimer.id ? nil : m.id), "Can you go?")
    }

    public static func resolved(_ i: Incident, by m: Member, at t: WallTime) -> String {
        "All clear for \(i.context.person.name): \(m.label) resolved it at \(time(t, i)). \(headline(i)) Thank you."
    }

    public static func resolvedForPerson(_ i: Incident, by m: Member) -> String {
        "\(m.name) has marked this as resolved. Take care."
    }

    public static func stoodDown(_ i: Incident, at t: WallTime) -> String {
        "Stand down for \(i.context.person.name): recovery detected at \(time(t, i)); nobody needs to go. \(headline(i))"
    }

    /// To everyone paged about an incident that a more serious one (a fall) took over. Not an all-clear: whoever is
    /// on their way keeps going, and the other incident's pages follow.
    public static func superseded(_ i: Incident, by s: Supersession, at t: WallTime) -> String {
        let place = s.device.map { " (\($0))" } ?? ""
        return "Stand down for \(i.context.person.name): superseded by the \(s.kind) incident opened \(time(s.openedAt, i))\(place). "
            + "\(headline(i)) Alerts continue under the \(s.kind) incident; if you are already on your way, please keep going."
    }

    /// A test page (`careMonitord test-alert`, the weekly test).
    public static func testPage(_ p: PersonProfile) -> String {
        "TEST ONLY, nothing has happened to \(p.name). This checks that alerts about \(p.name) reach you here. Please answer \"I'm going\" to confirm."
    }

    /// The daily digest: routine observations, for information only. At most `limit` entries are listed.
    public static func digest(_ p: PersonProfile, items: [Alert], date: String, limit: Int = 20) -> String {
        var parts: [String] = []
        for a in items.prefix(limit) {
            let what = a.kind.replacingAll("-", with: " ")
            let detail = a.detail.isEmpty ? "" : ": \(a.detail)"
            let place = a.device.map { " (\($0))" } ?? ""
            parts.append("\(LocalTime(a.time, in: p.timeZone).hhmm) \(what)\(place)\(detail).")
        }
        if items.count > limit { parts.append("And \(items.count - limit) more.") }
        return "Daily summary for \(p.name), \(date), for information (nobody needs to go): " + parts.joined(separator: " ")
    }

    public static func cancelledByPerson(_ i: Incident, at t: WallTime) -> String {
        "All clear: \(i.context.person.name) pressed \"I'm fine\" at \(time(t, i)); nobody needs to go. \(headline(i))"
    }

    public static func cancelledByMember(_ i: Incident, by m: Member, at t: WallTime) -> String {
        "All clear for \(i.context.person.name): cancelled by \(m.label) at \(time(t, i)); nobody needs to go. \(headline(i))"
    }
}

extension String {
    var trimmed: String {
        var s = self
        while s.contains("  ") { s = s.replacingAll("  ", with: " ") }
        while s.hasPrefix(" ") { s.removeFirst() }
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
