import CareSupport

/// The daily digest: routine kinds (`digestOnly` policies, `info` alerts) collected during the day and sent once a
/// day, at a local time, to the members it names.
///
/// Config (top level, and per policy for its own kinds):
/// ```json
/// "digest": {"at": "18:00", "members": ["anna"], "roles": ["family"]}
/// ```
/// - `at`: local time in the person's time zone (default 18:00).
/// - `members` / `roles`: who receives it; neither given means every `family` member. A digest-only policy sends
///   its kinds to its own `digest.members`/`digest.roles`, or else to the members its `tiers` name, or else to these.
public struct DigestSettings: Sendable, Equatable {
    public var at: TimeOfDay
    public var recipients: Tier
    public init(at: TimeOfDay = TimeOfDay(minutes: 18 * 60), recipients: Tier = Tier(roles: [.family])) {
        self.at = at; self.recipients = recipients
    }
}

/// "Is the gateway alive?": a daily message to every `technical` member, and optionally an HTTP GET to a
/// dead-man's-switch URL (healthchecks.io style) every so often, so that someone outside the home notices when the
/// gateway is dead or offline (the service alerts when the pings stop).
///
/// Config:
/// ```json
/// "heartbeat": {"at": "09:00", "url": "https://hc-ping.com/<uuid>", "every": 300}
/// ```
/// - `at`: local time of the daily message to `technical` members (default 09:00; no technical member, no message).
/// - `url`: pinged with GET; a string or `{"file": PATH}` (systemd `LoadCredential=`). The URL embeds a token: it
///   is never logged, only its scheme and host.
/// - `every`: seconds between pings (default 300, 30 to 86400), on the monotonic clock.
public struct HeartbeatSettings: Sendable, Equatable {
    public var at: TimeOfDay
    public var url: Secret?
    public var everySeconds: Int
    public init(at: TimeOfDay = TimeOfDay(minutes: 9 * 60), url: Secret? = nil, everySeconds: Int = 300) {
        self.at = at; self.url = url; self.everySeconds = everySeconds
    }
}

/// A weekly test page to a member: a marked "TEST ONLY" message they answer like a page. An unanswered test is
/// logged at warning and reported to the `technical` members.
///
/// Config: `circle.weeklyTest` for everyone, `circle.members[].weeklyTest` to override (`false` opts a member out,
/// `true` takes the circle's setting or the defaults):
/// ```json
/// "weeklyTest": {"day": "sat", "at": "11:00", "answerMinutes": 60}
/// ```
/// - `day`: sun … sat (default sat); `at`: local time (default 11:00); `answerMinutes`: 5 to 1440 (default 60).
///
/// A test due while an incident is open waits until no incident is open (the same day).
public struct WeeklyTest: Sendable, Equatable {
    /// 0 = Sunday … 6 = Saturday.
    public var day: Int
    public var at: TimeOfDay
    public var answerMinutes: Int
    public init(day: Int = 6, at: TimeOfDay = TimeOfDay(minutes: 11 * 60), answerMinutes: Int = 60) {
        self.day = day; self.at = at; self.answerMinutes = answerMinutes
    }
}

extension EscalationConfig {
    /// `{"at", "members", "roles"}` (a top-level or a policy's `digest`). Returns the time (nil when not given) and
    /// the recipients (nil when neither members nor roles are given).
    static func decodeDigest(_ o: JSONObject, _ p: String, _ r: inout ConfigReader, members: [Member]) -> (TimeOfDay?, Tier?) {
        r.allowOnly(o, ["at", "members", "roles"], p)
        var at: TimeOfDay?
        if let s = r.string(o, "at", p) {
            if let t = TimeOfDay(s), t.minutes < 1440 { at = t } else { r.fail("\(p).at", "expected a time HH:MM (\"18:00\"), found \"\(s)\"") }
        }
        let ids = r.stringList(o, "members", p)
        for (k, id) in ids.enumerated() where !members.contains(where: { $0.id == id }) {
            r.fail("\(p).members[\(k)]", "no circle member has id \"\(id)\"; members: \(members.map(\.id).joined(separator: ", "))")
        }
        let roles = decodeRoles(o, "roles", p, &r)
        return (at, ids.isEmpty && roles.isEmpty ? nil : Tier(members: ids, roles: roles))
    }

    static func decodeRoles(_ o: JSONObject, _ key: String, _ p: String, _ r: inout ConfigReader) -> [Role] {
        var roles: [Role] = []
        for (k, s) in r.stringList(o, key, p).enumerated() {
            if let x = Role(rawValue: s) { roles.append(x) } else {
                r.fail("\(p).\(key)[\(k)]", "unknown role \"\(s)\"; roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        return roles
    }

    static func decodeHeartbeat(_ o: JSONObject, _ p: String, _ r: inout ConfigReader) -> HeartbeatSettings {
        r.allowOnly(o, ["at", "url", "every"], p)
        var h = HeartbeatSettings()
        if let s = r.string(o, "at", p) {
            if let t = TimeOfDay(s), t.minutes < 1440 { h.at = t } else { r.fail("\(p).at", "expected a time HH:MM (\"09:00\"), found \"\(s)\"") }
        }
        if let u = r.secret(o, "url", p) {
            let text = String(u.reveal().filter { !$0.isWhitespace })
            if let (scheme, host) = HeartbeatPinger.schemeAndHost(text), scheme == "http" || scheme == "https", !host.isEmpty {
                h.url = Secret(text)
            } else {
                // Never echo the URL: it embeds the check's token.
                r.fail("\(p).url", "expected an http or https URL such as https://hc-ping.com/<uuid>")
            }
        }
        h.everySeconds = r.int(o, "every", p, default: 300, range: 30...86400)
        return h
    }

    /// A member's or the circle's `weeklyTest`: an object, or (members only) `true`/`false`.
    static func decodeWeeklyTest(_ v: JSONValue?, _ p: String, _ r: inout ConfigReader, inherited: WeeklyTest?,
                                 allowBool: Bool) -> WeeklyTest? {
        guard let v, !v.isNull else { return inherited }
        if allowBool, let b = v.boolValue { return b ? (inherited ?? WeeklyTest()) : nil }
        guard let o = v.objectValue else {
            r.fail(p, allowBool ? "expected true, false or {\"day\": \"sat\", \"at\": \"11:00\", \"answerMinutes\": 60}, found \(v.typeName)"
                                : "expected {\"day\": \"sat\", \"at\": \"11:00\", \"answerMinutes\": 60}, found \(v.typeName)")
            return inherited
        }
        r.allowOnly(o, ["day", "at", "answerMinutes"], p)
        var w = inherited ?? WeeklyTest()
        if let d = r.string(o, "day", p) {
            if let x = AvailabilityWindow.dayNames.firstIndex(of: d.lowercased()) { w.day = x } else {
                r.fail("\(p).day", "unknown day \"\(d)\"; use \(AvailabilityWindow.dayNames.joined(separator: ", "))")
            }
        }
        if let s = r.string(o, "at", p) {
            if let t = TimeOfDay(s), t.minutes < 1440 { w.at = t } else { r.fail("\(p).at", "expected a time HH:MM (\"11:00\"), found \"\(s)\"") }
        }
        w.answerMinutes = r.int(o, "answerMinutes", p, default: w.answerMinutes, range: 5...1440)
        return w
    }
}
