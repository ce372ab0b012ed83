import Anomaly
import CareSupport

/// OwnTracks (`owntracks/<user>/<device>[/event|/waypoint|/info|…]`, JSON with a `_type`).
///
/// - `location`: `lat`, `lon` → latitude, longitude (°), `acc` → location_accuracy (m), `batt` → battery % (`-1` =
///   unknown: no reading); `tst` (epoch s of the fix) is the message time.
/// - `transition`: `event` `enter`/`leave` → region `enter:<desc>` / `leave:<desc>` (the region's `desc`, else its
///   `rid`), with the position and accuracy of the fix; `tst` is the time of the event (`wtst` is when the region was
///   made, not used).
/// - `waypoint`: a region being defined (not a movement): its centre and radius (`rad`, m, a `measurement`) with the
///   region's name as channel; its `tst` is the region's creation time, so no message time.
/// - `lwt` → availability false. `waypoints`, `card`, `cmd`, `status`, `steps`, `beacon`, `configuration`: no reading.
/// - `encrypted`: an error telling to turn payload encryption off (we do not hold the key).
/// Numbers sent as strings (`"rad":"50"`, seen in the wild) are accepted.
public struct OwnTracksDecoder: PayloadDecoder {
    public let name = "owntracks"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        // A retained message is cleared with an empty payload.
        if payload.isEmpty { return .noReading }
        let o = try PayloadReading.object(payload, options, what: "the OwnTracks message")
        guard let typeValue = o["_type"] else {
            throw DecodeError(.missingField, "no `_type` member: expected an OwnTracks message (`location`, `transition`…)")
        }
        guard let type = try FieldValue.string(typeValue, "_type") else {
            throw DecodeError(.missingField, "`_type` is empty: expected `location`, `transition`…")
        }
        switch type {
        case "location":
            var readings = try position(o, channel: nil, required: true)
            if let batt = o["batt"], let v = try FieldValue.number(batt, "batt"), v >= 0 {
                readings.append(Reading(signal: .battery, value: .number(v), unit: "%", field: "batt", raw: batt))
            }
            return DecodedMessage(readings: readings, time: try time(o))
        case "transition":
            guard let eventValue = o["event"] else { throw DecodeError(.missingField, "transition: no `event` member (enter or leave)") }
            guard let event = try FieldValue.string(eventValue, "event") else { return .noReading }
            guard event == "enter" || event == "leave" else {
                throw DecodeError(.outOfRange, "transition: `event` is \"\(event.clipped)\", expected enter or leave")
            }
            let region = try o["desc"].flatMap { v throws(DecodeError) in try FieldValue.string(v, "desc") }
                ?? o["rid"].flatMap { v in v.stringValue } ?? "?"
            var readings = [Reading(signal: .region, value: .text("\(event):\(region)"), field: "event", raw: eventValue)]
            readings += try position(o, channel: nil, required: false)
            return DecodedMessage(readings: readings, time: try time(o))
        case "waypoint":
            let region = try o["desc"].flatMap { v throws(DecodeError) in try FieldValue.string(v, "desc") }
                ?? o["rid"].flatMap { v in v.stringValue } ?? "waypoint"
            var readings = try position(o, channel: region, required: true, withAccuracy: false)
            if let rad = o["rad"], let v = try FieldValue.number(rad, "rad") {
                readings.append(Reading(signal: .measurement, value: .number(v), unit: "m", field: "rad", raw: rad, channel: region))
            }
            return DecodedMessage(readings: readings)
        case "lwt":
            return DecodedMessage(readings: [Reading(signal: .availability, value: .bool(false), field: "_type", raw: typeValue)])
        case "encrypted":
            throw DecodeError(.unsupported, "the payload is encrypted: turn off OwnTracks payload encryption for this "
                + "device (Preferences → Encryption key empty), careMonitord does not hold the key")
        default:
            return .noReading
        }
    }

    func position(_ o: JSONObject, channel: String?, required: Bool, withAccuracy: Bool = true) throws(DecodeError) -> [Reading] {
        var out: [Reading] = []
        for (key, signal, unit) in [("lat", SignalKind.latitude, "°"), ("lon", .longitude, "°")] {
            guard let raw = o[key], let v = try FieldValue.number(raw, key) else {
                if required { throw DecodeError(.missingField, "no `\(key)`: a location needs `lat` and `lon`") }
                continue
            }
            let limit = key == "lat" ? 90.0 : 180.0
            guard abs(v) <= limit else { throw DecodeError(.outOfRange, "`\(key)` is \(v), outside ±\(Int(limit))°") }
            out.append(Reading(signal: signal, value: .number(v), unit: unit, field: key, raw: raw, channel: channel))
        }
        if withAccuracy, let acc = o["acc"], let v = try FieldValue.number(acc, "acc"), v >= 0 {
            out.append(Reading(signal: .locationAccuracy, value: .number(v), unit: "m", field: "acc", raw: acc, channel: channel))
        }
        return out
    }

    func time(_ o: JSONObject) throws(DecodeError) -> Double? {
        guard let tst = o["tst"], let t = try FieldValue.number(tst, "tst") else { return nil }
        return EpochTime.isPlausible(t) ? t : nil
    }
}
