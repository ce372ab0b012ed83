/// What to do with an incoming alert, given the person's incidents: open one, group it into an open one, suppress
/// it (inhibition), put it in the daily digest, or clear an open incident. Pure, like the incident itself.
public enum AlertRouting: Sendable, Equatable {
    case open
    /// The same kind is already open for the person: one incident.
    case group(into: String)
    /// A late duplicate of an incident that was closed after this alert happened.
    case duplicate(of: String)
    /// An open incident's policy suppresses this kind (an open fall suppresses inactivity).
    case inhibited(by: String)
    /// A routine kind: recorded for the daily summary, never paged.
    case digest
    case clear(String)
    /// A clear with no open incident of that kind.
    case ignore
    /// The person's own "I'm fine" (a long press of her help button) while her self-check was open: it answered
    /// these incidents instead of raising a new one.
    case answeredSelfCheck([String])
}

public struct IncidentSummary: Sendable, Equatable {
    public var id: String
    public var kind: String
    public var severity: Severity
    public var isClosed: Bool
    public var closedAt: WallTime?
    public init(id: String, kind: String, severity: Severity, isClosed: Bool, closedAt: WallTime? = nil) {
        self.id = id; self.kind = kind; self.severity = severity; self.isClosed = isClosed; self.closedAt = closedAt
    }
    public init(_ i: Incident) {
        self.init(id: i.id, kind: i.kind, severity: i.severity, isClosed: i.isClosed, closedAt: i.closedAt)
    }
}

public enum IncidentRouter {
    /// How far behind the present an alert must be to be a late duplicate (a detection that arrived after its
    /// incident closed), rather than a new event on a clock stepped back.
    static let latenessMilliseconds: Int64 = 10_000

    /// `incidents` are the person's incidents, oldest first; `now` is when the alert reaches the engine.
    public static func route(_ alert: Alert, incidents: [IncidentSummary], policies: PolicySet, now: WallTime? = nil) -> AlertRouting {
        let open = incidents.filter { !$0.isClosed }
        if alert.state == .cleared {
            return open.last(where: { $0.kind == alert.kind }).map { .clear($0.id) } ?? .ignore
        }
        if let same = open.last(where: { $0.kind == alert.kind }) { return .group(into: same.id) }
        let policy = policies.policy(kind: alert.kind, severity: alert.severity)
        if let closed = incidents.last(where: { $0.isClosed && $0.kind == alert.kind }), let at = closed.closedAt,
           alert.time <= at, at.milliseconds - alert.time.milliseconds <= Int64(policy.groupWindowSeconds) * 1000,
           now.map({ $0.milliseconds - alert.time.milliseconds > latenessMilliseconds }) ?? true {
            return .duplicate(of: closed.id)
        }
        if let inhibitor = open.first(where: { policies.inhibits(openKind: $0.kind, openSeverity: $0.severity, kind: alert.kind) }) {
            return .inhibited(by: inhibitor.id)
        }
        if policy.digestOnly { return .digest }
        return .open
    }
}

extension IncidentRouter {
    /// Open incidents that an incident of `kind` opening now takes over: those whose kind its policy inhibits (an
    /// open inactivity incident when a fall opens). They stand down; the new incident carries the response.
    public static func superseded(byKind kind: String, severity: Severity, incidents: [IncidentSummary], except id: String,
                                  policies: PolicySet) -> [String] {
        incidents.filter { !$0.isClosed && $0.id != id && policies.inhibits(openKind: kind, openSeverity: severity, kind: $0.kind) }
            .map(\.id)
    }
}
