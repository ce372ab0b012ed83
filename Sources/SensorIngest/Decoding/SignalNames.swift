import Anomaly

/// What a name or a unit tells about a value, for stacks whose payloads name things freely (Home Assistant entity
/// ids and device classes, ESPHome object ids, SenML names). Word lists are deliberately short: a value whose name
/// says nothing we know stays a `.state` or a `.measurement` with its unit, it is never guessed into an alarm.
enum SignalNames {
    /// Lower-cased words of a name: split at anything not a letter or digit and at camelCase humps
    /// (`sensorBedroom` → `sensor`, `bedroom`; `linda_heart_rate` → `linda`, `heart`, `rate`; `accX` → `acc`, `x`).
    static func words(_ name: String) -> [String] {
        var out: [String] = []
        var current = ""
        var previousLower = false
        for ch in name {
            if ch.isLetter || ch.isNumber {
                if ch.isUppercase && previousLower && !current.isEmpty {
                    out.append(current); current = ""
                }
                current.append(contentsOf: ch.lowercased())
                previousLower = ch.isLowercase || ch.isNumber
            } else {
                if !current.isEmpty { out.append(current); current = "" }
                previousLower = false
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// The meaning of an on/off value named by these words. `onMeansOpen` is set for door and window contacts, whose
    /// "on" means open in Home Assistant and ESPHome, while our `contact` is true when closed.
    struct Binary: Equatable {
        var signal: SignalKind
        var onMeansOpen = false

        /// Our value for the stack's on/off.
        func value(on: Bool) -> Bool { onMeansOpen ? !on : on }
    }

    static func binary(_ words: [String]) -> Binary? {
        func has(_ any: String...) -> Bool { any.contains { words.contains($0) } }
        if has("fall", "fallen", "falling") { return Binary(signal: .fall) }
        if has("sos", "emergency", "panic") { return Binary(signal: .sos) }
        if has("smoke", "fire") { return Binary(signal: .smoke) }
        if has("co", "carbon", "monoxide") { return Binary(signal: .carbonMonoxide) }
        if has("leak", "flood", "water", "moisture", "wet") { return Binary(signal: .waterLeak) }
        if has("motion", "occupancy", "occupied", "presence", "pir", "movement", "moving") { return Binary(signal: .motion) }
        if has("door", "window", "contact", "opening", "reed", "garage") { return Binary(signal: .contact, onMeansOpen: true) }
        if has("tamper") { return Binary(signal: .tamper) }
        if has("vibration", "vibrate", "shock", "tilt") { return Binary(signal: .vibration) }
        if has("connectivity", "online", "availability") { return Binary(signal: .availability) }
        if has("plug", "outlet", "relay", "appliance", "running", "power") { return Binary(signal: .applianceOn) }
        return nil
    }

    /// Vendor fall states as words (`fall`, `falling`, `fallen`, `maybe_fall`…) are true; `none`, `normal`, `no_fall`,
    /// `clear` are false.
    static func isFallWord(_ s: String) -> Bool {
        let w = s.lowercased()
        if w.hasPrefix("no") || w == "clear" { return false }
        return w.contains("fall")
    }

    /// How a number in the stack's unit becomes ours.
    enum Conversion: Equatable {
        case identity
        case scale(Double)
        case fahrenheit
        case kelvin

        /// Our value for the stack's `v`; an overflow (a finite but absurd number times 1000) is an error.
        func apply(_ v: Double, _ field: String) throws(DecodeError) -> Double {
            let ours = convert(v)
            guard ours.isFinite else {
                throw DecodeError(.outOfRange, "`\(field.isEmpty ? "payload" : field)`: \(v) is out of range once converted to our unit")
            }
            return ours
        }

        func convert(_ v: Double) -> Double {
            switch self {
            case .identity: v
            case .scale(let s): v * s
            // Rounded to 1e-9 °C so that 71.6 °F reads 22, not 21.999999999999996.
            case .fahrenheit: Self.round((v - 32) * 5 / 9)
            case .kelvin: Self.round(v - 273.15)
            }
        }

        static func round(_ v: Double) -> Double {
            let scaled = v * 1e9
            return scaled.isFinite && abs(scaled) < 9e15 ? scaled.rounded() / 1e9 : v
        }
    }

    struct Numeric: Equatable {
        var signal: SignalKind
        var unit: String?
        var conversion: Conversion = .identity
    }

    /// The standard acceleration of gravity, for m/s² → g.
    static let standardGravity = 9.80665

    /// The meaning of a number from its unit (when the stack gives one) and the words of its name. Nil when neither
    /// says anything we know: the caller keeps it as a `.measurement` with the stack's unit, or drops it.
    static func numeric(words: [String], unit rawUnit: String?) -> Numeric? {
        func has(_ any: String...) -> Bool { any.contains { words.contains($0) } }
        let batteryWords = has("battery", "batt", "bat")
        if let rawUnit, !rawUnit.isEmpty {
            switch rawUnit {
            case "°C", "C", "Cel", "degC", "celsius", "ºC": return Numeric(signal: .temperature, unit: "°C")
            case "°F", "F", "degF", "fahrenheit", "ºF": return Numeric(signal: .temperature, unit: "°C", conversion: .fahrenheit)
            case "K": return Numeric(signal: .temperature, unit: "°C", conversion: .kelvin)
            case "lx", "lux", "Lux": return Numeric(signal: .illuminance, unit: "lux")
            case "W": return Numeric(signal: .power, unit: "W")
            case "kW": return Numeric(signal: .power, unit: "W", conversion: .scale(1000))
            case "Wh": return Numeric(signal: .energy, unit: "kWh", conversion: .scale(0.001))
            case "kWh": return Numeric(signal: .energy, unit: "kWh")
            case "J": return Numeric(signal: .energy, unit: "kWh", conversion: .scale(1.0 / 3_600_000))
            case "V": return Numeric(signal: batteryWords ? .batteryVoltage : .voltage, unit: "V")
            case "mV": return Numeric(signal: batteryWords || !has("mains", "line") ? .batteryVoltage : .voltage, unit: "V",
                                      conversion: .scale(0.001))
            case "A": return Numeric(signal: .current, unit: "A")
            case "mA": return Numeric(signal: .current, unit: "A", conversion: .scale(0.001))
            case "hPa", "mbar", "mb": return Numeric(signal: .pressure, unit: "hPa")
            case "Pa": return Numeric(signal: .pressure, unit: "hPa", conversion: .scale(0.01))
            case "kPa": return Numeric(signal: .pressure, unit: "hPa", conversion: .scale(10))
            case "mmHg": return Numeric(signal: .pressure, unit: "hPa", conversion: .scale(1.333_223_874))
            case "inHg": return Numeric(signal: .pressure, unit: "hPa", conversion: .scale(33.863_886_67))
            case "bpm", "beat/min", "beats/min", "1/min", "/min": return Numeric(signal: .heartRate, unit: "bpm")
            case "%RH": return Numeric(signal: .humidity, unit: "%")
            case "%EL": return Numeric(signal: .battery, unit: "%")
            case "m/s2", "m/s^2", "m/s²": return Numeric(signal: .acceleration, unit: "g", conversion: .scale(1 / standardGravity))
            case "g", "G": return Numeric(signal: .acceleration, unit: "g")
            case "lat": return Numeric(signal: .latitude, unit: "°")
            case "lon": return Numeric(signal: .longitude, unit: "°")
            case "%", "/":
                let scale: Conversion = rawUnit == "/" ? .scale(100) : .identity
                if has("spo2", "oxygen", "saturation", "sp02", "o2") { return Numeric(signal: .spo2, unit: "%", conversion: scale) }
                if batteryWords { return Numeric(signal: .battery, unit: "%", conversion: scale) }
                if has("humidity", "rh", "hum") { return Numeric(signal: .humidity, unit: "%", conversion: scale) }
                if has("linkquality", "lqi", "signal", "wifi") { return Numeric(signal: .linkQuality, unit: "%", conversion: scale) }
                return nil
            default:
                return nil
            }
        }
        if has("spo2", "sp02", "oxygen", "saturation") { return Numeric(signal: .spo2, unit: "%") }
        if has("heart", "pulse", "bpm", "hr") && !has("hour", "hours") { return Numeric(signal: .heartRate, unit: "bpm") }
        if has("temperature", "temp") { return Numeric(signal: .temperature, unit: "°C") }
        if has("humidity", "hum") { return Numeric(signal: .humidity, unit: "%") }
        if has("pressure") { return Numeric(signal: .pressure, unit: "hPa") }
        if has("illuminance", "lux", "luminance", "illumination", "luminosity") { return Numeric(signal: .illuminance, unit: "lux") }
        if batteryWords && has("voltage", "volt", "v") { return Numeric(signal: .batteryVoltage, unit: "V") }
        if batteryWords { return Numeric(signal: .battery, unit: "%") }
        if has("power", "watt", "watts") { return Numeric(signal: .power, unit: "W") }
        if has("energy") { return Numeric(signal: .energy, unit: "kWh") }
        if has("voltage") { return Numeric(signal: .voltage, unit: "V") }
        if has("current") { return Numeric(signal: .current, unit: "A") }
        if has("linkquality", "lqi") { return Numeric(signal: .linkQuality) }
        return nil
    }

    /// Home Assistant device classes (binary sensors and sensors) in our vocabulary.
    static func deviceClass(_ deviceClass: String) -> [String] {
        // Device classes are snake_case words that the word tables above already know; a few need a synonym.
        switch deviceClass {
        case "atmospheric_pressure": ["pressure"]
        case "gas": []   // flammable gas: no canonical signal; kept as a state
        case "problem", "safety", "battery_charging", "light", "sound", "cold", "heat", "lock", "update", "running":
            []
        default: words(deviceClass)
        }
    }
}
