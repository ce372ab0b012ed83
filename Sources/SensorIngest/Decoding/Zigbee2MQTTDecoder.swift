import Anomaly
import CareSupport

/// Zigbee2MQTT (`zigbee2mqtt/<friendly name>`, JSON output, 1.x and 2.x).
///
/// Topics:
/// - `<base>/<friendly name>`: the device's state object; each known key becomes a reading, unknown keys are ignored,
///   `null` values (Zigbee2MQTT's "unknown") are skipped.
/// - `<base>/<friendly name>/availability`: `{"state":"online"|"offline"}` (2.x) or plain `online`/`offline` (legacy).
/// - `<base>/bridge/state`: the bridge's availability (its last will), JSON or plain.
/// - `<base>/bridge/…` (event, info, devices, groups, logging, response, request…), `…/set`, `…/get`: recognised from
///   the topic, not read, no reading.
/// - `<base>/<friendly name>/<attribute>` with a plain value (`output: attribute`): the attribute as a reading.
///
/// Keys (Zigbee2MQTT's exposes): `occupancy`/`presence` → motion, `contact` (true = closed, as ours), `water_leak`,
/// `smoke`, `carbon_monoxide`, `tamper`, `vibration`, `sos`, fall keys (`fall`, `fall_down_status`, `fall_status`…),
/// `action`, or legacy `click` when there is no `action` (button words; `emergency`/`sos`/`panic` → sos;
/// `vibration`/`tilt`/`drop` → vibration when no `vibration` key; `fall` → fall; `""` is the reset after a press), `temperature` °C, `humidity` %, `pressure` hPa, `illuminance_lux` (1.x, preferred) else
/// `illuminance` lux, `battery` %, `voltage` (≥ 1000 or with `battery`: battery mV → `battery_voltage` V; otherwise
/// mains V), `power` W, `energy` kWh, `current` A, `state` ON/OFF → appliance_on, `linkquality`, `co2` ppm.
/// `last_seen` (ISO 8601 with zone, or epoch ms) is the message time: the bridge stamps it from its own clock.
/// Ignored as noise or diagnostics: `power_outage_count`, `device_temperature`, `angle*`, `strength`, `update`…
public struct Zigbee2MQTTDecoder: PayloadDecoder {
    public let name = "zigbee2mqtt"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let last = levels.last.map(String.init) ?? ""
        if levels.count >= 2, levels[1] == "bridge" {
            if levels.count == 3, last == "state" { return try availability(payload, field: "state") }
            return .noReading
        }
        if levels.count >= 3, last == "set" || last == "get" { return .noReading }
        if levels.count >= 3, last == "availability" { return try availability(payload, field: "state") }

        let value = try PayloadReading.jsonOrPlain(payload, options)
        switch value {
        case .object(let object):
            return try decodeState(object)
        default:
            // `output: attribute`: the last topic level names the attribute.
            guard levels.count >= 3 else {
                throw DecodeError(.wrongType, "expected the device state as a JSON object, found \(value.typeName)")
            }
            let message = try decodeState(JSONObject([JSONObject.Member(key: last, value: value)]))
            guard !message.readings.isEmpty else {
                throw DecodeError(.wrongType, "expected the device state as a JSON object, found \(value.typeName) on an attribute "
                    + "topic `\(last)` that is not a known Zigbee2MQTT attribute")
            }
            return message
        }
    }

    func availability(_ payload: UnsafeRawBufferPointer, field: String) throws(DecodeError) -> DecodedMessage {
        let value = try PayloadReading.jsonOrPlain(payload, options)
        let raw: JSONValue
        let path: String
        if case .object(let o) = value {
            guard let state = o["state"] else { throw DecodeError(.missingField, "availability: expected {\"state\":\"online\"|\"offline\"}") }
            raw = state; path = field
        } else {
            raw = value; path = ""
        }
        guard case .string(let s) = raw else { throw FieldValue.wrong(path.isEmpty ? "payload" : path, "\"online\" or \"offline\"", raw) }
        switch s.lowercased() {
        case "online": return DecodedMessage(readings: [Reading(signal: .availability, value: .bool(true), field: path, raw: raw)])
        case "offline": return DecodedMessage(readings: [Reading(signal: .availability, value: .bool(false), field: path, raw: raw)])
        default: throw DecodeError(.outOfRange, "availability: expected \"online\" or \"offline\", found \"\(s.clipped)\"")
        }
    }

    func decodeState(_ object: JSONObject) throws(DecodeError) -> DecodedMessage {
        var readings: [Reading] = []
        let hasLux = object["illuminance_lux"].map { !$0.isNull } ?? false
        let hasVibrationKey = object["vibration"].map { !$0.isNull } ?? false
        let hasBattery = object["battery"].map { !$0.isNull } ?? false
        var time: Double?

        func add(_ signal: SignalKind, _ value: ReadingValue, _ unit: String?, _ key: String, _ raw: JSONValue) {
            readings.append(Reading(signal: signal, value: value, unit: unit, field: key, raw: raw))
        }

        for member in object.members {
            let key = member.key, raw = member.value
            switch key {
            case "occupancy", "presence":
                if let b = try FieldValue.bool(raw, key) { add(.motion, .bool(b), nil, key, raw) }
            case "contact":
                if let b = try FieldValue.bool(raw, key) { add(.contact, .bool(b), nil, key, raw) }
            case "water_leak":
                if let b = try FieldValue.bool(raw, key) { add(.waterLeak, .bool(b), nil, key, raw) }
            case "smoke":
                if let b = try FieldValue.bool(raw, key) { add(.smoke, .bool(b), nil, key, raw) }
            case "carbon_monoxide":
                if let b = try FieldValue.bool(raw, key) { add(.carbonMonoxide, .bool(b), nil, key, raw) }
            case "tamper":
                if let b = try FieldValue.bool(raw, key) { add(.tamper, .bool(b), nil, key, raw) }
            case "vibration":
                if let b = try FieldValue.bool(raw, key) { add(.vibration, .bool(b), nil, key, raw) }
            case "sos", "emergency":
                if let b = try FieldValue.bool(raw, key) { add(.sos, .bool(b), nil, key, raw) }
            case "fall", "fall_detected":
                if let b = try FieldValue.bool(raw, key) { add(.fall, .bool(b), nil, key, raw) }
            case "fall_down_status", "fall_status", "fall_detection_status", "fall_state", "fall_detection":
                // Vendors spell these as words, booleans or codes (0 = none).
                switch raw {
                case .bool(let b): add(.fall, .bool(b), nil, key, raw)
                case .number(let n): add(.fall, .bool(n.value != 0), nil, key, raw)
                default: if let s = try FieldValue.string(raw, key) { add(.fall, .bool(SignalNames.isFallWord(s)), nil, key, raw) }
                }
            case "action", "click":
                // Legacy payloads carry `click`, and with `legacy: true` both keys for one press.
                if key == "click", let action = object["action"], !action.isNull { continue }
                guard let s = try FieldValue.string(raw, key) else { continue }
                let word = s.lowercased()
                switch word {
                case "emergency", "sos", "panic", "sos_pressed":
                    add(.sos, .bool(true), nil, key, raw)
                case "vibration", "tilt", "drop", "shake":
                    if !hasVibrationKey { add(.vibration, .bool(true), nil, key, raw) }
                case "fall", "fall_detected":
                    add(.fall, .bool(true), nil, key, raw)
                default:
                    add(.button, .text(word), nil, key, raw)
                }
            case "temperature":
                if let v = try FieldValue.number(raw, key) { add(.temperature, .number(v), "°C", key, raw) }
            case "humidity":
                if let v = try FieldValue.number(raw, key) { add(.humidity, .number(v), "%", key, raw) }
            case "pressure":
                if let v = try FieldValue.number(raw, key) { add(.pressure, .number(v), "hPa", key, raw) }
            case "illuminance_lux":
                if let v = try FieldValue.number(raw, key) { add(.illuminance, .number(v), "lux", key, raw) }
            case "illuminance":
                // Zigbee2MQTT 1.x sent a raw `illuminance` beside `illuminance_lux`; 2.x sends lux in `illuminance`.
                if let v = try FieldValue.number(raw, key), !hasLux { add(.illuminance, .number(v), "lux", key, raw) }
            case "battery":
                if let v = try FieldValue.number(raw, key) { add(.battery, .number(v), "%", key, raw) }
            case "voltage":
                guard let v = try FieldValue.number(raw, key) else { continue }
                if v >= 1000 || hasBattery {
                    add(.batteryVoltage, .number(v / 1000), "V", key, raw)
                } else {
                    add(.voltage, .number(v), "V", key, raw)
                }
            case "power":
                if let v = try FieldValue.number(raw, key) { add(.power, .number(v), "W", key, raw) }
            case "energy":
                if let v = try FieldValue.number(raw, key) { add(.energy, .number(v), "kWh", key, raw) }
            case "current":
                if let v = try FieldValue.number(raw, key) { add(.current, .number(v), "A", key, raw) }
            case "linkquality":
                if let v = try FieldValue.number(raw, key) { add(.linkQuality, .number(v), nil, key, raw) }
            case "co2":
                if let v = try FieldValue.number(raw, key) { add(.measurement, .number(v), "ppm", key, raw) }
            case "state":
                // ON/OFF of a plug, switch or light; covers and locks say OPEN/LOCK…, which are not appliances.
                if case .bool(let b) = raw { add(.applianceOn, .bool(b), nil, key, raw); continue }
                guard let s = try FieldValue.string(raw, key) else { continue }
                switch s.uppercased() {
                case "ON": add(.applianceOn, .bool(true), nil, key, raw)
                case "OFF": add(.applianceOn, .bool(false), nil, key, raw)
                default: continue
                }
            case "last_seen":
                switch raw {
                case .string(let s): time = EpochTime.iso8601(s)
                case .number(let n) where EpochTime.isPlausible(n.value / 1000): time = n.value / 1000
                default: break
                }
            default:
                continue
            }
        }
        return DecodedMessage(readings: readings, time: time)
    }
}
