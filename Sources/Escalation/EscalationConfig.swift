import CareSupport

/// Everything Escalation needs for one home: the person, the circle, the policies, the notifier instances, the
/// journal and the response targets. Decoded from the `escalation` part of the daemon's config.
public struct EscalationConfig: Sendable {
    public var person: PersonProfile
    public var members: [Member]
    public var policies: PolicySet
    /// Configured notifier instances by name (a contact's `notifier`).
    public var notifiers: [String: any NotifierConfiguration]
    public var journal: JournalSettings
    public var targets: ResponseTargets
    /// When and to whom the daily digest goes (`digest`).
    public var digest: DigestSettings
    /// The daily heartbeat to `technical` members and the optional heartbeat URL ping (`heartbeat`).
    public var heartbeat: HeartbeatSettings
    /// Paths of secrets written inline in the config (`check-config` warns: use a file or a credential).
    public var inlineSecrets: [String] = []

    public init(person: PersonProfile, members: [Member] = [], policies: PolicySet = PolicySet(),
                notifiers: [String: any NotifierConfiguration] = [:], journal: JournalSettings = JournalSettings(),
                targets: ResponseTargets = ResponseTargets(), digest: DigestSettings = DigestSettings(),
                heartbeat: HeartbeatSettings = HeartbeatSettings()) {
        self.person = person; self.members = members; self.policies = policies; self.notifiers = notifiers
        self.journal = journal; self.targets = targets; self.digest = digest; self.heartbeat = heartbeat
    }

    public func member(_ id: String) -> Member? { members.first { $0.id == id } }

    public static let supportedLanguages = ["en"]

    /// Parses and decodes a config file's text; syntax errors and every field problem come back as one error.
    public static func decode(text: String, file: String? = nil, registry: NotifierRegistry = .standard)
        -> Result<EscalationConfig, EscalationConfigError> {
        let doc: JSONDocument
        do { doc = try JSONParser.parseDocument(Array(text.utf8)) } catch {
            return .failure(EscalationConfigError(file: file, issues: [ConfigIssue(path: "", message: error.message, position: error.position)]))
        }
        return decode(doc.root, positions: doc.positions, file: file, registry: registry)
    }

    /// Decodes from a parsed value, collecting every problem in one pass.
    ///
    /// Top-level keys: `person`, `circle` (`members`, `weeklyTest`), `policies`, `notifiers`, `journal`, `targets`,
    /// `digest` (`DigestSettings`: `at`, `members`, `roles`), `heartbeat` (`HeartbeatSettings`: `at`, `url`,
    /// `every`). A member may have `weeklyTest` (`WeeklyTest`: `day`, `at`, `answerMinutes`, or true/false); a
    /// policy may have `digest` (`at`, `members`, `roles`) for its digest-only kinds.
    public static func decode(_ root: JSONValue, positions: [String: JSONPosition] = [:], file: String? = nil,
                              registry: NotifierRegistry = .standard) -> Result<EscalationConfig, EscalationConfigError> {
        var r = ConfigReader(positions: positions)
        let config = decode(root, reader: &r, registry: registry)
        if r.issues.isEmpty, let config { return .success(config) }
        return .failure(EscalationConfigError(file: file, issues: r.issues))
    }

    static func decode(_ root: JSONValue, reader r: inout ConfigReader, registry: NotifierRegistry) -> EscalationConfig? {
        guard let top = r.object(root, "") else {
            if root.isNull { r.fail("", "expected an object") }
            return nil
        }
        r.allowOnly(top, ["person", "circle", "policies", "notifiers", "journal", "targets", "digest", "heartbeat"], "")

        // notifiers first: contacts are checked against them.
        var notifiers: [String: any NotifierConfiguration] = [:]
        if let n = r.object(top["notifiers"], "notifiers") {
            for m in n.members {
                let p = "notifiers.\(m.key)"
                guard let settings = r.object(m.value, p) else { if m.value.isNull { r.fail(p, "expected an object") }; continue }
                let kindName = settings["kind"]?.stringValue ?? m.key
                guard let kind = registry.kind(kindName) else {
                    r.fail(settings["kind"] == nil ? p : "\(p).kind",
                           "unknown notifier kind \"\(kindName)\"; known kinds: \(registry.names.joined(separator: ", "))")
                    continue
                }
                if let c = kind.decode(m.key, settings, p, &r) { notifiers[m.key] = c }
            }
        }

        // person
        var person = PersonProfile(id: "person", name: "the person")
        if let p = r.object(top["person"], "person") {
            r.allowOnly(p, ["id", "name", "timezone", "language", "contacts", "pronouns"], "person")
            person.id = r.string(p, "id", "person", required: true) ?? person.id
            person.name = r.string(p, "name", "person") ?? person.id
            if let tz = r.string(p, "timezone", "person") {
                if let z = ZoneInfo(identifier: tz) { person.timeZone = z } else {
                    r.fail("person.timezone", "unknown time zone \"\(tz)\"; use an IANA name such as \"Europe/London\"")
                }
            }
            person.language = language(p, "person", &r) ?? "en"
            if let pr = r.string(p, "pronouns", "person") {
                if let v = Pronouns(rawValue: pr) { person.pronouns = v } else {
                    r.fail("person.pronouns", "\"\(pr)\" is not one of \(Pronouns.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            person.contacts = contacts(p, "person", &r, notifiers: &notifiers, registry: registry)
        }

        // circle
        var members: [Member] = []
        if let c = r.object(top["circle"], "circle") {
            r.allowOnly(c, ["members", "weeklyTest"], "circle")
            let weekly = decodeWeeklyTest(c["weeklyTest"], "circle.weeklyTest", &r, inherited: nil, allowBool: false)
            for (i, v) in r.array(c, "members", "circle").enumerated() {
                let p = "circle.members[\(i)]"
                guard let m = r.object(v, p) else { continue }
                if var member = decodeMember(m, p, &r, person: person, notifiers: &notifiers, registry: registry) {
                    member.weeklyTest = decodeWeeklyTest(m["weeklyTest"], "\(p).weeklyTest", &r, inherited: weekly, allowBool: true)
                    if members.contains(where: { $0.id == member.id }) || member.id == person.id {
                        r.fail("\(p).id", "\"\(member.id)\" is already used; member ids must be unique and differ from person.id")
                    } else { members.append(member) }
                }
            }
        }

        // policies
        var policies: [Policy] = []
        for (i, v) in r.array(top, "policies", "").enumerated() {
            let p = "policies[\(i)]"
            guard let o = r.object(v, p) else { continue }
            if let policy = decodePolicy(o, p, &r, members: members) { policies.append(policy) }
        }

        var journal = JournalSettings()
        if let j = r.object(top["journal"], "journal") {
            r.allowOnly(j, ["retentionDays"], "journal")
            journal.retentionDays = r.int(j, "retentionDays", "journal", default: 365, range: 1...3650)
        }
        var targets = ResponseTargets()
        if let t = r.object(top["targets"], "targets") {
            r.allowOnly(t, ["answeredSeconds", "attendedMinutes"], "targets")
            targets.answeredSeconds = r.int(t, "answeredSeconds", "targets", default: 60, range: 1...3600)
            targets.attendedMinutes = r.int(t, "attendedMinutes", "targets", default: 45, range: 1...1440)
        }
        var digest = DigestSettings()
        if let d = r.object(top["digest"], "digest") {
            let (at, to) = decodeDigest(d, "digest", &r, members: members)
            if let at { digest.at = at }
            if let to { digest.recipients = to }
        }
        var heartbeat = HeartbeatSettings()
        if let h = r.object(top["heartbeat"], "heartbeat") { heartbeat = decodeHeartbeat(h, "heartbeat", &r) }
        var config = EscalationConfig(person: person, members: members, policies: PolicySet(policies), notifiers: notifiers,
                                      journal: journal, targets: targets, digest: digest, heartbeat: heartbeat)
        config.inlineSecrets = r.inlineSecrets
        return config
    }

    static func language(_ o: JSONObject, _ path: String, _ r: inout ConfigReader) -> String? {
        guard let l = r.string(o, "language", path) else { return nil }
        guard supportedLanguages.contains(l) else {
            r.fail(ConfigReader.join(path, "language"), "unsupported language \"\(l)\"; supported: \(supportedLanguages.joined(separator: ", "))")
            return nil
        }
        return l
    }

    static func contacts(_ o: JSONObject, _ path: String, _ r: inout ConfigReader,
                         notifiers: inout [String: any NotifierConfiguration], registry: NotifierRegistry) -> [Contact] {
        var out: [Contact] = []
        for (i, v) in r.array(o, "contacts", path).enumerated() {
            let p = "\(path).contacts[\(i)]"
            guard let c = r.object(v, p) else { continue }
            r.allowOnly(c, ["notifier", "address"], p)
            guard let n = r.string(c, "notifier", p, required: true) else { continue }
            let address = r.string(c, "address", p) ?? ""
            if notifiers[n] == nil {
                // A kind named directly gets an instance with its defaults, when it has usable ones.
                guard let kind = registry.kind(n) else {
                    let configured = notifiers.keys.sorted()
                    r.fail("\(p).notifier", "unknown notifier \"\(n)\"; configured: \(configured.isEmpty ? "none" : configured.joined(separator: ", ")); "
                        + "known kinds: \(registry.names.joined(separator: ", "))")
                    continue
                }
                var sub = ConfigReader()
                if let c = kind.decode(n, JSONObject(), "notifiers.\(n)", &sub), sub.issues.isEmpty { notifiers[n] = c } else {
                    r.fail("\(p).notifier", "notifier \"\(n)\" needs settings under notifiers.\(n): "
                        + sub.issues.map(\.message).joined(separator: "; "))
                    continue
                }
            }
            if let problem = notifiers[n]?.validate(address: address) {
                r.fail("\(p).address", problem)
                continue
            }
            out.append(Contact(notifier: n, address: address, answers: notifiers[n]?.answerPath(for: address) ?? .none))
        }
        return out
    }

    static func decodeMember(_ m: JSONObject, _ p: String, _ r: inout ConfigReader, person: PersonProfile,
                             notifiers: inout [String: any NotifierConfiguration], registry: NotifierRegistry) -> Member? {
        r.allowOnly(m, ["id", "name", "role", "relationship", "contacts", "availability", "awayUntil", "quietHours",
                        "consent", "language", "weeklyTest"], p)
        let id = r.string(m, "id", p, required: true)
        let name = r.string(m, "name", p) ?? id ?? ""
        var role = Role.family
        if let rs = r.string(m, "role", p, required: true) {
            if let x = Role(rawValue: rs) { role = x } else {
                r.fail("\(p).role", "unknown role \"\(rs)\"; roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        let relationship = r.string(m, "relationship", p)
        let contacts = contacts(m, p, &r, notifiers: &notifiers, registry: registry)
        var windows: [AvailabilityWindow] = []
        for (j, v) in r.array(m, "availability", p).enumerated() {
            let wp = "\(p).availability[\(j)]"
            guard let w = r.object(v, wp) else { continue }
            r.allowOnly(w, ["days", "from", "to"], wp)
            var days: Set<Int> = []
            for (k, d) in r.stringList(w, "days", wp).enumerated() {
                if let x = AvailabilityWindow.dayNames.firstIndex(of: d.lowercased()) { days.insert(x) } else {
                    r.fail("\(wp).days[\(k)]", "unknown day \"\(d)\"; use \(AvailabilityWindow.dayNames.joined(separator: ", "))")
                }
            }
            if let from = timeOfDay(w, "from", wp, &r), let to = timeOfDay(w, "to", wp, &r) {
                windows.append(AvailabilityWindow(days: days, from: from, to: to))
            }
        }
        var away: WallTime?
        if let a = r.string(m, "awayUntil", p) {
            if let t = RFC3339.parse(a) { away = t } else {
                r.fail("\(p).awayUntil", "expected a date (2026-12-01) or an RFC 3339 time (2026-12-01T08:00:00Z), found \"\(a)\"")
            }
        }
        var quiet: QuietHours?
        if let q = r.object(m["quietHours"], "\(p).quietHours") {
            let qp = "\(p).quietHours"
            r.allowOnly(q, ["from", "to", "criticalOverride"], qp)
            if let from = timeOfDay(q, "from", qp, &r), let to = timeOfDay(q, "to", qp, &r) {
                quiet = QuietHours(from: from, to: to, criticalOverride: r.bool(q, "criticalOverride", qp, default: true))
            }
        }
        var consent = Consent(given: false)
        if let c = m["consent"] {
            if let b = c.boolValue { consent.given = b } else if let o = r.object(c, "\(p).consent") {
                r.allowOnly(o, ["given", "at"], "\(p).consent")
                consent.given = r.bool(o, "given", "\(p).consent", default: false)
                if let at = r.string(o, "at", "\(p).consent") {
                    if let t = RFC3339.parse(at) { consent.recordedAt = t } else { r.fail("\(p).consent.at", "expected a date, found \"\(at)\"") }
                }
            }
        } else {
            r.fail("\(p).consent", "is required: record whether this member agreed to be paged ({\"given\": true, \"at\": \"2026-01-10\"}); a member who has not agreed is never paged")
        }
        let lang = language(m, p, &r) ?? person.language
        guard let id else { return nil }
        return Member(id: id, name: name, role: role, relationship: relationship, contacts: contacts, availability: windows,
                      awayUntil: away, quietHours: quiet, consent: consent, language: lang)
    }

    static func timeOfDay(_ o: JSONObject, _ key: String, _ path: String, _ r: inout ConfigReader) -> TimeOfDay? {
        guard let s = r.string(o, key, path, required: true) else { return nil }
        guard let t = TimeOfDay(s) else { r.fail(ConfigReader.join(path, key), "expected a time HH:MM (\"22:30\"), found \"\(s)\""); return nil }
        return t
    }

    static func decodePolicy(_ o: JSONObject, _ p: String, _ r: inout ConfigReader, members: [Member]) -> Policy? {
        r.allowOnly(o, ["kind", "severity", "selfCancelSeconds", "tiers", "ackTimeoutSeconds", "rePages", "twoResponders",
                        "claimMarginSeconds", "defaultEtaMinutes", "arrivalWindowSeconds", "digestOnly", "groupWindowSeconds",
                        "inhibits", "digest"], p)
        let kind = r.string(o, "kind", p, required: true)
        var severity: Severity?
        if let s = r.string(o, "severity", p) {
            if let x = Severity(rawValue: s) { severity = x } else {
                r.fail("\(p).severity", "unknown severity \"\(s)\"; use info, warning or critical (or leave it out for any)")
            }
        }
        var tiers: [Tier] = []
        let tierValues = r.array(o, "tiers", p)
        for (i, v) in tierValues.enumerated() {
            let tp = "\(p).tiers[\(i)]"
            guard let t = r.object(v, tp) else { continue }
            r.allowOnly(t, ["members", "roles", "after", "repeat"], tp)
            let ids = r.stringList(t, "members", tp)
            for (k, id) in ids.enumerated() where !members.contains(where: { $0.id == id }) {
                r.fail("\(tp).members[\(k)]", "no circle member has id \"\(id)\"; members: \(members.map(\.id).joined(separator: ", "))")
            }
            let roles = decodeRoles(t, "roles", tp, &r)
            if ids.isEmpty && roles.isEmpty { r.fail(tp, "a tier needs \"members\" or \"roles\"") }
            var every = 0, count = 0
            if let rep = r.object(t["repeat"], "\(tp).repeat") {
                r.allowOnly(rep, ["every", "count"], "\(tp).repeat")
                every = r.int(rep, "every", "\(tp).repeat", default: 300, range: 30...86400)
                count = r.int(rep, "count", "\(tp).repeat", default: 1, range: 0...100)
            }
            tiers.append(Tier(members: ids, roles: roles, afterSeconds: r.int(t, "after", tp, default: 0, range: 0...86400),
                              repeatEverySeconds: every, repeatCount: count))
        }
        for i in tiers.indices.dropFirst() where tiers[i].afterSeconds < tiers[i - 1].afterSeconds {
            r.fail("\(p).tiers[\(i)].after", "tiers must be in order of \"after\" (\(tiers[i].afterSeconds) < \(tiers[i - 1].afterSeconds))")
        }
        let base = Policy(kind: kind ?? "*")
        var digestAt: TimeOfDay?, digestTo: Tier?
        if let d = r.object(o["digest"], "\(p).digest") { (digestAt, digestTo) = decodeDigest(d, "\(p).digest", &r, members: members) }
        let digestOnly = r.bool(o, "digestOnly", p, default: false)
        if digestTo == nil && digestOnly && !tiers.isEmpty {
            // A digest-only policy pages nobody: the members its tiers name are who receive its digest.
            var t = Tier()
            for x in tiers { t.members += x.members.filter { !t.members.contains($0) }; t.roles += x.roles.filter { !t.roles.contains($0) } }
            digestTo = t
        }
        guard let kind else { return nil }
        return Policy(
            kind: kind, severity: severity,
            selfCancelSeconds: r.int(o, "selfCancelSeconds", p, default: 0, range: 0...3600),
            tiers: tierValues.isEmpty ? base.tiers : tiers,
            ackTimeoutSeconds: r.int(o, "ackTimeoutSeconds", p, default: base.ackTimeoutSeconds, range: 10...86400),
            rePages: r.int(o, "rePages", p, default: base.rePages, range: 0...20),
            twoResponders: r.bool(o, "twoResponders", p, default: false),
            claimMarginSeconds: r.int(o, "claimMarginSeconds", p, default: base.claimMarginSeconds, range: 0...86400),
            defaultEtaMinutes: r.int(o, "defaultEtaMinutes", p, default: base.defaultEtaMinutes, range: 1...1440),
            arrivalWindowSeconds: r.int(o, "arrivalWindowSeconds", p, default: base.arrivalWindowSeconds, range: 10...3600),
            digestOnly: digestOnly,
            groupWindowSeconds: r.int(o, "groupWindowSeconds", p, default: base.groupWindowSeconds, range: 0...86400),
            inhibits: r.stringList(o, "inhibits", p), digestAt: digestAt, digestRecipients: digestTo)
    }
}

public struct JournalSettings: Sendable, Equatable {
    /// Health data older than this is deleted on start (closed incidents only).
    public var retentionDays: Int = 365
    public init(retentionDays: Int = 365) { self.retentionDays = retentionDays }
}

/// Telecare response targets that `incidents` reports against.
public struct ResponseTargets: Sendable, Equatable {
    public var answeredSeconds: Int = 60
    public var attendedMinutes: Int = 45
    public init(answeredSeconds: Int = 60, attendedMinutes: Int = 45) {
        self.answeredSeconds = answeredSeconds; self.attendedMinutes = attendedMinutes
    }
}
