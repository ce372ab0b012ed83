/// One step of escalation: who is paged, how long after escalation starts, and how often they are paged again
/// while nobody has answered.
public struct Tier: Sendable, Equatable {
    public var members: [String]
    public var roles: [Role]
    /// Seconds after escalation starts (after the self-cancel window).
    public var afterSeconds: Int
    /// Re-page this tier's silent members every so many seconds, `repeatCount` times (0 = never).
    public var repeatEverySeconds: Int
    public var repeatCount: Int

    public init(members: [String] = [], roles: [Role] = [], afterSeconds: Int = 0, repeatEverySeconds: Int = 0,
                repeatCount: Int = 0) {
        self.members = members; self.roles = roles; self.afterSeconds = afterSeconds
        self.repeatEverySeconds = repeatEverySeconds; self.repeatCount = repeatCount
    }

    /// Members of this tier in config order: named ones first, then those with a listed role.
    public func resolve(in circle: [Member]) -> [Member] {
        var out: [Member] = []
        for id in members { if let m = circle.first(where: { $0.id == id }), !out.contains(m) { out.append(m) } }
        for m in circle where roles.contains(m.role) && !out.contains(m) { out.append(m) }
        return out
    }
}

/// How one kind (and optionally one severity) of alert is escalated.
public struct Policy: Sendable, Equatable {
    /// The detection kind, or "*" for any kind.
    public var kind: String
    /// nil matches any severity.
    public var severity: Severity?
    /// Seconds the person has to say "I'm fine" before anyone else is paged (0 = page at once).
    public var selfCancelSeconds: Int
    public var tiers: [Tier]
    /// Seconds a paged member has to claim or decline before they are paged again on their next contact.
    public var ackTimeoutSeconds: Int
    /// How many times one member is re-paged after an ack timeout.
    public var rePages: Int
    /// Keep paging until two people have claimed, or a monitoring centre has.
    public var twoResponders: Bool
    /// A claim expires when nobody has arrived by ETA + this margin: escalation resumes and the circle is told.
    public var claimMarginSeconds: Int
    /// The ETA assumed when a claim gives none.
    public var defaultEtaMinutes: Int
    /// Seconds after a door opening within which presence inside counts as a verified arrival.
    public var arrivalWindowSeconds: Int
    /// Routine kinds: recorded for the daily summary, never paged.
    public var digestOnly: Bool
    /// The same kind for the same person within this many seconds of an open incident joins it.
    public var groupWindowSeconds: Int
    /// Kinds whose pages are suppressed for the same person while an incident of this policy is open.
    public var inhibits: [String]
    /// Local time of this policy's digest (nil: the `digest` setting's).
    public var digestAt: TimeOfDay?
    /// Who receives this policy's digest entries (nil: the `digest` setting's recipients).
    public var digestRecipients: Tier?

    public init(kind: String, severity: Severity? = nil, selfCancelSeconds: Int = 0, tiers: [Tier] = [Tier(roles: Policy.respondingRoles)],
                ackTimeoutSeconds: Int = 300, rePages: Int = 2, twoResponders: Bool = false, claimMarginSeconds: Int = 600,
                defaultEtaMinutes: Int = 20, arrivalWindowSeconds: Int = 300, digestOnly: Bool = false,
                groupWindowSeconds: Int = 900, inhibits: [String] = [], digestAt: TimeOfDay? = nil, digestRecipients: Tier? = nil) {
        self.kind = kind; self.severity = severity; self.selfCancelSeconds = selfCancelSeconds; self.tiers = tiers
        self.ackTimeoutSeconds = ackTimeoutSeconds; self.rePages = rePages; self.twoResponders = twoResponders
        self.claimMarginSeconds = claimMarginSeconds; self.defaultEtaMinutes = defaultEtaMinutes
        self.arrivalWindowSeconds = arrivalWindowSeconds; self.digestOnly = digestOnly
        self.groupWindowSeconds = groupWindowSeconds; self.inhibits = inhibits
        self.digestAt = digestAt; self.digestRecipients = digestRecipients
    }

    /// Everyone who can go to the home; `technical` members hear about the gateway, not about the person.
    public static let respondingRoles: [Role] = [.family, .neighbour, .volunteer, .professional, .monitoringCentre]

    /// Used when no configured policy matches: page every responding member at once; `info` goes to the digest.
    public static func fallback(kind: String, severity: Severity) -> Policy {
        Policy(kind: kind, severity: severity, digestOnly: severity == .info)
    }
}

/// The policies of one home, most specific match first.
public struct PolicySet: Sendable, Equatable {
    public var policies: [Policy]
    public init(_ policies: [Policy] = []) { self.policies = policies }

    /// Kind and severity, then kind, then "*" with severity, then "*", then the fallback.
    public func policy(kind: String, severity: Severity) -> Policy {
        policies.first { $0.kind == kind && $0.severity == severity }
            ?? policies.first { $0.kind == kind && $0.severity == nil }
            ?? policies.first { $0.kind == "*" && $0.severity == severity }
            ?? policies.first { $0.kind == "*" && $0.severity == nil }
            ?? .fallback(kind: kind, severity: severity)
    }

    /// True when an open incident of kind `openKind` suppresses pages for `kind`.
    public func inhibits(openKind: String, openSeverity: Severity, kind: String) -> Bool {
        policy(kind: openKind, severity: openSeverity).inhibits.contains(kind)
    }
}
