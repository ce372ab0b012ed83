/// The words people read. Every message about an incident says who else was told and who is going, so that the
/// circle coordinates instead of everyone driving over (or nobody).
///
/// English only for now (`EscalationConfig.supportedLanguages`); a second language adds a table here.
public enum Messages {
    static func time(_ t: WallTime, _ i: Incident) -> String { LocalTime(t, in: i.context.person.timeZone).hhmm }

    /// "Fall detected 14:02 (hallway)".
    public static func headline(_ i: Incident) -> String {
        let what: String
        switch i.kind {
        case "fall": what = "Fall detected"
        case "inactivity": what = "No movement detected"
        case "help", "button", "pendant": what = "Call for help"
        default: what = "\(i.kind.prefix(1).uppercased())\(i.kind.dropFirst()) alert"
        }
        let place = i.device.map { " (\($0))" } ?? ""
        return "\(what) \(time(i.openedAt, i))\(place)."
    }

    public static func title(_ i: Incident, purpose: NotificationPurpose) -> String {
        let name = i.context.person.name
        switch purpose {
        case .selfCheck: return "Are you all right, \(name)?"
        case .page: return "\(name): \(i.kind) — can you go?"
        case .update:
            if let c = i.activeClaims.first, let m = i.member(c), i.state == .claimed { return "\(name): \(m.name) is going" }
            if i.state == .arrived { return "\(name): someone is there" }
            return "\(name): \(i.kind) update"
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
        let q = i.kind == "fall" ? "Did you fall?" : "Are you all right?"
        return "\(q) Press OK if you are fine. If you don't, your circle of care will be told in \(i.context.policy.selfCancelSeconds) seconds."
    }

    public static func page(_ i: Incident, to m: Member, at t: WallTime) -> String {
        join("\(i.context.person.name): \(headline(i))", circleStatus(i, excluding: m.id), "Can you go?")
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
        join("\(i.context.person.name): nobody has arrived yet (\(time(t, i))). Paging the circle again.", headline(i),
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
        "TEST ONLY, nothing has happened to \(p.name). This checks that alerts about \(p.name) reach you here. Please answer \"I'm going\" (or reply 1) to confirm."
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
