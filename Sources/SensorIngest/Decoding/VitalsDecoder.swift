import Anomaly
import CareSupport

/// Format `vitals`: `{"t": <epoch s>, "heart_rate": <bpm>, "spo2": <%>}` from a wearable or a bridge.
///
/// `heart_rate` → heart_rate (bpm, 0…300), `spo2` → spo2 (%, 0…100); either may be absent or `null`, not both.
/// `t` (optional) is the message time. Other members are ignored. Values outside the ranges are errors (a sensor
/// that lost skin contact reports 0 or 255; 0 is accepted, it is the detectors' business).
public struct VitalsDecoder: PayloadDecoder {
    public let name = "vitals"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let o = try PayloadReading.object(payload, options, what: "the vitals message {\"t\", \"heart_rate\", \"spo2\"}")
        var readings: [Reading] = []
        var present = false
        for (key, signal, unit, limit) in [("heart_rate", SignalKind.heartRate, "bpm", 300.0), ("spo2", .spo2, "%", 100.0)] {
            guard let raw = o[key] else { continue }
            present = true
            guard let v = try FieldValue.number(raw, key) else { continue }
            guard v >= 0, v <= limit else {
                throw DecodeError(.outOfRange, "`\(key)` is \(v), outside 0…\(Int(limit)) \(unit)")
            }
            readings.append(Reading(signal: signal, value: .number(v), unit: unit, field: key, raw: raw))
        }
        guard present else { throw DecodeError(.missingField, "neither `heart_rate` nor `spo2`: expected {\"t\", \"heart_rate\", \"spo2\"}") }
        var time: Double?
        if let t = o["t"] {
            guard let v = try FieldValue.number(t, "t") else { return DecodedMessage(readings: readings) }
            guard v >= 0 else { throw DecodeError(.outOfRange, "`t` is \(v): expected epoch seconds") }
            time = v
        }
        return DecodedMessage(readings: readings, time: time)
    }
}
