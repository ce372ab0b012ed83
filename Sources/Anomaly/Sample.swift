/// The vocabulary shared by ingest and the detectors: what a sensor reading is once it has been decoded.
///
/// A `Sample` is a trivially copyable value (no references, no `String`) so that it can cross the lock-free ring
/// from the MQTT thread to the detector thread without allocation or reference counting.

/// A dense per-home integer naming one signal of one device (resolved once per topic, never per sample).
public struct SignalID: Hashable, Sendable, BitwiseCopyable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public var description: String { "signal#\(rawValue)" }
}

/// What a signal measures, in our canonical vocabulary. The raw value is the name `explain` prints.
public enum SignalKind: UInt8, Sendable, BitwiseCopyable, CaseIterable, CustomStringConvertible {
    case motion             // bool: movement / occupancy / presence seen
    case contact            // bool: true = closed (door/window shut), false = open
    case button             // string state: the action pressed ("single", "double", "long"…)
    case sos                // bool: an SOS / emergency button pressed
    case fall               // bool: a vendor fall event (radar, watch)
    case waterLeak          // bool: water detected
    case smoke              // bool: smoke alarm
    case carbonMonoxide     // bool: CO alarm
    case temperature        // °C
    case humidity           // %
    case pressure           // hPa
    case illuminance        // lux
    case power              // W (active power)
    case energy             // kWh
    case voltage            // V
    case current            // A
    case applianceOn        // bool: a relay / plug / appliance is on
    case battery            // %
    case batteryVoltage     // V
    case linkQuality        // 0…255 (Zigbee LQI) or % (Wi-Fi quality)
    case availability       // bool: the device or bridge reports itself online
    case latitude           // degrees
    case longitude          // degrees
    case locationAccuracy   // m
    case region             // string state: "enter:<region>" / "leave:<region>"
    case vibration          // bool: vibration / tamper / tilt action
    case heartRate          // bpm
    case spo2               // %
    case acceleration       // a triple (x, y, z) in g
    case tamper             // bool
    case state              // string state not covered above (e.g. a Home Assistant entity state)
    case measurement        // a number of a kind we have no name for (unit kept)

    /// The canonical name, as printed by `explain` and written in configs.
    public var description: String {
        switch self {
        case .motion: "motion"
        case .contact: "contact"
        case .button: "button"
        case .sos: "sos"
        case .fall: "fall"
        case .waterLeak: "water_leak"
        case .smoke: "smoke"
        case .carbonMonoxide: "carbon_monoxide"
        case .temperature: "temperature"
        case .humidity: "humidity"
        case .pressure: "pressure"
        case .illuminance: "illuminance"
        case .power: "power"
        case .energy: "energy"
        case .voltage: "voltage"
        case .current: "current"
        case .applianceOn: "appliance_on"
        case .battery: "battery"
        case .batteryVoltage: "battery_voltage"
        case .linkQuality: "link_quality"
        case .availability: "availability"
        case .latitude: "latitude"
        case .longitude: "longitude"
        case .locationAccuracy: "location_accuracy"
        case .region: "region"
        case .vibration: "vibration"
        case .heartRate: "heart_rate"
        case .spo2: "spo2"
        case .acceleration: "acceleration"
        case .tamper: "tamper"
        case .state: "state"
        case .measurement: "measurement"
        }
    }

    public init?(name: String) {
        guard let kind = SignalKind.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }

    /// Readings of these kinds are alarms or protection-state changes: low rate, and never dropped by a full ring.
    /// Button presses are among them: a button may be her SOS button (`detectors.alarms.sosButtons`).
    @inlinable public var isAlarm: Bool {
        switch self {
        case .sos, .fall, .smoke, .carbonMonoxide, .waterLeak, .availability, .button: true
        default: false
        }
    }
}

/// One decoded reading on its way to the detectors.
///
/// `value` holds scalars (booleans as 0/1, interned string states as their code); an acceleration sample holds its
/// three axes in g in `x`, `y`, `z`. `time` is the sample's own timestamp in seconds since the Unix epoch (the
/// payload's time when it carries one, else the arrival time stamped by the source).
public struct Sample: Sendable, BitwiseCopyable, Equatable {
    public var time: Double
    public var value: Double
    public var x: Float
    public var y: Float
    public var z: Float
    public var signal: SignalID

    @inlinable
    public init(signal: SignalID, time: Double, value: Double) {
        self.time = time; self.value = value; self.x = 0; self.y = 0; self.z = 0; self.signal = signal
    }

    @inlinable
    public init(signal: SignalID, time: Double, x: Float, y: Float, z: Float) {
        self.time = time; self.value = 0; self.x = x; self.y = y; self.z = z; self.signal = signal
    }
}
