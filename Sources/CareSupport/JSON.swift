/// A JSON value as parsed by `JSONParser`: objects keep their members in document order, numbers keep the exact
/// text they were written with (so that `explain` can show "the value exactly as in the payload").
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var doubleValue: Double? { if case .number(let n) = self { n.value } else { nil } }
    public var isNull: Bool { if case .null = self { true } else { false } }
    /// The number as an `Int64` when it is a whole number in range; nil for fractions, NaN, infinities and numbers
    /// too large (a hand-edited or corrupt file must not crash a conversion).
    public var exactInt64: Int64? { doubleValue.flatMap { $0.isFinite ? Int64(exactly: $0.rounded()) : nil } }
    /// `exactInt64` as an `Int`.
    public var exactInt: Int? { exactInt64.flatMap { Int(exactly: $0) } }

    /// The JSON type's name, for error messages ("expected a number, found a string").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public static func number(_ value: Double) -> JSONValue { .number(JSONNumber(value)) }
}

/// A JSON number: its value and its text as written (`21.50` stays `21.50`).
public struct JSONNumber: Sendable, Equatable {
    public var value: Double
    public var text: String
    public init(_ value: Double, text: String? = nil) {
        self.value = value
        self.text = text ?? JSONWriter.format(value)
    }
    public static func == (a: JSONNumber, b: JSONNumber) -> Bool { a.value == b.value }
}

/// A JSON object with its members in document order. Lookup is linear: payloads and config objects are small.
public struct JSONObject: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) { self.key = key; self.value = value }
    }
    public var members: [Member]
    public init(_ members: [Member] = []) { self.members = members }

    public subscript(key: String) -> JSONValue? {
        get { members.first(where: { $0.key == key })?.value }
        set {
            if let i = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }
    public var keys: [String] { members.map(\.key) }
    public var isEmpty: Bool { members.isEmpty }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.members = elements.map { Member(key: $0.0, value: $0.1) }
    }
}

/// Where a value starts in the document (1-based line and column, column counted in bytes).
public struct JSONPosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// A JSON syntax error with the line and column where it was found (Foundation on Linux loses them).
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: JSONPosition
    public var offset: Int
    public var message: String
    public var description: String { "line \(position.line), column \(position.column): \(message)" }
}

/// A parsed document with the position of every value, keyed by its path (`sources[1].topic`; the root is `""`).
public struct JSONDocument: Sendable {
    public var root: JSONValue
    public var positions: [String: JSONPosition]
    public func position(of path: String) -> JSONPosition? { positions[path] }
}

/// A strict RFC 8259 parser over UTF-8 bytes, with limits on depth and size so that hostile payloads cannot exhaust
/// the stack. Records value positions only when asked (configs), so decoding payloads pays nothing for them.
public struct JSONParser {
    public static let maximumDepth = 64

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONValue {
        var p = Implementation(bytes: bytes, recordPositions: false)
        return try p.parseDocument()
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let r: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBytes { buf in Result { () throws(JSONSyntaxError) in try parse(buf) } }
        return try r.get()
    }

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses and records the position of every value by path, for config loading.
    public static func parseDocument(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONDocument {
        let r: Result<JSONDocument, JSONSyntaxError> = bytes.withUnsafeBytes { buf in
            Result { () throws(JSONSyntaxError) in
                var p = Implementation(bytes: buf, recordPositions: true)
                let root = try p.parseDocument()
                return JSONDocument(root: root, positions: p.positions)
            }
        }
        return try r.get()
    }

    struct Implementation {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        var depth = 0
        let recordPositions: Bool
        var positions: [String: JSONPosition] = [:]
        var path: [PathComponent] = []

        enum PathComponent { case key(String), index(Int) }

        init(bytes: UnsafeRawBufferPointer, recordPositions: Bool) {
            self.bytes = bytes
            self.recordPositions = recordPositions
        }

        func position(at offset: Int) -> JSONPosition {
            var line = 1, lineStart = 0
            var i = 0
            while i < offset && i < bytes.count {
                if bytes[i] == UInt8(ascii: "\n") { line += 1; lineStart = i + 1 }
                i += 1
            }
            return JSONPosition(line: line, column: offset - lineStart + 1)
        }

        func fail(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
            let o = offset ?? index
            return JSONSyntaxError(position: position(at: o), offset: o, message: message)
        }

        func describeHere() -> String {
            guard index < bytes.count else { return "the end of the input" }
            let b = bytes[index]
            if b >= 0x20 && b < 0x7f { return "'\(Character(Unicode.Scalar(b)))'" }
            return "byte 0x\(String(b, radix: 16))"
        }

        static func pathString(_ path: [PathComponent]) -> String {
            var s = ""
            for c in path {
                switch c {
                case .key(let k): s += s.isEmpty ? k : ".\(k)"
                case .index(let i): s += "[\(i)]"
                }
            }
            return s
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
            skipWhitespace()
            if index == bytes.count { throw fail("the input is empty: expected a JSON value") }
            let v = try parseValue()
            skipWhitespace()
            if index != bytes.count { throw fail("unexpected \(describeHere()) after the JSON value") }
            return v
        }

        mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input: the JSON is truncated") }
            if recordPositions { positions[Self.pathString(path)] = position(at: index) }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject()
            case UInt8(ascii: "["): return try parseArray()
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            default: throw fail("unexpected \(describeHere()): expected a JSON value")
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
            let start = index
            let n = word.utf8CodeUnitCount
            guard index + n <= bytes.count else { throw fail("unexpected end of input in '\(word)'", at: start) }
            for i in 0..<n where bytes[index + i] != word.utf8Start[i] {
                throw fail("invalid literal: expected '\(word)'", at: start)
            }
            index += n
        }

        mutating func enter() throws(JSONSyntaxError) {
            depth += 1
            if depth > JSONParser.maximumDepth { throw fail("nesting deeper than \(JSONParser.maximumDepth) levels") }
        }

        mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
            try enter()
            index += 1
            var members: [JSONObject.Member] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
                index += 1; depth -= 1
                return .object(JSONObject(members))
            }
            while true {
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input in an object: the JSON is truncated") }
                guard bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a quoted member name, found \(describeHere())") }
                let key = try parseString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw fail(index < bytes.count ? "expected ':' after member name \"\(key)\", found \(describeHere())"
                               : "unexpected end of input after member name \"\(key)\"")
                }
                index += 1
                if recordPositions { path.append(.key(key)) }
                let value = try parseValue()
                if recordPositions { path.removeLast() }
                members.append(JSONObject.Member(key: key, value: value))
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input in an object: the JSON is truncated") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; break }
                throw fail("expected ',' or '}' in an object, found \(describeHere())")
            }
            depth -= 1
            return .object(JSONObject(members))
        }

        mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
            try enter()
            index += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                index += 1; depth -= 1
                return .array(items)
            }
            while true {
                if recordPositions { path.append(.index(items.count)) }
                items.append(try parseValue())
                if recordPositions { path.removeLast() }
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input in an array: the JSON is truncated") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; break }
                throw fail("expected ',' or ']' in an array, found \(describeHere())")
            }
            depth -= 1
            return .array(items)
        }

        mutating func parseNumber() throws(JSONSyntaxError) -> JSONNumber {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number: a digit must follow '-'", at: start) }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count && isDigit(bytes[index]) { throw fail("invalid number: leading zeros are not allowed", at: start) }
            } else {
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number: a digit must follow '.'", at: start) }
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
                index += 1
                if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number: a digit must follow the exponent", at: start) }
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
            let text = String(decoding: slice, as: UTF8.self)
            guard let value = Double(text) else { throw fail("invalid number '\(text)'", at: start) }
            return JSONNumber(value, text: text)
        }

        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

        mutating func parseString() throws(JSONSyntaxError) -> String {
            let start = index
            index += 1
            // Fast path: no escapes.
            var scan = index
            while scan < bytes.count {
                let b = bytes[scan]
                if b == UInt8(ascii: "\"") {
                    let s = try validatedString(UnsafeRawBufferPointer(rebasing: bytes[index..<scan]), at: index)
                    index = scan + 1
                    return s
                }
                if b == UInt8(ascii: "\\") || b < 0x20 { break }
                scan += 1
            }
            var out: [UInt8] = []
            out.reserveCapacity(scan - index + 16)
            while true {
                guard index < bytes.count else { throw fail("unterminated string: the JSON is truncated", at: start) }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") { index += 1; break }
                if b < 0x20 { throw fail("control character 0x\(String(b, radix: 16)) in a string (escape it)") }
                if b != UInt8(ascii: "\\") { out.append(b); index += 1; continue }
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape in a string", at: start) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired UTF-16 surrogate in \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw fail("invalid UTF-16 low surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw fail("unpaired UTF-16 surrogate in \\u escape")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string", at: index - 2)
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string is not valid UTF-8", at: start) }
            return s
        }

        mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                let d: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw fail("invalid hex digit in \\u escape")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }

        func validatedString(_ buf: UnsafeRawBufferPointer, at offset: Int) throws(JSONSyntaxError) -> String {
            guard let s = String(validating: buf, as: UTF8.self) else { throw fail("a string is not valid UTF-8", at: offset) }
            return s
        }
    }
}

/// Writes compact JSON. Numbers print in the shortest form that reads back exactly; non-finite numbers as null.
public enum JSONWriter {
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    public static func quoted(_ s: String) -> String {
        var out = "\""
        appendEscaped(s, to: &out)
        out += "\""
        return out
    }

    public static func appendEscaped(_ s: String, to out: inout String) {
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
    }

    public static func serialize(_ v: JSONValue) -> String {
        var out = ""
        write(v, to: &out)
        return out
    }

    public static func write(_ v: JSONValue, to out: inout String) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n.value.isFinite ? n.text : "null"
        case .string(let s): out += "\""; appendEscaped(s, to: &out); out += "\""
        case .array(let a):
            out += "["
            for (i, item) in a.enumerated() {
                if i > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, m) in o.members.enumerated() {
                if i > 0 { out += "," }
                out += "\""; appendEscaped(m.key, to: &out); out += "\":"
                write(m.value, to: &out)
            }
            out += "}"
        }
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { JSONWriter.serialize(self) }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { JSONObject.Member(key: $0.0, value: $0.1) }))
    }
}
