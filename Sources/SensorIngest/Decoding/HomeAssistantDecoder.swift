import Anomaly
import CareSupport

/// Home Assistant over MQTT: discovery (`<prefix>/<domain>/[<node>/]<object>/config`, state topics beside it), MQTT
/// statestream (`<base>/<domain>/<entity>/state` as plain text and `…/<attribute>` JSON-encoded) and the users' own
/// MQTT state topics (`home-assistant/window/contact` with `{"state":"ON"}`).
///
/// - `…/config` (discovery) and statestream metadata (`last_changed`, `last_updated`, `friendly_name`,
///   `unit_of_measurement`, `icon`, `device_class`…): recognised from the topic, not read, no reading.
/// - `…/availability`, `<prefix>/status`: `online`/`offline` → availability.
/// - A state (`…/state`, or any other topic): `unavailable` → availability false; `unknown` → nothing. On/off values
///   of `switch`, `light`, `fan`, `input_boolean` → appliance_on; of other entities the device class (in a JSON
///   state's `attributes`) or the words of the entity id / attribute / topic level give the meaning (`motion`,
///   `door`/`window`/`contact` where ON = open → contact false, `moisture`/`leak` → water_leak, `smoke`, `fall`,
///   `sos`…), else a boolean `state`. Numbers: unit (`°F` converted, `bpm` → heart_rate, `%` with `spo2`/`oxygen`
///   → spo2, `%` with `battery` → battery…) and words (`temperature`, `humidity`, `heart_rate`…), else a
///   `measurement` keeping the unit. Other text → a text `state`.
/// - A JSON object without `state` (`{"temperature": 23.20, "humidity": 43.70}`): each member whose name means
///   something (same words) is a reading; other members are ignored.
/// Attribute topics (statestream) put the attribute name in the reading's channel.
public struct HomeAssistantDecoder: PayloadDecoder {
    public let name = "homeassistant"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    static let domains: Set<Substring> = [
        "binary_sensor", "sensor", "switch", "light", "fan", "lock", "cover", "climate", "device_tracker", "person",
        "input_boolean", "input_number", "input_select", "input_text", "alarm_control_panel", "event", "button", "number",
        "select", "text", "vacuum", "media_player", "water_heater", "humidifier", "valve", "siren", "scene", "update",
        "zone", "sun", "weather", "automation", "script", "camera", "device_automation", "tag", "lawn_mower", "counter",
        "timer", "image", "notify", "plant",
    ]
    static let applianceDomains: Set<Substring> = ["switch", "light", "fan", "input_boolean", "siren", "humidifier"]

    /// Statestream attributes that describe an entity rather than measure anything.
    static let metadata: Set<Substring> = [
        "last_changed", "last_updated", "last_reported", "friendly_name", "unit_of_measurement", "icon", "device_class",
        "state_class", "entity_picture", "supported_features", "attribution", "restored", "editable", "id", "user_id",
        "options", "min", "max", "step", "mode", "entity_id", "assumed_state", "context", "supported_color_modes",
        "color_mode", "initial", "pattern", "source", "gps_accuracy_unit", "device_trackers", "event_types",
    ]

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let n = levels.count
        let last = levels[n - 1]
        if last == "config" && n >= 3 { return .noReading }
        if n >= 3 && Self.metadata.contains(last) { return .noReading }
        if last == "availability" || (n == 2 && last == "status") { return try availability(payload) }

        let isState = last == "state"
        let entity = n >= 2 ? levels[n - 2] : last
        let attribute: Substring? = isState ? nil : last
        // The entity's domain: the level before the entity (statestream and discovery both put it there).
        let domain: Substring? = n >= 3 && Self.domains.contains(levels[n - 3]) ? levels[n - 3]
            : (n >= 4 && Self.domains.contains(levels[n - 4]) ? levels[n - 4] : nil)
        let primary = SignalNames.words(String(attribute ?? entity))
        let fallback = attribute == nil ? [] : SignalNames.words(String(entity))
        let channel = attribute.map(String.init)

        let value = try PayloadReading.jsonOrPlain(payload, options)
        switch value {
        case .object(let o):
            if let state = o["state"] {
                let attributes = o["attributes"]?.objectValue
                let unit = attributes?["unit_of_measurement"]?.stringValue
                let deviceClass = attributes?["device_class"]?.stringValue
                var readings = try scalar(state, field: "state", words: primary, fallback: fallback, domain: domain,
                                          unit: unit, deviceClass: deviceClass, channel: nil)
                for m in o.members where m.key != "state" && m.key != "attributes" {
                    readings += try member(m)
                }
                return DecodedMessage(readings: readings)
            }
            var readings: [Reading] = []
            for m in o.members { readings += try member(m) }
            return DecodedMessage(readings: readings)
        case .array:
            if attribute != nil && domain != nil { return .noReading }   // list-valued statestream attribute
            throw DecodeError(.wrongType, "expected a state (text, number or JSON object), found an array")
        default:
            return DecodedMessage(readings: try scalar(value, field: "", words: primary, fallback: fallback, domain: domain,
                                                       unit: nil, deviceClass: nil, channel: channel))
        }
    }

    func availability(_ payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let value = try PayloadReading.jsonOrPlain(payload, options)
        var raw = value, field = ""
        if case .object(let o) = value, let s = o["state"] { raw = s; field = "state" }
        let on: Bool
        switch raw {
        case .string(let s):
            switch s.lowercased() {
            case "online", "available", "on", "true": on = true
            case "offline", "unavailable", "off", "false": on = false
            default: throw DecodeError(.outOfRange, "availability: expected online or offline, found \"\(s.clipped)\"")
            }
        case .bool(let b): on = b
        default: throw FieldValue.wrong("availability", "online or offline", raw)
        }
        return DecodedMessage(readings: [Reading(signal: .availability, value: .bool(on), field: field, raw: raw)])
    }

    /// A member of a JSON state object, named by its key.
    func member(_ m: JSONObject.Member) throws(DecodeError) -> [Reading] {
        let words = SignalNames.words(m.key)
        switch m.value {
        case .number, .string:
            if case .string(let s) = m.value, PayloadReading.numberLiteral(s) == nil { return [] }
            guard let v = try FieldValue.number(m.value, m.key), let meaning = SignalNames.numeric(words: words, unit: nil) else { return [] }
            return [Reading(signal: meaning.signal, value: .number(try meaning.conversion.apply(v, m.key)), unit: meaning.unit, field: m.key, raw: m.value)]
        case .bool(let b):
            guard let meaning = SignalNames.binary(words) else { return [] }
            return [Reading(signal: meaning.signal, value: .bool(meaning.value(on: b)), field: m.key, raw: m.value)]
        default:
            return []
        }
    }

    static let onWords: Set<String> = ["on", "true", "open", "opened", "detected", "wet", "occupied"]
    static let offWords: Set<String> = ["off", "false", "closed", "close", "clear", "dry", "not_occupied"]

    /// One state value with the names that give it meaning.
    func scalar(_ raw: JSONValue, field: String, words: [String], fallback: [String], domain: Substring?, unit: String?,
                deviceClass: String?, channel: String?) throws(DecodeError) -> [Reading] {
        var on: Bool?
        var number: Double?
        var text: String?
        switch raw {
        case .null: return []
        case .bool(let b): on = b
        case .number(let n):
            guard n.value.isFinite else { throw DecodeError(.outOfRange, "`\(field.isEmpty ? "state" : field)`: \(n.text) is not finite") }
            number = n.value
        case .string(let s):
            let lower = s.lowercased()
            if lower == "unavailable" {
                return [Reading(signal: .availability, value: .bool(false), field: field, raw: raw, channel: channel)]
            }
            if lower.isEmpty || lower == "unknown" || lower == "none" { return [] }
            if Self.onWords.contains(lower) { on = true }
            else if Self.offWords.contains(lower) { on = false }
            else if let n = PayloadReading.numberLiteral(s), n.value.isFinite { number = n.value }
            else { text = s }
        case .array, .object:
            throw FieldValue.wrong(field.isEmpty ? "state" : field, "a state value", raw)
        }
        let classWords = deviceClass.map(SignalNames.deviceClass)
        if let on {
            if let domain, Self.applianceDomains.contains(domain) {
                return [Reading(signal: .applianceOn, value: .bool(on), field: field, raw: raw, channel: channel)]
            }
            var meaning = classWords.flatMap(SignalNames.binary) ?? SignalNames.binary(words) ?? SignalNames.binary(fallback)
            if meaning == nil, case .string(let s) = raw, ["open", "opened", "closed", "close"].contains(s.lowercased()) {
                meaning = SignalNames.Binary(signal: .contact, onMeansOpen: true)
            }
            if let meaning {
                return [Reading(signal: meaning.signal, value: .bool(meaning.value(on: on)), field: field, raw: raw, channel: channel)]
            }
            return [Reading(signal: .state, value: .bool(on), field: field, raw: raw, channel: channel)]
        }
        if let number {
            let meaning = classWords.flatMap { SignalNames.numeric(words: $0, unit: unit) }
                ?? SignalNames.numeric(words: words, unit: unit) ?? SignalNames.numeric(words: fallback, unit: unit)
            if let meaning {
                return [Reading(signal: meaning.signal, value: .number(try meaning.conversion.apply(number, field)), unit: meaning.unit,
                                field: field, raw: raw, channel: channel)]
            }
            return [Reading(signal: .measurement, value: .number(number), unit: unit, field: field, raw: raw, channel: channel)]
        }
        return [Reading(signal: .state, value: .text(text ?? ""), field: field, raw: raw, channel: channel)]
    }
}
