import CareSupport

public enum Severity: String, Sendable, CaseIterable, Comparable {
    case info, warning, critical
    var rank: Int { switch self { case .info: 0; case .warning: 1; case .critical: 2 } }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// What the executable hands to Escalation when a detector raises or clears something. Escalation does not know
/// what produced it: `kind` is a plain string ("fall", "inactivity", "door-left-open").
public struct Alert: Sendable, Equatable {
    public enum State: String, Sendable { case raised, cleared }
    public var person: String
    public var kind: String
    public var severity: Severity
    public var state: State
    public var time: WallTime
    public var device: String?
    public var detail: String

    public init(person: String, kind: String, severity: Severity, state: State = .raised, time: WallTime,
                device: String? = nil, detail: String = "") {
        self.person = person; self.kind = kind; self.severity = severity; self.state = state; self.time = time
        self.device = device; self.detail = detail
    }
}

/// An answer from a member (or the person) about an incident, from any channel: the MQTT ack topic, an ntfy
/// button, an SMS reply, a Pushover receipt, `careMonitord ack`.
public struct Ack: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        case claim, decline, arrived, resolve, cancel
    }
    public var incident: String
    public var member: String
    public var action: Action
    /// Minutes until the member expects to be there (claims only).
    public var etaMinutes: Int?
    /// Where it came from ("mqtt", "ntfy", "sms", …), for the log.
    public var via: String

    public init(incident: String, member: String, action: Action, etaMinutes: Int? = nil, via: String = "mqtt") {
        self.incident = incident; self.member = member; self.action = action; self.etaMinutes = etaMinutes; self.via = via
    }

    /// Decodes the ack topic's payload `{"member","action":"claim|decline|arrived|resolve|cancel","eta":minutes}`
    /// (topic `caremonitord/<person>/incidents/<id>/ack`; the incident id comes from the topic).
    public static func decode(incident: String, payload: [UInt8], via: String = "mqtt") -> Result<Ack, AckDecodingError> {
        let v: JSONValue
        do { v = try JSONParser.parse(payload) } catch {
            return .failure(AckDecodingError(message: "the ack is not JSON (\(error)); send {\"member\":ID,\"action\":\"claim\",\"eta\":10}"))
        }
        guard let member = v["member"]?.stringValue, !member.isEmpty else {
            return .failure(AckDecodingError(message: "the ack has no \"member\" string"))
        }
        guard let a = v["action"]?.stringValue, let action = Action(rawValue: a) else {
            return .failure(AckDecodingError(message: "the ack's \"action\" must be one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        var eta: Int?
        if let e = v["eta"], !e.isNull {
            guard let d = e.doubleValue, d >= 0, d < 24 * 60 else {
                return .failure(AckDecodingError(message: "the ack's \"eta\" must be minutes from 0 to 1439"))
            }
            eta = Int(d.rounded())
        }
        return .success(Ack(incident: incident, member: member, action: action, etaMinutes: eta, via: via))
    }
}

public struct AckDecodingError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// What the home's own sensors say about someone arriving, forwarded by the executable.
public enum HomeEvidence: String, Sendable, Equatable {
    /// The front door opened.
    case doorOpened = "door-opened"
    /// Presence (motion, a voice) inside after the door opened.
    case presence
    /// A button in the home pressed by a responder ("I'm here").
    case homeButton = "home-button"
}
