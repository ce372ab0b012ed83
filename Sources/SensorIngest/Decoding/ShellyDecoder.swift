import Anomaly
import CareSupport

/// Shelly, Gen1 (`shellies/<id>/…`, one value per topic) and Gen2/Gen3 (`<prefix>/events/rpc`, `<prefix>/status/<c>`,
/// `<prefix>/online`, JSON-RPC components).
///
/// Gen1:
/// - `…/online` `true`/`false` → availability; `…/announce`, `…/info`, `…/command`, device temperature → no reading.
/// - `…/relay/<i>` `on`/`off`/`overpower` → appliance_on; `…/relay/<i>/power` W; `…/relay/<i>/energy` (watt-minutes)
///   → kWh; `…/emeter/<i>/power|voltage|current` W/V/A, `…/emeter/<i>/energy` (watt-minutes) and `/total` (Wh) → kWh.
/// - `…/sensor/<name>`: `temperature`, `humidity`, `lux`, `battery`, `motion`, `vibration`, `flood`, `smoke`,
///   `state` (`open`/`close` → contact).
/// - `…/input/<i>` → state; `…/input_event/<i>` `{"event":"S"}` → button (`single`, `double`, `triple`, `long`…).
/// - `…/status` (Motion, Door/Window): `motion`, `vibration`, `lux`, `bat`, `state`. Its `timestamp` is not trusted
///   (Gen1 devices stamp local time as if it were UTC).
/// Gen2/Gen3, per component (channel = the component key, `switch:0`): `output` → appliance_on, `apower` W,
/// `voltage` V, `current` A, `aenergy.total` (Wh) → kWh; `temperature:<i>.tC`, `humidity:<i>.rh`,
/// `illuminance:<i>.lux`, `devicepower:<i>.battery.percent`/`.V`, `input:<i>.state`, `smoke:<i>.alarm`,
/// `flood:<i>.alarm`; `NotifyEvent` button pushes and smoke alarms. `mqtt`, `sys`, `wifi`, `cloud`… give nothing.
/// `params.ts` is trusted only when it is a plausible epoch time: before SNTP sync it counts seconds since boot.
/// Topics outside this grammar are recognised as Shelly's and give no reading.
public struct ShellyDecoder: PayloadDecoder {
    public let name = "shelly"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    /// What a topic's tail says, and where the device part of the topic ends.
    enum Kind: Equatable {
        case ignored, online, gen1Status, gen2Events, voltage
        case gen2Status(String)
        case relay(String), relayPower(String), relayEnergy(String)
        case emeter(String, String)
        case sensor(String)
        case input(String), inputEvent(String)
        case extTemperature(String), extHumidity(String)
    }

    /// Parses the topic from its end: returns the kind and the number of leading levels that name the device.
    static func parse(_ levels: [Substring]) -> (kind: Kind, deviceEnd: Int)? {
        let n = levels.count
        func isIndex(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy(\.isNumber) }
        if n >= 3, isIndex(levels[n - 2]) {
            let group = levels[n - 3], index = String(levels[n - 2]), leaf = levels[n - 1]
            switch group {
            case "relay", "light", "white", "color":
                if leaf == "power" { return (.relayPower(index), n - 3) }
                if leaf == "energy" { return (.relayEnergy(index), n - 3) }
                return (.ignored, n - 3)
            case "emeter": return (.emeter(index, String(leaf)), n - 3)
            case "roller": return (.ignored, n - 3)
            default: break
            }
        }
        if n >= 2 {
            let group = levels[n - 2], leaf = levels[n - 1]
            if group == "events" && leaf == "rpc" { return (.gen2Events, n - 2) }
            if group == "status" { return (.gen2Status(String(leaf)), n - 2) }
            if group == "sensor" { return (.sensor(String(leaf)), n - 2) }
            if group == "debug" { return (.ignored, n - 2) }
            if isIndex(leaf) {
                let index = String(leaf)
                switch group {
                case "relay", "light", "white", "color": return (.relay(index), n - 2)
                case "input": return (.input(index), n - 2)
                case "input_event": return (.inputEvent(index), n - 2)
                case "ext_temperature": return (.extTemperature(index), n - 2)
                case "ext_humidity": return (.extHumidity(index), n - 2)
                case "longpush", "roller", "adc", "ext_switch": return (.ignored, n - 2)
                default: break
                }
            }
            if group == "relay" && (leaf == "power" || leaf == "energy") {
                return (leaf == "power" ? .relayPower("0") : .relayEnergy("0"), n - 2)
            }
        }
        if n >= 1 {
            switch levels[n - 1] {
            case "online": return (.online, n - 1)
            case "status": return (.gen1Status, n - 1)
            case "voltage": return (.voltage, n - 1)
            case "announce", "info", "command", "rpc", "temperature", "temperature_f", "overtemperature", "overpower",
                 "loaderror", "settings":
                return (.ignored, n - 1)
            default: break
            }
        }
        return nil
    }

    /// The device named by a Shelly topic: the levels before the stack's suffix, without a leading `shellies`
    /// (`shellies/shellyplug-s-040BAD/relay/0` → `shellyplug-s-040BAD`; `shellies/plus1pm/events/rpc` → `plus1pm`;
    /// `shellyplus1pm-4417939341dc/status/switch:0` → `shellyplus1pm-4417939341dc`).
    static func device(topic: String) -> String {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let end = parse(levels)?.deviceEnd ?? levels.count
        var start = 0
        if end >= 2, levels[0] == "shellies" { start = 1 }
        return levels[start..<end].joined(separator: "/")
    }

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard let (kind, _) = Self.parse(levels) else { return .noReading }
        switch kind {
        case .ignored:
            return .noReading
        case .online:
            let raw = try PayloadReading.plain(payload, options)
            guard let on = try FieldValue.flag(raw, "online") else { return .noReading }
            return one(.availability, .bool(on), nil, raw)
        case .voltage:
            let raw = try PayloadReading.plain(payload, options)
            guard let v = try FieldValue.number(raw, "voltage") else { return .noReading }
            return one(.voltage, .number(v), "V", raw)
        case .relay(let i):
            let raw = try PayloadReading.plain(payload, options)
            guard case .string(let s) = raw else { throw FieldValue.wrong("relay/\(i)", "on, off or overpower", raw) }
            switch s.lowercased() {
            case "on": return one(.applianceOn, .bool(true), nil, raw, channel: "relay:\(i)")
            case "off", "overpower": return one(.applianceOn, .bool(false), nil, raw, channel: "relay:\(i)")
            default: throw DecodeError(.outOfRange, "relay/\(i): expected on, off or overpower, found \"\(s.clipped)\"")
            }
        case .relayPower(let i):
            let raw = try PayloadReading.plain(payload, options)
            guard let v = try FieldValue.number(raw, "relay/\(i)/power") else { return .noReading }
            return one(.power, .number(v), "W", raw, channel: "relay:\(i)")
        case .relayEnergy(let i):
            let raw = try PayloadReading.plain(payload, options)
            guard let v = try FieldValue.number(raw, "relay/\(i)/energy") else { return .noReading }
            return one(.energy, .number(v / 60_000), "kWh", raw, channel: "relay:\(i)")
        case .emeter(let i, let measure):
            let meaning: (SignalKind, String, Double)
            switch measure {
            case "power": meaning = (.power, "W", 1)
            case "voltage": meaning = (.voltage, "V", 1)
            case "current": meaning = (.current, "A", 1)
            case "energy": meaning = (.energy, "kWh", 1.0 / 60_000)
            case "total": meaning = (.energy, "kWh", 0.001)
            default: return .noReading
            }
            let raw = try PayloadReading.plain(payload, options)
            guard let v = try FieldValue.number(raw, "emeter/\(i)/\(measure)") else { return .noReading }
            return one(meaning.0, .number(v * meaning.2), meaning.1, raw, channel: "emeter:\(i)")
        case .sensor(let name):
            let raw = try PayloadReading.plain(payload, options)
            return try sensor(name, raw)
        case .input(let i):
            let raw = try PayloadReading.plain(payload, options)
            guard let on = try FieldValue.flag(raw, "input/\(i)") else { return .noReading }
            return one(.state, .bool(on), nil, raw, channel: "input:\(i)")
        case .inputEvent(let i):
            let object = try PayloadReading.object(payload, options, what: "the input event")
            guard let event = object["event"] else { throw DecodeError(.missingField, "input_event/\(i): no `event` member") }
            guard let code = try FieldValue.string(event, "event") else { return .noReading }
            let word = Self.gen1Events[code] ?? code.lowercased()
            return DecodedMessage(readings: [Reading(signal: .button, value: .text(word), field: "event", raw: event, channel: "input:\(i)")])
        case .extTemperature(let i):
            let raw = try PayloadReading.plain(payload, options)
            guard let v = try FieldValue.number(raw, "ext_temperature/\(i)") else { return .noReading }
            return one(.temperature, .number(v), "°C", raw, channel: "ext_temperature:\(i)")
        case .extHumidity(let i):
            let raw = try PayloadReading.plain(payload, options)
            guard let v = try FieldValue.number(raw, "ext_humidity/\(i)") else { return .noReading }
            return one(.humidity, .number(v), "%", raw, channel: "ext_humidity:\(i)")
        case .gen1Status:
            let object = try PayloadReading.object(payload, options, what: "the status")
            return DecodedMessage(readings: try gen1Status(object))
        case .gen2Status(let component):
            let value = try PayloadReading.json(payload, options)
            guard case .object(let object) = value else {
                throw DecodeError(.wrongType, "status/\(component): expected the component status as a JSON object, found \(value.typeName)")
            }
            return DecodedMessage(readings: try self.component(component, object, path: ""))
        case .gen2Events:
            let object = try PayloadReading.object(payload, options, what: "the RPC notification")
            return try notification(object)
        }
    }

    func one(_ signal: SignalKind, _ value: ReadingValue, _ unit: String?, _ raw: JSONValue, channel: String? = nil) -> DecodedMessage {
        DecodedMessage(readings: [Reading(signal: signal, value: value, unit: unit, field: "", raw: raw, channel: channel)])
    }

    static let gen1Events: [String: String] = ["S": "single", "SS": "double", "SSS": "triple", "L": "long",
                                                "SL": "short_long", "LS": "long_short"]

    func sensor(_ name: String, _ raw: JSONValue) throws(DecodeError) -> DecodedMessage {
        let path = "sensor/\(name)"
        switch name {
        case "temperature":
            guard let v = try FieldValue.number(raw, path) else { return .noReading }
            return one(.temperature, .number(v), "°C", raw)
        case "humidity":
            guard let v = try FieldValue.number(raw, path) else { return .noReading }
            return one(.humidity, .number(v), "%", raw)
        case "lux":
            guard let v = try FieldValue.number(raw, path) else { return .noReading }
            return one(.illuminance, .number(v), "lux", raw)
        case "battery":
            guard let v = try FieldValue.number(raw, path) else { return .noReading }
            return one(.battery, .number(v), "%", raw)
        case "motion", "vibration", "flood", "smoke":
            guard let on = try FieldValue.flag(raw, path) else { return .noReading }
            let signal: SignalKind = switch name {
            case "motion": .motion
            case "vibration": .vibration
            case "flood": .waterLeak
            default: .smoke
            }
            return one(signal, .bool(on), nil, raw)
        case "state":
            guard case .string(let s) = raw else { throw FieldValue.wrong(path, "open or close", raw) }
            switch s.lowercased() {
            case "open": return one(.contact, .bool(false), nil, raw)
            case "close", "closed": return one(.contact, .bool(true), nil, raw)
            default: return .noReading
            }
        default:
            return .noReading
        }
    }

    func gen1Status(_ o: JSONObject) throws(DecodeError) -> [Reading] {
        var out: [Reading] = []
        for m in o.members {
            let key = m.key, raw = m.value
            switch key {
            case "motion":
                if let b = try FieldValue.flag(raw, key) { out.append(Reading(signal: .motion, value: .bool(b), field: key, raw: raw)) }
            case "vibration":
                if let b = try FieldValue.flag(raw, key) { out.append(Reading(signal: .vibration, value: .bool(b), field: key, raw: raw)) }
            case "flood":
                if let b = try FieldValue.flag(raw, key) { out.append(Reading(signal: .waterLeak, value: .bool(b), field: key, raw: raw)) }
            case "lux":
                // Door/Window 2 sends {"lux": {"value": 12, "illumination": "dark"}}.
                let v: JSONValue = raw["value"] ?? raw
                if let x = try FieldValue.number(v, key) { out.append(Reading(signal: .illuminance, value: .number(x), unit: "lux", field: key, raw: v)) }
            case "bat":
                let v: JSONValue = raw["value"] ?? raw
                if let x = try FieldValue.number(v, key) { out.append(Reading(signal: .battery, value: .number(x), unit: "%", field: key, raw: v)) }
            case "state":
                if let s = try FieldValue.string(raw, key) {
                    switch s.lowercased() {
                    case "open": out.append(Reading(signal: .contact, value: .bool(false), field: key, raw: raw))
                    case "close", "closed": out.append(Reading(signal: .contact, value: .bool(true), field: key, raw: raw))
                    default: break
                    }
                }
            default:
                continue
            }
        }
        return out
    }

    func notification(_ o: JSONObject) throws(DecodeError) -> DecodedMessage {
        guard let methodValue = o["method"] else {
            if o["result"] != nil || o["error"] != nil { return .noReading }   // an RPC response
            throw DecodeError(.missingField, "expected a JSON-RPC notification with a `method` member")
        }
        guard let method = try FieldValue.string(methodValue, "method") else { return .noReading }
        guard let paramsValue = o["params"] else { throw DecodeError(.missingField, "\(method): no `params` member") }
        guard case .object(let params) = paramsValue else { throw FieldValue.wrong("params", "an object", paramsValue) }
        var time: Double?
        if let ts = params["ts"], let t = try FieldValue.number(ts, "params.ts"), EpochTime.isPlausible(t) { time = t }
        var readings: [Reading] = []
        switch method {
        case "NotifyStatus", "NotifyFullStatus":
            for m in params.members where m.key != "ts" {
                guard case .object(let status) = m.value else { continue }
                readings += try component(m.key, status, path: "params.\(m.key).")
            }
        case "NotifyEvent":
            guard let eventsValue = params["events"] else { return DecodedMessage(time: time) }
            guard case .array(let events) = eventsValue else { throw FieldValue.wrong("params.events", "an array", eventsValue) }
            for (i, e) in events.enumerated() {
                guard case .object(let event) = e else { throw FieldValue.wrong("params.events[\(i)]", "an object", e) }
                guard let component = event["component"]?.stringValue, let name = event["event"]?.stringValue else { continue }
                let path = "params.events[\(i)].event"
                let raw = event["event"] ?? .null
                let type = component.split(separator: ":").first.map(String.init) ?? component
                switch (type, name) {
                case ("input", "single_push"), ("input", "double_push"), ("input", "triple_push"), ("input", "long_push"):
                    let word = String(name.dropLast("_push".count))
                    readings.append(Reading(signal: .button, value: .text(word), field: path, raw: raw, channel: component))
                case ("smoke", "alarm"):
                    readings.append(Reading(signal: .smoke, value: .bool(true), field: path, raw: raw, channel: component))
                case ("smoke", "alarm_off"):
                    readings.append(Reading(signal: .smoke, value: .bool(false), field: path, raw: raw, channel: component))
                case ("flood", "flood_alarm"), ("flood", "alarm"):
                    readings.append(Reading(signal: .waterLeak, value: .bool(true), field: path, raw: raw, channel: component))
                default:
                    continue
                }
            }
        default:
            return DecodedMessage(time: time)
        }
        return DecodedMessage(readings: readings, time: time)
    }

    /// One Gen2 component's status (`switch:0`, `temperature:100`…). `path` prefixes field paths (`params.switch:0.`).
    func component(_ key: String, _ o: JSONObject, path: String) throws(DecodeError) -> [Reading] {
        let type = key.split(separator: ":").first.map(String.init) ?? key
        var out: [Reading] = []
        func number(_ member: String, _ signal: SignalKind, _ unit: String, scale: Double = 1, in object: JSONObject? = nil,
                    prefix: String = "") throws(DecodeError) {
            guard let raw = (object ?? o)[member] else { return }
            let field = path + prefix + member
            if let v = try FieldValue.number(raw, field) {
                out.append(Reading(signal: signal, value: .number(v * scale), unit: unit, field: field, raw: raw, channel: key))
            }
        }
        func flag(_ member: String, _ signal: SignalKind) throws(DecodeError) {
            guard let raw = o[member] else { return }
            if let b = try FieldValue.bool(raw, path + member) {
                out.append(Reading(signal: signal, value: .bool(b), field: path + member, raw: raw, channel: key))
            }
        }
        switch type {
        case "switch", "light", "pm1", "em1", "plugs_ui":
            try flag("output", .applianceOn)
            try number("apower", .power, "W")
            try number("act_power", .power, "W")
            try number("voltage", .voltage, "V")
            try number("current", .current, "A")
            if let energy = o["aenergy"] {
                guard case .object(let e) = energy else { throw FieldValue.wrong(path + "aenergy", "an object", energy) }
                try number("total", .energy, "kWh", scale: 0.001, in: e, prefix: "aenergy.")
            }
        case "input":
            try flag("state", .state)
        case "temperature":
            try number("tC", .temperature, "°C")
        case "humidity":
            try number("rh", .humidity, "%")
        case "illuminance":
            try number("lux", .illuminance, "lux")
        case "voltmeter":
            try number("voltage", .voltage, "V")
        case "devicepower":
            if let battery = o["battery"] {
                guard case .object(let b) = battery else { throw FieldValue.wrong(path + "battery", "an object", battery) }
                try number("percent", .battery, "%", in: b, prefix: "battery.")
                try number("V", .batteryVoltage, "V", in: b, prefix: "battery.")
            }
        case "smoke":
            try flag("alarm", .smoke)
        case "flood":
            try flag("alarm", .waterLeak)
        default:
            break
        }
        return out
    }
}
