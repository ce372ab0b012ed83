import CareSupport

/// What a detector found. The names are a fixed contract (event lines, policies in configs, dashboards): extend,
/// never rename.
public enum DetectionKind: String, Sendable, CaseIterable, Hashable {
    case fall, sos, smoke, co
    case waterLeak = "water-leak"
    case inactivity
    case notUp = "not-up"
    case bathroomDwell = "bathroom-dwell"
    case notHome = "not-home"
    case nightWandering = "night-wandering"
    case applianceLeftOn = "appliance-left-on"
    case coldHome = "cold-home"
    case hotHome = "hot-home"
    case vitalOutOfRange = "vital-out-of-range"
    case routineDrift = "routine-drift"
    case sensorSilent = "sensor-silent"
    case batteryLow = "battery-low"
    case notWorn = "not-worn"
    case deviceOffline = "device-offline"

    /// The default severity of each kind (a policy may raise or lower it).
    public var defaultSeverity: Severity {
        switch self {
        case .fall, .sos, .smoke, .co, .waterLeak, .inactivity: .critical
        case .notUp, .bathroomDwell, .notHome, .nightWandering, .applianceLeftOn, .coldHome, .hotHome,
             .vitalOutOfRange: .warning
        case .routineDrift, .sensorSilent, .batteryLow, .notWorn, .deviceOffline: .info
        }
    }

    /// Kinds about the home as a whole: their events carry `null` device and topic and name the last activity in
    /// `detail`.
    public var isHomeLevel: Bool {
        switch self {
        case .inactivity, .notUp, .notHome, .nightWandering, .routineDrift, .coldHome, .hotHome: true
        default: false
        }
    }
}

/// The words people read about each kind, in one table so that escalation never guesses from the kind's name.
extension DetectionKind {
    public var wording: KindWording {
        let fine = "Are you all right?"
        switch self {
        case .fall: return KindWording(headline: "Fall detected", question: "Did you fall?")
        case .sos: return KindWording(headline: "{name} pressed {their} help button", question: "Do you need help?")
        case .smoke:
            return KindWording(headline: "Smoke alarm", question: "The smoke alarm is sounding. Are you safe?",
                               advice: "If you cannot reach {name} at once, call the fire brigade (999 or 112). Do not go in: wait for the fire brigade outside.")
        case .co:
            return KindWording(headline: "Carbon monoxide alarm", question: "The carbon monoxide alarm is sounding. Open a door and go outside. Are you safe?",
                               advice: "Call the fire brigade (999 or 112). Do not go in: carbon monoxide can overcome you too.")
        case .waterLeak: return KindWording(headline: "Water leak", question: fine, advice: "If it is safe, turn off the water at the stopcock.")
        case .inactivity: return KindWording(headline: "No movement detected", question: fine)
        case .notUp: return KindWording(headline: "Not up at the usual time", question: "Good morning. Are you all right?")
        case .bathroomDwell: return KindWording(headline: "In the bathroom much longer than usual", question: fine)
        case .notHome: return KindWording(headline: "Not home at the usual time", question: fine)
        case .nightWandering: return KindWording(headline: "Front door opened at night", question: "It is the middle of the night. Are you all right?")
        case .applianceLeftOn: return KindWording(headline: "An appliance was left on", question: "Did you leave something on?")
        case .coldHome: return KindWording(headline: "The home is cold", question: "Your home is cold. Are you warm enough?")
        case .hotHome: return KindWording(headline: "The home is hot", question: "Your home is hot. Are you all right?")
        case .vitalOutOfRange: return KindWording(headline: "A vital sign is out of range", question: fine)
        case .routineDrift: return KindWording(headline: "The daily routine has changed", question: fine)
        case .sensorSilent: return KindWording(headline: "A sensor went silent", question: fine)
        case .batteryLow: return KindWording(headline: "A battery is low", question: fine)
        case .notWorn: return KindWording(headline: "The wristband is not worn", question: fine)
        case .deviceOffline: return KindWording(headline: "A device is offline", question: fine)
        }
    }
}

public enum Severity: String, Sendable, Comparable, CaseIterable {
    case info, warning, critical
    var rank: Int { switch self { case .info: 0; case .warning: 1; case .critical: 2 } }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

public enum DetectionState: String, Sendable {
    case raised, cleared
}

/// One detection event. Rare (never per sample), so it may carry strings and a JSON detail.
public struct Detection: Sendable, Equatable {
    /// The virtual time of the sample (or clock tick) that caused it, epoch seconds.
    public var time: Double
    public var person: String
    public var kind: DetectionKind
    public var state: DetectionState
    /// The input that caused it; nil for home-level kinds.
    public var device: String?
    public var topic: String?
    public var severity: Severity
    /// Kind-specific facts for people and for escalation ("fall detection is off since 14:00: the wristband is
    /// silent"; the last activity; the learned limit that was crossed).
    public var detail: JSONObject

    public init(time: Double, person: String, kind: DetectionKind, state: DetectionState, device: String? = nil,
                topic: String? = nil, severity: Severity? = nil, detail: JSONObject = JSONObject()) {
        self.time = time; self.person = person; self.kind = kind; self.state = state
        self.device = kind.isHomeLevel ? nil : device
        self.topic = kind.isHomeLevel ? nil : topic
        self.severity = severity ?? kind.defaultSeverity
        self.detail = detail
    }

    /// The event line (fixed contract):
    /// `{"type":"detection","time":…,"person":…,"kind":…,"state":"raised|cleared","device":…,"topic":…,
    /// "severity":"info|warning|critical","detail":{…}}`, time in RFC 3339 UTC with milliseconds.
    public var eventLine: String {
        var o = JSONObject()
        o["type"] = "detection"
        o["time"] = .string(Timestamp.rfc3339(time))
        o["person"] = .string(person)
        o["kind"] = .string(kind.rawValue)
        o["state"] = .string(state.rawValue)
        o["device"] = device.map { .string($0) } ?? .null
        o["topic"] = topic.map { .string($0) } ?? .null
        o["severity"] = .string(severity.rawValue)
        o["detail"] = .object(detail)
        return JSONWriter.serialize(.object(o))
    }
}
