import CareSupport

/// One incident as `careMonitord incidents` shows it: its timeline and response times against telecare targets.
public struct IncidentReport: Sendable, Equatable {
    public var id: String
    public var person: String
    public var kind: String
    public var openedAt: WallTime
    public var state: String
    public var closedBy: String?
    /// Every event line of the incident, in order.
    public var timeline: [EventLine]
    /// Seconds from the first page to a member until the first answer (claim or decline) from the circle.
    public var firstAckSeconds: Int?
    /// Seconds from opening until the first claim.
    public var claimSeconds: Int?
    /// Seconds from opening until someone arrived.
    public var arrivalSeconds: Int?
    /// Answered within the target (nil while unanswered).
    public var answeredWithinTarget: Bool?
    /// Attended within the target (nil while nobody arrived; false once the target has passed without arrival).
    public var attendedWithinTarget: Bool?
}

/// One line of `careMonitord disclosures`: who was told what about the person, when, through what.
public struct Disclosure: Sendable, Equatable {
    public var time: WallTime
    public var incident: String
    public var member: String
    public var notifier: String
    public var text: String
}

/// Read-only questions answered from a person's journal records (`IncidentJournal.read`).
public enum JournalQuery {
    static func lines(_ records: [JSONValue]) -> [EventLine] {
        records.flatMap { ($0["lines"]?.arrayValue ?? []).compactMap(EventLine.init(json:)) }
    }

    /// Incidents opened at or after `since`, oldest first. `now` decides whether an open incident has already
    /// missed its attendance target.
    public static func incidents(_ records: [JSONValue], since: WallTime? = nil, targets: ResponseTargets = ResponseTargets(),
                                 now: WallTime? = nil) -> [IncidentReport] {
        var byID: [String: [EventLine]] = [:]
        var order: [String] = []
        for l in lines(records) {
            if byID[l.incident] == nil { order.append(l.incident) }
            byID[l.incident, default: []].append(l)
        }
        var out: [IncidentReport] = []
        for id in order {
            let tl = byID[id]!
            guard case let .incident(opened, _, person, kind, _, _)? = tl.first(where: { if case .incident = $0 { true } else { false } }) else { continue }
            if let since, opened < since { continue }
            var state = "opened", closedBy: String?
            var firstPage: WallTime?, firstAck: WallTime?, claim: WallTime?, arrival: WallTime?
            for l in tl {
                switch l {
                case let .incident(t, _, _, _, s, by):
                    state = s
                    if s == "claimed" && claim == nil { claim = t }
                    if s == "arrived" && arrival == nil { arrival = t }
                    if ["resolved", "cancelled", "stood-down"].contains(s) { closedBy = by }
                case let .notification(t, _, _, _, tier, _):
                    if tier > 0 && firstPage == nil { firstPage = t }
                case let .ack(t, _, member, action, _):
                    if member != person && (action == "claim" || action == "decline") && firstAck == nil { firstAck = t }
                }
            }
            func secs(_ a: WallTime?, _ b: WallTime?) -> Int? {
                guard let a, let b else { return nil }
                return Int((b.milliseconds - a.milliseconds) / 1000)
            }
            let ackS = secs(firstPage, firstAck)
            let arriveS = secs(opened, arrival)
            var attended: Bool? = arriveS.map { $0 <= targets.attendedMinutes * 60 }
            if attended == nil, let now, !["resolved", "cancelled", "stood-down"].contains(state),
               (now.milliseconds - opened.milliseconds) / 1000 > Int64(targets.attendedMinutes * 60) { attended = false }
            out.append(IncidentReport(id: id, person: person, kind: kind, openedAt: opened, state: state, closedBy: closedBy,
                                      timeline: tl, firstAckSeconds: ackS, claimSeconds: secs(opened, claim),
                                      arrivalSeconds: arriveS, answeredWithinTarget: ackS.map { $0 <= targets.answeredSeconds },
                                      attendedWithinTarget: attended))
        }
        return out
    }

    /// Every message about the person, oldest first: the transparency log.
    public static func disclosures(_ records: [JSONValue], since: WallTime? = nil) -> [Disclosure] {
        lines(records).compactMap { l in
            guard case let .notification(t, incident, member, notifier, _, text) = l else { return nil }
            if let since, t < since { return nil }
            return Disclosure(time: t, incident: incident, member: member, notifier: notifier, text: text)
        }
    }
}
