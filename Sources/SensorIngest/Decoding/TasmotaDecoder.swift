import Anomaly
import CareSupport

/// Tasmota (`%prefix%/%topic%/…`, default full topic; the first level is the prefix, the last the message kind).
///
/// - `tele/<t>/LWT`: `Online`/`Offline` → availability.
/// - `tele/<t>/STATE`, `stat/<t>/STATUS11` (`StatusSTS`): `POWER`, `POWER<n>` → appliance_on (channel `POWER<n>`),
///   `Wifi.RSSI` (a 0–100 % quality, not dBm) → link_quality %. Uptime, heap, load and counters give nothing.
/// - `tele/<t>/SENSOR`, `stat/<t>/STATUS8`/`STATUS10` (`StatusSNS`), `tele|stat/<t>/RESULT`: one object per sensor
///   (`DS18B20`, `AM2301`, `BME280`, `ENERGY`…) with `Temperature` (converted from °F when `TempUnit` is `F`),
///   `Humidity`, `Pressure` (`PressureUnit` hPa/mmHg/inHg), `Illuminance`, `Power` W, `Voltage`, `Current`,
///   `Total` kWh, `CarbonDioxide` ppm; `Switch<n>` ON/OFF → state (a detached input: PIR or reed, unknown which);
///   `Button<n>.Action` → button; `POWER<n>` → appliance_on; `ZbReceived` (Zigbee bridge): per device `Power` (the
///   relay state 0/1/bool, not watts) → appliance_on, `Occupancy` → motion, `Contact` (0 = closed) → contact,
///   `Water` → water_leak, `Fire` → smoke, `AqaraVibrationMode` → vibration, `LinkQuality`, `BatteryPercentage`,
///   `BatteryVoltage`, climate keys; channel = the Zigbee device's `Name`, else its short address.
/// - `stat/<t>/POWER<n>`: plain `ON`/`OFF` → appliance_on.
/// - `cmnd/…`, `INFO<n>`, `UPTIME`, other `STATUS<n>`: recognised, no reading.
/// When several sensor objects give the same signal, each reading's channel is its sensor name (`DS18B20-2`).
/// `Time` is device-local time without a zone unless the device is set to add one: only a zoned `Time` is trusted.
public struct TasmotaDecoder: PayloadDecoder {
    public let name = "tasmota"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let prefix = levels.first.map(String.init) ?? ""
        let kind = levels.count >= 2 ? String(levels[levels.count - 1]) : ""
        if prefix == "cmnd" { return .noReading }
        switch kind {
        case "LWT":
            let raw = try PayloadReading.plain(payload, options)
            guard case .string(let s) = raw else { throw FieldValue.wrong("payload", "Online or Offline", raw) }
            switch s.lowercased() {
            case "online": return DecodedMessage(readings: [Reading(signal: .availability, value: .bool(true), field: "", raw: raw)])
            case "offline": return DecodedMessage(readings: [Reading(signal: .availability, value: .bool(false), field: "", raw: raw)])
            default: throw DecodeError(.outOfRange, "LWT: expected Online or Offline, found \"\(s.clipped)\"")
            }
        case "STATE", "SENSOR", "RESULT", "STATUS8", "STATUS10", "STATUS11":
            let object = try PayloadReading.object(payload, options, what: "the \(kind) message")
            return try decodeObject(object, path: "")
        default:
            if kind.hasPrefix("POWER") {
                let raw = try PayloadReading.plain(payload, options)
                guard let on = try FieldValue.flag(raw, kind) else { return .noReading }
                let channel = kind == "POWER" ? nil : kind
                return DecodedMessage(readings: [Reading(signal: .applianceOn, value: .bool(on), field: "", raw: raw, channel: channel)])
            }
            return .noReading
        }
    }

    /// A reading plus the sensor object it came from, to set channels when several sensors give the same signal.
    struct Found { var reading: Reading; var sensor: String? }

    func decodeObject(_ object: JSONObject, path: String) throws(DecodeError) -> DecodedMessage {
        let fahrenheit = object["TempUnit"]?.stringValue?.uppercased() == "F"
        let pressureUnit = object["PressureUnit"]?.stringValue
        var found: [Found] = []
        var time: Double?
        for member in object.members {
            let key = member.key, value = member.value, field = path + key
            switch key {
            case "Time":
                if case .string(let s) = value { time = EpochTime.iso8601(s) }
            case "TempUnit", "PressureUnit", "SpeedUnit", "Epoch", "Uptime", "UptimeSec", "Heap", "SleepMode", "Sleep",
                 "LoadAvg", "MqttCount", "Vcc", "Berry", "Hostname", "IPAddress":
                continue
            case "StatusSNS", "StatusSTS":
                guard case .object(let inner) = value else { throw FieldValue.wrong(field, "an object", value) }
                let message = try decodeObject(inner, path: field + ".")
                found += message.readings.map { Found(reading: $0, sensor: nil) }
                time = time ?? message.time
            case "Wifi":
                guard case .object(let wifi) = value else { continue }
                if let rssi = wifi["RSSI"], let v = try FieldValue.number(rssi, field + ".RSSI") {
                    found.append(Found(reading: Reading(signal: .linkQuality, value: .number(v), unit: "%", field: field + ".RSSI", raw: rssi), sensor: nil))
                }
            case "ZbReceived":
                guard case .object(let devices) = value else { throw FieldValue.wrong(field, "an object", value) }
                for d in devices.members {
                    guard case .object(let attributes) = d.value else { throw FieldValue.wrong(field + "." + d.key, "an object", d.value) }
                    let channel = attributes["Name"]?.stringValue.flatMap { $0.trimmingASCIISpaces.isEmpty ? nil : $0.trimmingASCIISpaces } ?? d.key
                    found += try zigbee(attributes, path: field + "." + d.key + ".", channel: channel)
                        .map { Found(reading: $0, sensor: nil) }
                }
            default:
                if key.hasPrefix("POWER"), key.dropFirst(5).allSatisfy(\.isNumber) {
                    if let on = try FieldValue.flag(value, field) {
                        found.append(Found(reading: Reading(signal: .applianceOn, value: .bool(on), field: field, raw: value,
                                                            channel: key == "POWER" ? nil : key), sensor: nil))
                    }
                } else if key.hasPrefix("Switch"), key.dropFirst(6).allSatisfy(\.isNumber), !key.dropFirst(6).isEmpty,
                          !isObject(value) {
                    if let on = try FieldValue.flag(value, field) {
                        found.append(Found(reading: Reading(signal: .state, value: .bool(on), field: field, raw: value, channel: key), sensor: nil))
                    }
                } else if key.hasPrefix("Button"), case .object(let button) = value, let action = button["Action"] {
                    if let s = try FieldValue.string(action, field + ".Action") {
                        found.append(Found(reading: Reading(signal: .button, value: .text(s.lowercased()), field: field + ".Action",
                                                            raw: action, channel: key), sensor: nil))
                    }
                } else if case .object(let sensor) = value {
                    found += try sensorObject(sensor, path: field + ".", fahrenheit: fahrenheit, pressureUnit: pressureUnit)
                        .map { Found(reading: $0, sensor: key) }
                }
            }
        }
        // Several sensors of one kind in one message: name each reading's channel after its sensor.
        var sensorsPerSignal: [SignalKind: Set<String>] = [:]
        for f in found { if let s = f.sensor { sensorsPerSignal[f.reading.signal, default: []].insert(s) } }
        let readings = found.map { f -> Reading in
            var r = f.reading
            if let s = f.sensor, r.channel == nil, (sensorsPerSignal[r.signal]?.count ?? 0) > 1 { r.channel = s }
            return r
        }
        return DecodedMessage(readings: readings, time: time)
    }

    func isObject(_ v: JSONValue) -> Bool { if case .object = v { true } else { false } }

    /// The measurements of one sensor object (`DS18B20`, `ENERGY`, `BME280`…).
    func sensorObject(_ sensor: JSONObject, path: String, fahrenheit: Bool, pressureUnit: String?) throws(DecodeError) -> [Reading] {
        var out: [Reading] = []
        for m in sensor.members {
            let field = path + m.key
            let meaning: SignalNames.Numeric
            switch m.key {
            case "Temperature":
                meaning = .init(signal: .temperature, unit: "°C", conversion: fahrenheit ? .fahrenheit : .identity)
            case "Humidity": meaning = .init(signal: .humidity, unit: "%")
            case "Pressure":
                meaning = SignalNames.numeric(words: ["pressure"], unit: pressureUnit ?? "hPa") ?? .init(signal: .pressure, unit: "hPa")
            case "Illuminance": meaning = .init(signal: .illuminance, unit: "lux")
            case "Power": meaning = .init(signal: .power, unit: "W")
            case "Voltage": meaning = .init(signal: .voltage, unit: "V")
            case "Current": meaning = .init(signal: .current, unit: "A")
            case "Total": meaning = .init(signal: .energy, unit: "kWh")
            case "CarbonDioxide", "eCO2": meaning = .init(signal: .measurement, unit: "ppm")
            default: continue
            }
            if case .array(let items) = m.value {
                // Multi-phase energy meters: one value per phase.
                for (i, item) in items.enumerated() {
                    if let v = try FieldValue.number(item, "\(field)[\(i)]") {
                        out.append(Reading(signal: meaning.signal, value: .number(try meaning.conversion.apply(v, field)), unit: meaning.unit,
                                           field: "\(field)[\(i)]", raw: item, channel: "phase\(i + 1)"))
                    }
                }
            } else if let v = try FieldValue.number(m.value, field) {
                out.append(Reading(signal: meaning.signal, value: .number(try meaning.conversion.apply(v, field)), unit: meaning.unit,
                                   field: field, raw: m.value))
            }
        }
        return out
    }

    /// One Zigbee device's attributes from `ZbReceived`.
    func zigbee(_ attributes: JSONObject, path: String, channel: String) throws(DecodeError) -> [Reading] {
        var out: [Reading] = []
        func add(_ signal: SignalKind, _ value: ReadingValue, _ unit: String?, _ key: String, _ raw: JSONValue) {
            out.append(Reading(signal: signal, value: value, unit: unit, field: path + key, raw: raw, channel: channel))
        }
        for m in attributes.members {
            let key = m.key, raw = m.value, field = path + key
            switch key {
            case "Power":
                if let on = try FieldValue.flag(raw, field) { add(.applianceOn, .bool(on), nil, key, raw) }
            case "Occupancy":
                if let on = try FieldValue.flag(raw, field) { add(.motion, .bool(on), nil, key, raw) }
            case "Contact":
                if let open = try FieldValue.flag(raw, field) { add(.contact, .bool(!open), nil, key, raw) }
            case "Water":
                if let on = try FieldValue.flag(raw, field) { add(.waterLeak, .bool(on), nil, key, raw) }
            case "Fire":
                if let on = try FieldValue.flag(raw, field) { add(.smoke, .bool(on), nil, key, raw) }
            case "Tamper":
                if let on = try FieldValue.flag(raw, field) { add(.tamper, .bool(on), nil, key, raw) }
            case "AqaraVibrationMode":
                if let s = try FieldValue.string(raw, field), ["vibration", "tilt", "drop"].contains(s.lowercased()) {
                    add(.vibration, .bool(true), nil, key, raw)
                }
            case "LinkQuality":
                if let v = try FieldValue.number(raw, field) { add(.linkQuality, .number(v), nil, key, raw) }
            case "BatteryPercentage":
                if let v = try FieldValue.number(raw, field) { add(.battery, .number(v), "%", key, raw) }
            case "BatteryVoltage":
                if let v = try FieldValue.number(raw, field) { add(.batteryVoltage, .number(v), "V", key, raw) }
            case "Temperature":
                if let v = try FieldValue.number(raw, field) { add(.temperature, .number(v), "°C", key, raw) }
            case "Humidity":
                if let v = try FieldValue.number(raw, field) { add(.humidity, .number(v), "%", key, raw) }
            case "Pressure":
                if let v = try FieldValue.number(raw, field) { add(.pressure, .number(v), "hPa", key, raw) }
            case "Illuminance":
                if let v = try FieldValue.number(raw, field) { add(.illuminance, .number(v), "lux", key, raw) }
            case "ActivePower":
                if let v = try FieldValue.number(raw, field) { add(.power, .number(v), "W", key, raw) }
            case "RMSVoltage":
                if let v = try FieldValue.number(raw, field) { add(.voltage, .number(v), "V", key, raw) }
            case "RMSCurrent":
                if let v = try FieldValue.number(raw, field) { add(.current, .number(v / 1000), "A", key, raw) }
            case "Click", "Action":
                if let s = try FieldValue.string(raw, field) { add(.button, .text(s.lowercased()), nil, key, raw) }
            default:
                continue
            }
        }
        return out
    }
}
