import Anomaly
import CareSupport

/// Reading a payload's bytes: the size limit, JSON, plain text. Shared by every decoder.
enum PayloadReading {
    /// Rejects a payload over the limit before anything reads it.
    static func checkSize(_ payload: UnsafeRawBufferPointer, _ options: DecoderOptions) throws(DecodeError) {
        if payload.count > options.maxPayloadBytes {
            throw DecodeError(.tooLarge, "the payload is \(payload.count) bytes, over the limit of \(options.maxPayloadBytes) "
                + "bytes (raise `maxPayloadBytes` if this device really sends such messages)")
        }
    }

    /// Parses the whole payload as JSON; a syntax error names its line and column.
    static func json(_ payload: UnsafeRawBufferPointer, _ options: DecoderOptions) throws(DecodeError) -> JSONValue {
        try checkSize(payload, options)
        do {
            return try JSONParser.parse(payload)
        } catch {
            throw DecodeError(.malformedJSON, "the payload is not valid JSON: \(error.description)")
        }
    }

    /// Parses the payload as a JSON object.
    static func object(_ payload: UnsafeRawBufferPointer, _ options: DecoderOptions, what: String) throws(DecodeError) -> JSONObject {
        let value = try json(payload, options)
        guard case .object(let object) = value else {
            throw DecodeError(.wrongType, "expected \(what) as a JSON object, found \(value.typeName)")
        }
        return object
    }

    /// The payload as UTF-8 text with surrounding ASCII whitespace removed.
    static func text(_ payload: UnsafeRawBufferPointer, _ options: DecoderOptions) throws(DecodeError) -> String {
        try checkSize(payload, options)
        var start = 0, end = payload.count
        while start < end, isSpace(payload[start]) { start += 1 }
        while end > start, isSpace(payload[end - 1]) { end -= 1 }
        let slice = UnsafeRawBufferPointer(rebasing: payload[start..<end])
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw DecodeError(.wrongType, "the payload is neither JSON nor UTF-8 text")
        }
        return text
    }

    /// A plain-text payload as the value it spells: a `.number` (text kept as written) when it is a JSON number
    /// literal (`0.00`, `-53`), otherwise a `.string` of the text (`ON`, `online`, `true`).
    static func plain(_ payload: UnsafeRawBufferPointer, _ options: DecoderOptions) throws(DecodeError) -> JSONValue {
        let text = try text(payload, options)
        if let number = numberLiteral(text) { return .number(number) }
        return .string(text)
    }

    /// For topics whose payload is either JSON (objects, JSON-encoded strings and booleans) or plain text: JSON when
    /// the text is a JSON document, else plain text. A payload that starts like a JSON object or array but does not
    /// parse is malformed JSON, not text.
    static func jsonOrPlain(_ payload: UnsafeRawBufferPointer, _ options: DecoderOptions) throws(DecodeError) -> JSONValue {
        let text = try text(payload, options)
        guard let first = text.utf8.first else { return .string("") }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") || first == UInt8(ascii: "\"") {
            return try json(payload, options)
        }
        if let number = numberLiteral(text) { return .number(number) }
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        if text == "null" { return .null }
        return .string(text)
    }

    /// `text` as a JSON number literal, or nil. Stricter than `Double(_:)` (no `nan`, `inf`, hex, leading `+`).
    static func numberLiteral(_ text: String) -> JSONNumber? {
        guard let first = text.utf8.first,
              first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")),
              text.utf8.count <= 64,
              case .number(let n)? = try? JSONParser.parse(text)
        else { return nil }
        return n
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
}

/// Typed access to one field's JSON value. `path` is the stack's field path used in errors and in `Reading.field`.
/// `null` and `""` mean "no value" (Zigbee2MQTT publishes `null` for unknown values) and give nil, never an error.
enum FieldValue {
    /// A finite number; a string holding a JSON number literal is accepted (OwnTracks sends `"rad":"50"`).
    static func number(_ value: JSONValue, _ path: String) throws(DecodeError) -> Double? {
        switch value {
        case .null: return nil
        case .number(let n):
            guard n.value.isFinite else { throw DecodeError(.outOfRange, "`\(path)`: \(n.text) is not a finite number") }
            return n.value
        case .string(let s):
            if s.isEmpty { return nil }
            if let n = PayloadReading.numberLiteral(s.trimmingASCIISpaces), n.value.isFinite { return n.value }
            throw wrong(path, "a number", value)
        default:
            throw wrong(path, "a number", value)
        }
    }

    /// A JSON boolean.
    static func bool(_ value: JSONValue, _ path: String) throws(DecodeError) -> Bool? {
        switch value {
        case .null: return nil
        case .bool(let b): return b
        default: throw wrong(path, "true or false", value)
        }
    }

    /// A boolean spelled the way devices spell it: JSON `true`/`false`, `0`/`1`, or the text
    /// `ON`/`OFF`, `true`/`false`, `1`/`0`, `yes`/`no` (any case).
    static func flag(_ value: JSONValue, _ path: String) throws(DecodeError) -> Bool? {
        switch value {
        case .null: return nil
        case .bool(let b): return b
        case .number(let n):
            if n.value == 1 { return true }
            if n.value == 0 { return false }
            throw DecodeError(.outOfRange, "`\(path)`: expected 0 or 1, found \(n.text)")
        case .string(let s):
            if s.isEmpty { return nil }
            if let b = flagWord(s) { return b }
            throw DecodeError(.wrongType, "`\(path)`: expected ON or OFF, found \"\(s.clipped)\"")
        default:
            throw wrong(path, "ON/OFF or true/false", value)
        }
    }

    static func flagWord(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "on", "true", "1", "yes": true
        case "off", "false", "0", "no": false
        default: nil
        }
    }

    /// A string; empty gives nil.
    static func string(_ value: JSONValue, _ path: String) throws(DecodeError) -> String? {
        switch value {
        case .null: return nil
        case .string(let s): return s.isEmpty ? nil : s
        default: throw wrong(path, "a string", value)
        }
    }

    static func wrong(_ path: String, _ expected: String, _ found: JSONValue) -> DecodeError {
        let shown: String
        switch found {
        case .string(let s): shown = "the string \"\(s.clipped)\""
        case .number(let n): shown = "the number \(n.text.clipped)"
        case .bool(let b): shown = "\(b)"
        default: shown = found.typeName
        }
        return DecodeError(.wrongType, "`\(path)`: expected \(expected), found \(shown)")
    }
}

/// Epoch time from the stacks' timestamp spellings.
enum EpochTime {
    /// 2000-01-01 to 2100-01-01: a timestamp outside is an uptime counter or a clock that was never set.
    static func isPlausible(_ t: Double) -> Bool { t.isFinite && t >= 946_684_800 && t < 4_102_444_800 }

    /// Parses ISO 8601 / RFC 3339 date-times that carry a zone (`2024-01-09T22:21:25+00:00`, `…Z`, `…+0800`,
    /// fractions allowed). A local time without a zone (Tasmota's `Time`) gives nil: it is not epoch time.
    static func iso8601(_ text: String) -> Double? {
        let b = Array(text.utf8)
        guard b.count >= 20, b.count <= 40 else { return nil }
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                let c = b[i]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int(c - UInt8(ascii: "0"))
            }
            return v
        }
        guard let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2), b[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "t"),
              let hour = digits(11, 2), b[13] == UInt8(ascii: ":"), let minute = digits(14, 2),
              b[16] == UInt8(ascii: ":"), let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                fraction += Double(b[i] - UInt8(ascii: "0")) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }   // no zone: device-local time
        var offset = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = digits(i, 2), oh < 24 else { return nil }
            i += 2
            var om = 0
            if i < b.count, b[i] == UInt8(ascii: ":") { i += 1 }
            if i < b.count {
                guard let m = digits(i, 2), m < 60 else { return nil }
                om = m
                i += 2
            }
            offset = sign * (oh * 3600 + om * 60)
        default:
            return nil
        }
        guard i == b.count else { return nil }
        let days = Timestamp.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Double(seconds) + fraction
    }
}

extension String {
    /// At most 40 characters, for error messages.
    var clipped: String { count > 40 ? String(prefix(40)) + "…" : self }

    var trimmingASCIISpaces: String {
        let u = utf8
        guard let first = u.firstIndex(where: { !PayloadReading.isSpace($0) }),
              let last = u.lastIndex(where: { !PayloadReading.isSpace($0) }) else { return "" }
        return String(decoding: u[first...last], as: UTF8.self)
    }
}
