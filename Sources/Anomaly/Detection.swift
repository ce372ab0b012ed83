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
