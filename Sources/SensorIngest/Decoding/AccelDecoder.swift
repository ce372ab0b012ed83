import Anomaly
import CareSupport

/// Format `accel`: accelerometer streams from wearables. The exact, general decoder: `explain` uses it, and the
/// pipeline's zero-copy fast path for batches is tested against it.
///
/// Accepted payloads (JSON):
/// 1. Regular batch: `{"t0": <epoch s of the first sample>, "hz": <rate>, "unit": "g"|"m/s2", "x": [...], "y": [...],
///    "z": [...]}`. Sample i is at `t0 + i / hz`.
/// 2. Irregular batch: `{"t": [<epoch s per sample>], "unit": …, "x": [...], "y": [...], "z": [...]}`. `t` must not go
///    backwards; gaps (lost BLE packets) are fine.
/// 3. One sample: `{"t": <epoch s>, "unit": …, "x": <n>, "y": <n>, "z": <n>}`.
/// 4. A SenML pack (RFC 8428): records in `m/s2` or `g` named …x, …y, …z at absolute times (see `SenMLDecoder`).
/// 5. An Edge Impulse data acquisition file (`{"protected": {"iat": …}, "payload": {"interval_ms": …, "sensors":
///    [{"name": "accX", "units": "m/s2"}, …], "values": [[x, y, z], …]}}`): sample i is at `iat + i·interval_ms/1000`
///    (`payload.timestamp`, when present, takes the place of `iat`); sensors other than acceleration are ignored.
///
/// Rules: `unit` defaults to `g`; `m/s2` (also `m/s^2`, `m/s²`) is divided by 9.80665. The three axes have the same
/// number of samples, at least one. `hz` is within 1…2000 (`interval_ms` 0.5…1000). Every number is finite; times are
/// ≥ 0. Anything else is a typed `DecodeError` naming the member (`x[12]`, `hz`).
///
/// Result: three readings, one per axis in x, y, z order: signal `acceleration`, `field` `x`/`y`/`z` (or the
/// source's own axis name: `accX`, a SenML name), `value` `.series` in g, `unit` `g`, `raw` the axis's original
/// array; `DecodedMessage.sampleTimes` holds each sample's time and `time` the first one.
public struct AccelDecoder: PayloadDecoder {
    public let name = "accel"
    public let options: DecoderOptions

    public init(options: DecoderOptions = DecoderOptions()) { self.options = options }

    /// The sane range of sample rates.
    public static let rateRange: ClosedRange<Double> = 1...2000

    public func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        let value = try PayloadReading.json(payload, options)
        switch value {
        case .array(let records):
            return try SenMLDecoder.decodePack(records, requireAcceleration: true)
        case .object(let o):
            if case .object(let inner)? = o["payload"], inner["values"] != nil {
                return try Self.edgeImpulse(o, inner)
            }
            return try Self.batch(o)
        default:
            throw DecodeError(.wrongType, "expected an accelerometer batch (a JSON object with t0, hz, x, y, z), found \(value.typeName)")
        }
    }

    /// One axis of a decoded batch.
    struct Axis { var field: String; var values: [Double]; var raw: JSONValue }

    static func message(x: Axis, y: Axis, z: Axis, times: [Double]) -> DecodedMessage {
        let readings = [x, y, z].map {
            Reading(signal: .acceleration, value: .series($0.values), unit: "g", field: $0.field, raw: $0.raw)
        }
        return DecodedMessage(readings: readings, time: times.first, sampleTimes: times)
    }

    /// g per unit of the payload's `unit`.
    static func scale(_ unit: JSONValue?, path: String) throws(DecodeError) -> Double {
        guard let unit, !unit.isNull else { return 1 }
        guard case .string(let s) = unit else { throw FieldValue.wrong(path, "\"g\" or \"m/s2\"", unit) }
        switch s {
        case "g", "G": return 1
        case "m/s2", "m/s^2", "m/s²", "ms2", "m/s/s": return 1 / SignalNames.standardGravity
        default: throw DecodeError(.unsupported, "`\(path)` is \"\(s.clipped)\": expected \"g\" or \"m/s2\"")
        }
    }

    static func finite(_ v: JSONValue, _ path: String) throws(DecodeError) -> Double {
        guard case .number(let n) = v else { throw FieldValue.wrong(path, "a number", v) }
        guard n.value.isFinite else { throw DecodeError(.outOfRange, "`\(path)`: \(n.text.clipped) is not a finite number") }
        return n.value
    }

    static func time(_ v: JSONValue, _ path: String) throws(DecodeError) -> Double {
        let t = try finite(v, path)
        guard t >= 0 else { throw DecodeError(.outOfRange, "`\(path)` is \(t): expected epoch seconds (≥ 0)") }
        return t
    }

    static func rate(_ hz: Double, _ path: String) throws(DecodeError) -> Double {
        guard rateRange.contains(hz) else {
            throw DecodeError(.outOfRange, "`\(path)`: a rate of \(hz) Hz is outside \(Int(rateRange.lowerBound))…\(Int(rateRange.upperBound)) Hz")
        }
        return hz
    }

    static func batch(_ o: JSONObject) throws(DecodeError) -> DecodedMessage {
        guard let xv = o["x"], let yv = o["y"], let zv = o["z"] else {
            let missing = ["x", "y", "z"].filter { o[$0] == nil }.joined(separator: ", ")
            throw DecodeError(.missingField, "no \(missing): an accelerometer batch has x, y and z")
        }
        let scale = try scale(o["unit"], path: "unit")
        guard case .array(let xs) = xv else {
            // One sample per message.
            guard case .number = xv else { throw FieldValue.wrong("x", "a number or an array of numbers", xv) }
            let x = try finite(xv, "x") * scale, y = try finite(yv, "y") * scale, z = try finite(zv, "z") * scale
            guard let tv = o["t"] else { throw DecodeError(.missingField, "no `t`: a single sample needs its epoch time") }
            let t = try time(tv, "t")
            return message(x: Axis(field: "x", values: [x], raw: xv), y: Axis(field: "y", values: [y], raw: yv),
                           z: Axis(field: "z", values: [z], raw: zv), times: [t])
        }
        guard case .array(let ys) = yv else { throw FieldValue.wrong("y", "an array of numbers like x", yv) }
        guard case .array(let zs) = zv else { throw FieldValue.wrong("z", "an array of numbers like x", zv) }
        guard xs.count == ys.count, ys.count == zs.count else {
            throw DecodeError(.outOfRange, "x, y and z have \(xs.count), \(ys.count) and \(zs.count) samples: they must have the same number")
        }
        guard !xs.isEmpty else { throw DecodeError(.outOfRange, "the batch has no sample: x, y and z are empty") }
        var times: [Double] = []
        times.reserveCapacity(xs.count)
        if let tv = o["t"] {
            guard case .array(let ts) = tv else {
                throw FieldValue.wrong("t", "an array of epoch seconds, one per sample (or t0 and hz)", tv)
            }
            guard ts.count == xs.count else {
                throw DecodeError(.outOfRange, "t has \(ts.count) times for \(xs.count) samples: one time per sample")
            }
            var previous = -Double.infinity
            for (i, item) in ts.enumerated() {
                let t = try time(item, "t[\(i)]")
                guard t >= previous else { throw DecodeError(.outOfRange, "`t[\(i)]` is \(t), before t[\(i - 1)] (\(previous)): times must not go backwards") }
                previous = t
                times.append(t)
            }
        } else {
            guard let t0v = o["t0"] else { throw DecodeError(.missingField, "no `t0` (with `hz`) nor `t`: a batch needs its sample times") }
            let t0 = try time(t0v, "t0")
            guard let hzv = o["hz"] else { throw DecodeError(.missingField, "no `hz`: a batch with `t0` needs its sample rate") }
            let hz = try rate(try finite(hzv, "hz"), "hz")
            for i in 0..<xs.count { times.append(t0 + Double(i) / hz) }
        }
        func axis(_ items: [JSONValue], _ name: String, _ raw: JSONValue) throws(DecodeError) -> Axis {
            var values: [Double] = []
            values.reserveCapacity(items.count)
            for (i, item) in items.enumerated() { values.append(try finite(item, "\(name)[\(i)]") * scale) }
            return Axis(field: name, values: values, raw: raw)
        }
        return message(x: try axis(xs, "x", xv), y: try axis(ys, "y", yv), z: try axis(zs, "z", zv), times: times)
    }

    /// The Edge Impulse data acquisition format (JSON form).
    static func edgeImpulse(_ o: JSONObject, _ p: JSONObject) throws(DecodeError) -> DecodedMessage {
        guard let intervalValue = p["interval_ms"] else { throw DecodeError(.missingField, "no `payload.interval_ms`") }
        let interval = try finite(intervalValue, "payload.interval_ms")
        guard interval > 0 else { throw DecodeError(.outOfRange, "`payload.interval_ms` is \(interval): it must be positive") }
        let hz = try rate(1000 / interval, "payload.interval_ms")
        guard let sensorsValue = p["sensors"] else { throw DecodeError(.missingField, "no `payload.sensors`") }
        guard case .array(let sensors) = sensorsValue else { throw FieldValue.wrong("payload.sensors", "an array", sensorsValue) }
        var columns: [Character: (index: Int, name: String, scale: Double)] = [:]
        for (i, s) in sensors.enumerated() {
            let path = "payload.sensors[\(i)]"
            guard case .object(let sensor) = s else { throw FieldValue.wrong(path, "an object", s) }
            guard case .string(let name)? = sensor["name"] else { throw DecodeError(.missingField, "`\(path).name`: expected a string") }
            guard case .string(let units)? = sensor["units"] else { throw DecodeError(.missingField, "`\(path).units`: expected a string") }
            guard SignalNames.numeric(words: [], unit: units)?.signal == .acceleration else { continue }
            guard let axis = name.last?.lowercased().first, "xyz".contains(axis) else { continue }
            columns[axis] = (i, name, try scale(.string(units), path: "\(path).units"))
        }
        guard let cx = columns["x"], let cy = columns["y"], let cz = columns["z"] else {
            throw DecodeError(.missingField, "`payload.sensors` has no x, y and z acceleration sensors (units m/s2 or g, names ending in X, Y, Z)")
        }
        guard let valuesValue = p["values"] else { throw DecodeError(.missingField, "no `payload.values`") }
        guard case .array(let rows) = valuesValue else { throw FieldValue.wrong("payload.values", "an array of rows", valuesValue) }
        guard !rows.isEmpty else { throw DecodeError(.outOfRange, "`payload.values` is empty: no sample") }
        var x: [Double] = [], y: [Double] = [], z: [Double] = []
        var rx: [JSONValue] = [], ry: [JSONValue] = [], rz: [JSONValue] = []
        for (i, rowValue) in rows.enumerated() {
            let path = "payload.values[\(i)]"
            guard case .array(let row) = rowValue else { throw FieldValue.wrong(path, "an array of \(sensors.count) numbers", rowValue) }
            guard row.count == sensors.count else {
                throw DecodeError(.outOfRange, "`\(path)` has \(row.count) values for \(sensors.count) sensors")
            }
            x.append(try finite(row[cx.index], "\(path)[\(cx.index)]") * cx.scale); rx.append(row[cx.index])
            y.append(try finite(row[cy.index], "\(path)[\(cy.index)]") * cy.scale); ry.append(row[cy.index])
            z.append(try finite(row[cz.index], "\(path)[\(cz.index)]") * cz.scale); rz.append(row[cz.index])
        }
        let t0: Double
        if let ts = p["timestamp"], !ts.isNull {
            t0 = try time(ts, "payload.timestamp")
        } else if let iat = o["protected"]?["iat"] {
            t0 = try time(iat, "protected.iat")
        } else {
            throw DecodeError(.missingField, "no start time: expected `protected.iat` or `payload.timestamp` (epoch seconds)")
        }
        let times = (0..<x.count).map { t0 + Double($0) / hz }
        return message(x: Axis(field: cx.name, values: x, raw: .array(rx)), y: Axis(field: cy.name, values: y, raw: .array(ry)),
                       z: Axis(field: cz.name, values: z, raw: .array(rz)), times: times)
    }
}
