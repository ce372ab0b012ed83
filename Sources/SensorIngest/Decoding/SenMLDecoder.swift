import Anomaly
import CareSupport

/// Format `senml`: SenML packs in JSON (RFC 8428, `application/senml+json`), any measurement.
///
/// Records are resolved as the RFC says: name = `bn` + `n`, time = `bt` + `t`, unit = `u` else `bu`,
/// value = `bv` + `v` (or `vb`, `vs`; `vd` and sum-only records give no reading); base values carry over to the
/// following records. A resolved time ≥ 2²⁸ is epoch seconds and becomes the reading's `time`; a smaller one is
/// relative to "now" and is left to the arrival time. `bver` above 10 and fields ending in `_` (must-understand
/// extensions) are refused as unsupported.
///
/// Each record is one reading: the unit and the words of the name give the signal (`V` → voltage or battery_voltage,
/// `A`, `W`, `Cel`/`K` → °C, `%RH`, `lx`, `Pa` → hPa, `beat/min` → heart_rate, `%EL` → battery, `lat`/`lon`…),
/// otherwise a `measurement` with the SenML unit. `field` is the resolved name, `channel` the record's own `n`.
/// Acceleration records (`m/s2` or `g`, names ending in x, y, z, absolute times, the three axes at the same times)
/// become three `series` readings in g with `sampleTimes`, as format `accel` gives them; otherwise one scalar
/// acceleration reading per record.
public struct SenMLDecoder: PayloadDecoder {
    public let name = "senml"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let value = try PayloadReading.json(payload, options)
        guard case .array(let records) = value else {
            throw DecodeError(.wrongType, "expected a SenML pack (a JSON array of records), found \(value.typeName)")
        }
        return try Self.decodePack(records, requireAcceleration: false)
    }

    /// The RFC 8428 threshold: resolved times below 2²⁸ s are relative to the time of receipt.
    static let absoluteTimeThreshold = 268_435_456.0

    struct AxisSample { var name: String; var g: Double; var raw: JSONValue; var time: Double }

    static func decodePack(_ records: [JSONValue], requireAcceleration: Bool) throws(DecodeError) -> DecodedMessage {
        guard !records.isEmpty else { throw DecodeError(.missingField, "the SenML pack is empty") }
        var baseName = "", baseTime = 0.0, baseUnit: String?, baseValue = 0.0
        var readings: [Reading] = []
        var axes: [Character: [AxisSample]] = [:]
        var loose: [Reading] = []   // acceleration records that may not assemble into three axes
        var messageTime: Double?
        for (i, item) in records.enumerated() {
            let at = "[\(i)]"
            guard case .object(let r) = item else { throw FieldValue.wrong(at, "a SenML record (an object)", item) }
            for m in r.members where m.key.hasSuffix("_") {
                throw DecodeError(.unsupported, "\(at).\(m.key): a must-understand SenML extension this decoder does not know")
            }
            if let v = r["bver"], let ver = try FieldValue.number(v, "\(at).bver"), ver > 10 {
                throw DecodeError(.unsupported, "\(at).bver is \(ver): SenML versions above 10 are not supported")
            }
            if let v = r["bn"] {
                guard case .string(let s) = v else { throw FieldValue.wrong("\(at).bn", "a string", v) }
                baseName = s
            }
            if let v = r["bt"] { baseTime = try FieldValue.number(v, "\(at).bt") ?? 0 }
            if let v = r["bu"] {
                guard case .string(let s) = v else { throw FieldValue.wrong("\(at).bu", "a string", v) }
                baseUnit = s
            }
            if let v = r["bv"] { baseValue = try FieldValue.number(v, "\(at).bv") ?? 0 }
            var own = ""
            if let v = r["n"] {
                guard case .string(let s) = v else { throw FieldValue.wrong("\(at).n", "a string", v) }
                own = s
            }
            let name = baseName + own
            var unit = baseUnit
            if let v = r["u"] {
                guard case .string(let s) = v else { throw FieldValue.wrong("\(at).u", "a string", v) }
                unit = s
            }
            var offset = 0.0
            if let v = r["t"] { offset = try FieldValue.number(v, "\(at).t") ?? 0 }
            let resolved = baseTime + offset
            guard resolved.isFinite else { throw DecodeError(.outOfRange, "\(at): the time bt + t is not finite") }
            let time: Double? = resolved >= absoluteTimeThreshold ? resolved : nil
            let values = ["v", "vs", "vb", "vd"].filter { r[$0] != nil }
            if values.count > 1 {
                throw DecodeError(.outOfRange, "\(at): a record has one value, found \(values.joined(separator: ", "))")
            }
            if values.isEmpty && r["s"] == nil {
                if r["bn"] != nil || r["bt"] != nil || r["bu"] != nil || r["bv"] != nil || r["bver"] != nil { continue }
                throw DecodeError(.missingField, "\(at): a record needs a value (v, vs, vb, vd or s)")
            }
            guard !name.isEmpty else { throw DecodeError(.missingField, "\(at): a record needs a name (bn + n)") }
            if messageTime == nil { messageTime = time }
            let channel: String? = own.isEmpty ? nil : own
            let words = SignalNames.words(name)
            if let raw = r["v"] {
                guard let v = try FieldValue.number(raw, "\(at).v") else { continue }
                let value = baseValue + v
                guard value.isFinite else { throw DecodeError(.outOfRange, "\(at): bv + v is not finite") }
                if let meaning = SignalNames.numeric(words: words, unit: unit) {
                    let ours = try meaning.conversion.apply(value, name)
                    if meaning.signal == .acceleration {
                        let reading = Reading(signal: .acceleration, value: .number(ours), unit: "g", field: name, raw: raw,
                                              channel: channel, time: time)
                        if let axis = name.last?.lowercased().first, "xyz".contains(axis), let time {
                            axes[axis, default: []].append(AxisSample(name: name, g: ours, raw: raw, time: time))
                        }
                        loose.append(reading)
                        continue
                    }
                    readings.append(Reading(signal: meaning.signal, value: .number(ours), unit: meaning.unit, field: name,
                                            raw: raw, channel: channel, time: time))
                } else {
                    readings.append(Reading(signal: .measurement, value: .number(value), unit: unit, field: name, raw: raw,
                                            channel: channel, time: time))
                }
            } else if let raw = r["vb"] {
                guard let b = try FieldValue.bool(raw, "\(at).vb") else { continue }
                let meaning = SignalNames.binary(words)
                readings.append(Reading(signal: meaning?.signal ?? .state, value: .bool(meaning?.value(on: b) ?? b), field: name,
                                        raw: raw, channel: channel, time: time))
            } else if let raw = r["vs"] {
                guard case .string(let s) = raw else { throw FieldValue.wrong("\(at).vs", "a string", raw) }
                readings.append(Reading(signal: .state, value: .text(s), field: name, raw: raw, channel: channel, time: time))
            }
        }
        // Acceleration: three axes at the same absolute times make one accelerometer batch.
        let complete = loose.count == (axes["x"]?.count ?? 0) + (axes["y"]?.count ?? 0) + (axes["z"]?.count ?? 0)
        if let xs = axes["x"], let ys = axes["y"], let zs = axes["z"], complete {
            let sort = { (a: [AxisSample]) in a.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element) }
            let x = sort(xs), y = sort(ys), z = sort(zs)
            if x.count == y.count, y.count == z.count, zip(x, y).allSatisfy({ $0.time == $1.time }), zip(x, z).allSatisfy({ $0.time == $1.time }) {
                let times = x.map(\.time)
                func axis(_ a: [AxisSample]) -> AccelDecoder.Axis {
                    AccelDecoder.Axis(field: a.first?.name ?? "", values: a.map(\.g), raw: .array(a.map(\.raw)))
                }
                var message = AccelDecoder.message(x: axis(x), y: axis(y), z: axis(z), times: times)
                message.readings += readings
                return message
            }
            if requireAcceleration {
                throw DecodeError(.outOfRange, "the x, y and z acceleration records do not have the same times: "
                    + "an accelerometer batch needs one x, y and z value per sample time")
            }
        }
        if requireAcceleration {
            throw DecodeError(.missingField, "no complete accelerometer batch in the SenML pack: expected records in m/s2 "
                + "or g named …x, …y, …z with absolute times (bt ≥ 2^28)")
        }
        return DecodedMessage(readings: readings + loose, time: messageTime)
    }
}
