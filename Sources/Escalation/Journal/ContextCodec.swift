import CareSupport

/// The circle and policy an incident opened with, journaled with its opening. Recovery replays each incident under
/// the context it ran with, so that its decisions (who was paged, skipped, timed out) come out as they were made,
/// and only then moves it to the config read at this start (`Incident.adopt`), paging whoever that makes due.
extension JournalCodec {
    static func encode(_ c: IncidentContext) -> JSONValue {
        ["members": .array(c.members.map(encode)), "policy": encode(c.policy)]
    }

    /// The journaled context with the person (not journaled: her profile never changes an incident's decisions)
    /// from the current config; nil for a journal written before contexts were journaled.
    static func context(_ v: JSONValue?, person: PersonProfile) -> IncidentContext? {
        guard let v, let ms = v["members"]?.arrayValue, let p = v["policy"].flatMap(policy) else { return nil }
        let members = ms.compactMap(member)
        guard members.count == ms.count else { return nil }
        return IncidentContext(person: person, members: members, policy: p)
    }

    static func encode(_ t: TimeOfDay) -> JSONValue { .number(Double(t.minutes)) }
    static func time(_ v: JSONValue?) -> TimeOfDay? { v?.exactInt.map { TimeOfDay(minutes: $0) } }

    static func encode(_ m: Member) -> JSONValue {
        var o: JSONObject = ["id": .string(m.id), "name": .string(m.name), "role": .string(m.role.rawValue),
                             "language": .string(m.language), "consent": .bool(m.consent.given)]
        if let r = m.relationship { o["relationship"] = .string(r) }
        o["contacts"] = .array(m.contacts.map { ["notifier": .string($0.notifier), "address": .string($0.address), "answers": .string($0.answers.rawValue)] })
        o["availability"] = .array(m.availability.map { ["days": .array($0.days.sorted().map { .number(Double($0)) }), "from": encode($0.from), "to": encode($0.to)] })
        if let a = m.awayUntil { o["awayUntil"] = .string(RFC3339.format(a)) }
        if let q = m.quietHours { o["quietHours"] = ["from": encode(q.from), "to": encode(q.to), "criticalOverride": .bool(q.criticalOverride)] }
        return .object(o)
    }

    static func member(_ v: JSONValue) -> Member? {
        guard let id = v["id"]?.stringValue, let name = v["name"]?.stringValue,
              let role = v["role"]?.stringValue.flatMap(Role.init(rawValue:)), let consent = v["consent"]?.boolValue else { return nil }
        var contacts: [Contact] = []
        for c in v["contacts"]?.arrayValue ?? [] {
            guard let n = c["notifier"]?.stringValue, let a = c["address"]?.stringValue else { return nil }
            contacts.append(Contact(notifier: n, address: a, answers: c["answers"]?.stringValue.flatMap(AnswerPath.init(rawValue:)) ?? .none))
        }
        var windows: [AvailabilityWindow] = []
        for w in v["availability"]?.arrayValue ?? [] {
            guard let from = time(w["from"]), let to = time(w["to"]) else { return nil }
            windows.append(AvailabilityWindow(days: Set((w["days"]?.arrayValue ?? []).compactMap(\.exactInt)), from: from, to: to))
        }
        var quiet: QuietHours?
        if let q = v["quietHours"] {
            guard let from = time(q["from"]), let to = time(q["to"]) else { return nil }
            quiet = QuietHours(from: from, to: to, criticalOverride: q["criticalOverride"]?.boolValue ?? true)
        }
        return Member(id: id, name: name, role: role, relationship: v["relationship"]?.stringValue, contacts: contacts,
                      availability: windows, awayUntil: v["awayUntil"]?.stringValue.flatMap(RFC3339.parse), quietHours: quiet,
                      consent: Consent(given: consent), language: v["language"]?.stringValue ?? "en")
    }

    static func encode(_ p: Policy) -> JSONValue {
        var o: JSONObject = ["kind": .string(p.kind), "selfCancelSeconds": .number(Double(p.selfCancelSeconds)),
                             "ackTimeoutSeconds": .number(Double(p.ackTimeoutSeconds)), "rePages": .number(Double(p.rePages)),
                             "twoResponders": .bool(p.twoResponders), "claimMarginSeconds": .number(Double(p.claimMarginSeconds)),
                             "defaultEtaMinutes": .number(Double(p.defaultEtaMinutes)),
                             "arrivalWindowSeconds": .number(Double(p.arrivalWindowSeconds)), "digestOnly": .bool(p.digestOnly),
                             "groupWindowSeconds": .number(Double(p.groupWindowSeconds)), "inhibits": .array(p.inhibits.map { .string($0) })]
        if let s = p.severity { o["severity"] = .string(s.rawValue) }
        o["tiers"] = .array(p.tiers.map { t in
            ["members": .array(t.members.map { .string($0) }), "roles": .array(t.roles.map { .string($0.rawValue) }),
             "after": .number(Double(t.afterSeconds)), "repeatEvery": .number(Double(t.repeatEverySeconds)),
             "repeatCount": .number(Double(t.repeatCount))]
        })
        return .object(o)
    }

    static func policy(_ v: JSONValue) -> Policy? {
        func int(_ k: String) -> Int? { v[k]?.exactInt }
        guard let kind = v["kind"]?.stringValue, let selfCancel = int("selfCancelSeconds"), let ack = int("ackTimeoutSeconds"),
              let rePages = int("rePages"), let margin = int("claimMarginSeconds"), let eta = int("defaultEtaMinutes"),
              let window = int("arrivalWindowSeconds"), let group = int("groupWindowSeconds"), let tiers = v["tiers"]?.arrayValue else { return nil }
        var p = Policy(kind: kind)
        p.severity = v["severity"]?.stringValue.flatMap(Severity.init(rawValue:))
        p.selfCancelSeconds = selfCancel; p.ackTimeoutSeconds = ack; p.rePages = rePages
        p.twoResponders = v["twoResponders"]?.boolValue ?? false; p.claimMarginSeconds = margin; p.defaultEtaMinutes = eta
        p.arrivalWindowSeconds = window; p.digestOnly = v["digestOnly"]?.boolValue ?? false; p.groupWindowSeconds = group
        p.inhibits = (v["inhibits"]?.arrayValue ?? []).compactMap(\.stringValue)
        p.tiers = []
        for t in tiers {
            guard let after = t["after"]?.exactInt else { return nil }
            p.tiers.append(Tier(members: (t["members"]?.arrayValue ?? []).compactMap(\.stringValue),
                                roles: (t["roles"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Role.init(rawValue:)) },
                                afterSeconds: after, repeatEverySeconds: t["repeatEvery"]?.exactInt ?? 0,
                                repeatCount: t["repeatCount"]?.exactInt ?? 0))
        }
        return p
    }
}
