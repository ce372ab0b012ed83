import Anomaly
import CareSupport

/// ESPHome's MQTT client (`<topic_prefix>/…`, the prefix is the node name by default).
///
/// - `<prefix>/status`: `online`/`offline` (birth and last will) → availability.
/// - `<prefix>/<component>/<object_id>/state`, one entity per topic; channel = the object id:
///   - `binary_sensor` `ON`/`OFF`: the object id's words give the meaning (`motion`/`pir`/`presence` → motion,
///     `door`/`window`/`contact` → contact where ON = open, `leak`/`water` → water_leak, `smoke`, `fall`, `sos`…);
///     otherwise a boolean `state`.
///   - `sensor` number: by the object id's words (`temperature` °C, `humidity` %, `heart_rate` bpm, `spo2` %,
///     `battery`…), otherwise a `measurement` without unit (ESPHome does not publish units on state topics);
///     `nan` (no value yet) and `uptime` give no reading. Text on a `sensor` topic is a text sensor (ESPHome
///     publishes those under `sensor/`): a text `state`, or a fall state when the object id names a fall.
///   - `switch`, `light`, `fan` (`ON`/`OFF`, or the light JSON schema `{"state":"ON",…}`) → appliance_on.
///   - `event` `{"event_type":"single"}` → button. `text_sensor` and others → a text `state`.
/// - `…/command`, `<prefix>/debug`, other topics: recognised, no reading.
public struct ESPHomeDecoder: PayloadDecoder {
    public let name = "esphome"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let n = levels.count
        guard n >= 2 else { return .noReading }
        if levels[n - 1] == "status" { return try status(payload) }
        guard n >= 3, levels[n - 1] == "state" else { return .noReading }
        let component = String(levels[n - 3]), object = String(levels[n - 2])
        let words = SignalNames.words(object)
        switch component {
        case "binary_sensor":
            let raw = try PayloadReading.plain(payload, options)
            guard let on = try FieldValue.flag(raw, "\(component)/\(object)") else { return .noReading }
            if let meaning = SignalNames.binary(words) {
                return one(meaning.signal, .bool(meaning.value(on: on)), nil, raw, object)
            }
            return one(.state, .bool(on), nil, raw, object)
        case "sensor":
            let raw = try PayloadReading.plain(payload, options)
            if case .string(let s) = raw, s.lowercased() == "nan" || s.isEmpty { return .noReading }
            // Text sensors publish under `sensor/` too (their MQTT component type is "sensor").
            if case .string(let s) = raw { return text(s, raw, object, words) }
            guard let v = try FieldValue.number(raw, "\(component)/\(object)") else { return .noReading }
            if words.contains("uptime") { return .noReading }
            if let meaning = SignalNames.numeric(words: words, unit: nil) {
                return one(meaning.signal, .number(try meaning.conversion.apply(v, "\(component)/\(object)")), meaning.unit, raw, object)
            }
            return one(.measurement, .number(v), nil, raw, object)
        case "switch", "light", "fan":
            let value = try PayloadReading.jsonOrPlain(payload, options)
            var raw = value, field = ""
            if case .object(let o) = value {
                guard let state = o["state"] else { return .noReading }
                raw = state; field = "state"
            }
            guard let on = try FieldValue.flag(raw, field.isEmpty ? "\(component)/\(object)" : field) else { return .noReading }
            return DecodedMessage(readings: [Reading(signal: .applianceOn, value: .bool(on), field: field, raw: raw, channel: object)])
        case "event":
            let o = try PayloadReading.object(payload, options, what: "the event")
            guard let type = o["event_type"] else { throw DecodeError(.missingField, "event/\(object): no `event_type` member") }
            guard let s = try FieldValue.string(type, "event_type") else { return .noReading }
            return DecodedMessage(readings: [Reading(signal: .button, value: .text(s.lowercased()), field: "event_type", raw: type, channel: object)])
        default:
            let raw = try PayloadReading.plain(payload, options)
            if case .string(let s) = raw, s.isEmpty { return .noReading }
            let shown: String = switch raw {
            case .string(let s): s
            case .number(let n): n.text
            default: raw.description
            }
            return text(shown, raw, object, words)
        }
    }

    /// A text sensor's state; one named for falls (`fall_status`: `normal`, `fall`, `falling`) is a fall state.
    func text(_ s: String, _ raw: JSONValue, _ object: String, _ words: [String]) -> DecodedMessage {
        if SignalNames.binary(words)?.signal == .fall { return one(.fall, .bool(SignalNames.isFallWord(s)), nil, raw, object) }
        return one(.state, .text(s), nil, raw, object)
    }

    func status(_ payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let raw = try PayloadReading.plain(payload, options)
        guard case .string(let s) = raw else { throw FieldValue.wrong("status", "online or offline", raw) }
        switch s.lowercased() {
        case "online": return one(.availability, .bool(true), nil, raw, nil)
        case "offline": return one(.availability, .bool(false), nil, raw, nil)
        default: throw DecodeError(.outOfRange, "status: expected online or offline, found \"\(s.clipped)\"")
        }
    }

    func one(_ signal: SignalKind, _ value: ReadingValue, _ unit: String?, _ raw: JSONValue, _ channel: String?) -> DecodedMessage {
        DecodedMessage(readings: [Reading(signal: signal, value: value, unit: unit, field: "", raw: raw, channel: channel)])
    }
}
