import Anomaly
import CareSupport

/// A reading's value in our units (°C, %, lux, g, W, V…). Booleans keep the stack's meaning made explicit
/// (`contact: true` = closed; `motion: true` = movement seen). `series` is one axis of an accelerometer batch.
public enum ReadingValue: Sendable, Equatable {
    case number(Double)
    case bool(Bool)
    case text(String)
    case series([Double])

    public var json: JSONValue {
        switch self {
        case .number(let d): .number(d)
        case .bool(let b): .bool(b)
        case .text(let s): .string(s)
        case .series(let a): .array(a.map { .number($0) })
        }
    }
}

/// One reading decoded from one MQTT message, with the stack's own words kept beside ours.
public struct Reading: Sendable, Equatable {
    /// Our canonical name for what is measured.
    public var signal: SignalKind
    /// The value in our units.
    public var value: ReadingValue
    /// Our unit ("°C", "%", "lux", "g", "W", "V", "hPa", "bpm", "m"…); nil for booleans and states.
    public var unit: String?
    /// The stack's own field path in the payload (`contact`, `StatusSNS.ENERGY.Power`, `params.switch:0.apower`,
    /// `x`); `""` when the whole payload is the value (plain-text topics).
    public var field: String
    /// The value exactly as in the payload.
    public var raw: JSONValue
    /// A channel below the device when one message carries several sensors of the same kind
    /// (Tasmota `DS18B20-1`, Shelly `switch:0`); nil otherwise. Signals are identified by (device, channel, signal).
    public var channel: String?
    /// This reading's own time (epoch seconds) when one message carries readings taken at different times (SenML
    /// records with `t` offsets); nil means the message's time (`DecodedMessage.time`, else the arrival time).
    public var time: Double?

    public init(signal: SignalKind, value: ReadingValue, unit: String? = nil, field: String, raw: JSONValue,
                channel: String? = nil, time: Double? = nil) {
        self.signal = signal; self.value = value; self.unit = unit; self.field = field; self.raw = raw
        self.channel = channel; self.time = time
    }
}

/// What a decoder found in one message.
public struct DecodedMessage: Sendable, Equatable {
    public var readings: [Reading]
    /// The payload's own timestamp (epoch seconds) when it carries one that is trustworthy (not an uptime counter
    /// nor a device-local time without zone); nil means "stamp with the arrival time".
    public var time: Double?
    /// For accelerometer batches: the time of each sample (epoch seconds), parallel to the `series` readings.
    public var sampleTimes: [Double]?

    public init(readings: [Reading] = [], time: Double? = nil, sampleTimes: [Double]? = nil) {
        self.readings = readings; self.time = time; self.sampleTimes = sampleTimes
    }

    /// A recognised message that carries no reading (discovery config, announce, bridge events).
    public static let noReading = DecodedMessage()
}

/// Why a payload could not be decoded. Counted per source by the pipeline; never fatal.
public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case malformedJSON = "malformed-json"
        case wrongType = "wrong-type"
        case missingField = "missing-field"
        case outOfRange = "out-of-range"
        case tooLarge = "too-large"
        case unsupported = "unsupported"
    }
    public var code: Code
    /// What is wrong and, where it helps, how to fix it: names the field and what was expected.
    public var message: String

    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code.rawValue): \(message)" }
}
