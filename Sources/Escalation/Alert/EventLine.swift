import CareSupport

/// The lifecycle as the outside sees it (replay output, the daemon's `…/events` topic, the journal): one JSON object
/// a line, with exactly these keys in this order. This is a fixed contract: do not add or rename keys.
public enum EventLine: Sendable, Equatable {
    case incident(time: WallTime, incident: String, person: String, kind: String, state: String, by: String?)
    case notification(time: WallTime, incident: String, member: String, notifier: String, tier: Int, text: String)
    case ack(time: WallTime, incident: String, member: String, action: String, eta: Int?)

    public var time: WallTime {
        switch self {
        case .incident(let t, _, _, _, _, _), .notification(let t, _, _, _, _, _), .ack(let t, _, _, _, _): t
        }
    }

    public var incident: String {
        switch self {
        case .incident(_, let i, _, _, _, _), .notification(_, let i, _, _, _, _), .ack(_, let i, _, _, _): i
        }
    }

    public var json: JSONValue {
        var o = JSONObject()
        switch self {
        case let .incident(time, incident, person, kind, state, by):
            o["type"] = "incident"; o["time"] = .string(RFC3339.format(time)); o["incident"] = .string(incident)
            o["person"] = .string(person); o["kind"] = .string(kind); o["state"] = .string(state)
            if let by { o["by"] = .string(by) }
        case let .notification(time, incident, member, notifier, tier, text):
            o["type"] = "notification"; o["time"] = .string(RFC3339.format(time)); o["incident"] = .string(incident)
            o["member"] = .string(member); o["notifier"] = .string(notifier); o["tier"] = .number(Double(tier))
            o["text"] = .string(text)
        case let .ack(time, incident, member, action, eta):
            o["type"] = "ack"; o["time"] = .string(RFC3339.format(time)); o["incident"] = .string(incident)
            o["member"] = .string(member); o["action"] = .string(action)
            if let eta { o["eta"] = .number(Double(eta)) }
        }
        return .object(o)
    }

    /// The line as written (no trailing newline).
    public var line: String { JSONWriter.serialize(json) }

    /// Reads a line back (journal queries, replay checks).
    public init?(json v: JSONValue) {
        guard let type = v["type"]?.stringValue, let ts = v["time"]?.stringValue, let time = RFC3339.parse(ts),
              let incident = v["incident"]?.stringValue else { return nil }
        switch type {
        case "incident":
            guard let person = v["person"]?.stringValue, let kind = v["kind"]?.stringValue,
                  let state = v["state"]?.stringValue else { return nil }
            self = .incident(time: time, incident: incident, person: person, kind: kind, state: state, by: v["by"]?.stringValue)
        case "notification":
            guard let member = v["member"]?.stringValue, let notifier = v["notifier"]?.stringValue,
                  let tier = v["tier"]?.exactInt, let text = v["text"]?.stringValue else { return nil }
            self = .notification(time: time, incident: incident, member: member, notifier: notifier, tier: tier, text: text)
        case "ack":
            guard let member = v["member"]?.stringValue, let action = v["action"]?.stringValue else { return nil }
            self = .ack(time: time, incident: incident, member: member, action: action, eta: v["eta"]?.exactInt)
        default: return nil
        }
    }
}
