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
    /// The words for this kind, from the table beside the detection kinds; nil gives generic words.
    public var wording: KindWording?
    /// The person's own "I'm fine" gesture (a long press of her help button): while one of her self-checks is
    /// open it answers that instead of raising this alert.
    public var answersSelfCheck = false
    /// A clear whose sign of life was the front door opening: while someone is on the way it may be them coming in,
    /// not the person recovering, so it does not stand the incident down (their arrival and answer end it).
    public var clearedAtFrontDoor = false

    public init(person: String, kind: String, severity: Severity, state: State = .raised, time: WallTime,
                device: String? = nil, detail: String = "", wording: KindWording? = nil) {
        self.person = person; self.kind = kind; self.severity = severity; self.state = state; self.time = time
        self.device = device; self.detail = detail; self.wording = wording
    }
}

extension KindWording {
    /// For a kind the table does not know: "Door-left-open alert".
    public static func generic(kind: String) -> KindWording {
        let words = kind.replacingAll("-", with: " ")
        return KindWording(headline: "\(words.prefix(1).uppercased())\(words.dropFirst()) alert", question: "Are you all right?")
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
    public private(set) var etaMinutes: Int?
    /// Where it came from ("mqtt", "ntfy", "sms", …), for the log.
    public var via: String
    /// What shows that `member` sent it.
    public var proof: Proof

    /// How an answer shows who sent it.
    public enum Proof: Sendable, Equatable {
        /// Nothing: a recorded ack, or a forgery.
        case none
        /// The token their page carried (`AnswerKey`).
        case token(String)
        /// The channel vouches for the sender: an SMS from the member's number, a Pushover receipt of their page,
        /// a Matrix message from their user id. Only notifiers set it, never a decoded payload.
        case channel
    }

    /// The longest ETA taken (a day); a reply asking for more is read as no ETA.
    public static let maximumETAMinutes = 24 * 60 - 1

    public init(incident: String, member: String, action: Action, etaMinutes: Int? = nil, via: String = "mqtt", proof: Proof = .none) {
        self.incident = incident; self.member = member; self.action = action; self.via = via; self.proof = proof
        self.etaMinutes = etaMinutes.flatMap { (0...Self.maximumETAMinutes).contains($0) ? $0 : nil }
    }

    /// Decodes the ack topic's payload `{"member","action":"claim|decline|arrived|resolve|cancel","eta":minutes,
    /// "token":…}` (topic `caremonitord/<person>/incidents/<id>/ack`; the incident id comes from the topic; the
    /// token is the one the member's page carried).
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
            guard let d = e.doubleValue, d >= 0, d <= Double(maximumETAMinutes) else {
                return .failure(AckDecodingError(message: "the ack's \"eta\" must be minutes from 0 to \(maximumETAMinutes)"))
            }
            eta = Int(d.rounded())
        }
        var proof = Proof.none
        if let t = v["token"], !t.isNull {
            guard let s = t.stringValue, !s.isEmpty, s.count <= 128 else {
                return .failure(AckDecodingError(message: "the ack's \"token\" must be the string from the page"))
            }
            proof = .token(s)
        }
        return .success(Ack(incident: incident, member: member, action: action, etaMinutes: eta, via: via, proof: proof))
    }
}

public struct AckDecodingError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
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
