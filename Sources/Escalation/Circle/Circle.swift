import CareSupport

/// What a member of the circle is to the person: decides default tiers, wording and the two-responder rule (a
/// monitoring centre's claim counts as two).
public enum Role: String, Sendable, CaseIterable, Codable {
    case family, neighbour, volunteer, professional
    case monitoringCentre = "monitoring-centre"
    case technical

    public var label: String {
        switch self {
        case .monitoringCentre: "monitoring centre"
        default: rawValue
        }
    }
}

/// One way to reach a member: a configured notifier instance and the address it understands (an ntfy topic, a
/// phone number, a Matrix room, …).
public struct Contact: Sendable, Equatable {
    public var notifier: String
    public var address: String
    /// How an answer comes back from this channel (the notifier's, fixed when the config is read).
    public var answers: AnswerPath
    public init(notifier: String, address: String, answers: AnswerPath = .none) {
        self.notifier = notifier; self.address = address; self.answers = answers
    }
}

/// How a channel takes a member's answer, so that every page tells its member truthfully how to answer.
public enum AnswerPath: String, Sendable, Equatable {
    /// Buttons that reach the daemon: an app on the ack topic (the TV app, Home Assistant), ntfy action buttons.
    case buttons
    /// A reply the daemon reads ("1" going, "2" can't): an SMS, a message in a Matrix room. The notifier says how.
    case reply
    /// Acknowledging an emergency alert means "I'm going" (Pushover); only critical pages are emergencies.
    case acknowledge
    /// Nothing reads answers here (a webhook, Gotify, e-mail, a command).
    case none
}

/// Minutes after local midnight.
public struct TimeOfDay: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var minutes: Int
    public init(minutes: Int) { self.minutes = minutes }
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
              (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 1440 else { return nil }
        minutes = h * 60 + m
    }
    public static func < (a: Self, b: Self) -> Bool { a.minutes < b.minutes }
    public var description: String { Timestamp.pad(minutes / 60, 2) + ":" + Timestamp.pad(minutes % 60, 2) }

    /// True when `t` is in [from, to), wrapping past midnight when `to` <= `from`.
    static func within(_ t: Int, from: TimeOfDay, to: TimeOfDay) -> Bool {
        from.minutes <= to.minutes ? (t >= from.minutes && t < to.minutes) : (t >= from.minutes || t < to.minutes)
    }
}

/// Local calendar facts of an instant in the home's time zone.
public struct LocalTime: Sendable, Equatable {
    /// 0 = Sunday … 6 = Saturday.
    public var weekday: Int
    public var minuteOfDay: Int
    public var hour: Int { minuteOfDay / 60 }
    public var minute: Int { minuteOfDay % 60 }
    public var hhmm: String { Timestamp.pad(hour, 2) + ":" + Timestamp.pad(minute, 2) }

    public init(weekday: Int, minuteOfDay: Int) { self.weekday = weekday; self.minuteOfDay = minuteOfDay }

    public init(_ t: WallTime, in zone: ZoneInfo) {
        let secs = t.milliseconds >= 0 ? t.milliseconds / 1000 : (t.milliseconds - 999) / 1000
        let offset = Int64(zone.offset(at: secs))
        let local = secs + offset
        let day = local >= 0 ? local / 86400 : (local - 86399) / 86400
        minuteOfDay = Int((local - day * 86400) / 60)
        weekday = Int(((day % 7) + 7 + 4) % 7) // 1970-01-01 was a Thursday
    }
}

/// When a member can be asked to go. No windows means "any time".
public struct AvailabilityWindow: Sendable, Equatable {
    /// Weekdays, 0 = Sunday … 6 = Saturday; empty means every day.
    public var days: Set<Int>
    public var from: TimeOfDay
    public var to: TimeOfDay
    public init(days: Set<Int> = [], from: TimeOfDay, to: TimeOfDay) { self.days = days; self.from = from; self.to = to }

    public func contains(_ t: LocalTime) -> Bool {
        // A window that wraps midnight belongs to the day it started on.
        let day = (from.minutes > to.minutes && t.minuteOfDay < to.minutes) ? (t.weekday + 6) % 7 : t.weekday
        return (days.isEmpty || days.contains(day)) && TimeOfDay.within(t.minuteOfDay, from: from, to: to)
    }

    public static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
}

/// Hours in which a member is not paged, unless the alert is critical and `criticalOverride` is on.
public struct QuietHours: Sendable, Equatable {
    public var from: TimeOfDay
    public var to: TimeOfDay
    public var criticalOverride: Bool
    public init(from: TimeOfDay, to: TimeOfDay, criticalOverride: Bool = true) {
        self.from = from; self.to = to; self.criticalOverride = criticalOverride
    }
    public func contains(_ t: LocalTime) -> Bool { TimeOfDay.within(t.minuteOfDay, from: from, to: to) }
}

/// A member's recorded agreement to be paged. Without it the member is never paged.
public struct Consent: Sendable, Equatable {
    public var given: Bool
    public var recordedAt: WallTime?
    public init(given: Bool, recordedAt: WallTime? = nil) { self.given = given; self.recordedAt = recordedAt }
}

/// A person in the circle of care.
public struct Member: Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: Role
    /// How the person would describe them ("daughter"); messages show it instead of the role when present.
    public var relationship: String?
    public var contacts: [Contact]
    public var availability: [AvailabilityWindow]
    public var awayUntil: WallTime?
    public var quietHours: QuietHours?
    public var consent: Consent
    public var language: String
    /// The member's weekly test page (`weeklyTest`), nil for none.
    public var weeklyTest: WeeklyTest?

    public init(id: String, name: String, role: Role, relationship: String? = nil, contacts: [Contact],
                availability: [AvailabilityWindow] = [], awayUntil: WallTime? = nil, quietHours: QuietHours? = nil,
                consent: Consent = Consent(given: true), language: String = "en", weeklyTest: WeeklyTest? = nil) {
        self.id = id; self.name = name; self.role = role; self.relationship = relationship; self.contacts = contacts
        self.availability = availability; self.awayUntil = awayUntil; self.quietHours = quietHours
        self.consent = consent; self.language = language; self.weeklyTest = weeklyTest
    }

    /// "Anna (daughter)".
    public var label: String { "\(name) (\(relationship ?? role.label))" }

    /// Why this member cannot be paged now, or nil when they can.
    public func unavailability(at t: WallTime, local: LocalTime, severity: Severity) -> Unavailability? {
        if !consent.given { return .noConsent }
        if contacts.isEmpty { return .noContact }
        if let away = awayUntil, t < away { return .away(until: away) }
        if !availability.isEmpty && !availability.contains(where: { $0.contains(local) }) { return .outsideAvailability }
        if let q = quietHours, q.contains(local), !(severity == .critical && q.criticalOverride) { return .quietHours }
        return nil
    }
}

public enum Unavailability: Sendable, Equatable, CustomStringConvertible {
    case noConsent, noContact, away(until: WallTime), outsideAvailability, quietHours
    public var description: String {
        switch self {
        case .noConsent: "has not consented to be paged"
        case .noContact: "has no contact"
        case .away(let u): "is away until \(u)"
        case .outsideAvailability: "is outside their availability"
        case .quietHours: "is in quiet hours"
        }
    }
}

/// The monitored person: their name for messages, the home's time zone, and their own channel (TV, tablet,
/// speaker) for the self-cancel window.
public struct PersonProfile: Sendable, Equatable {
    public var id: String
    public var name: String
    public var timeZone: ZoneInfo
    public var language: String
    public var contacts: [Contact]
    public var pronouns: Pronouns
    public init(id: String, name: String, timeZone: ZoneInfo = ZoneInfo(identifier: "UTC")!, language: String = "en",
                contacts: [Contact] = [], pronouns: Pronouns = .they) {
        self.id = id; self.name = name; self.timeZone = timeZone; self.language = language; self.contacts = contacts
        self.pronouns = pronouns
    }
}

/// How messages refer to the person ("Linda pressed her help button").
public enum Pronouns: String, Sendable, Equatable, CaseIterable {
    case she, he, they
    public var possessive: String {
        switch self {
        case .she: "her"
        case .he: "his"
        case .they: "their"
        }
    }
}
