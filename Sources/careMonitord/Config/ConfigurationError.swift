import CareSupport

/// Every problem found in a config file, in one pass: each names the file, the line and column, the field path and
/// the rule, so a person can fix them all at once.
struct ConfigurationError: Error, CustomStringConvertible {
    struct Problem: CustomStringConvertible {
        var path: String
        var position: JSONPosition?
        var message: String
        var description: String { (path.isEmpty ? "" : "\(path): ") + message }
    }
    var file: String
    var problems: [Problem]

    var description: String {
        problems.map { p in
            let at = p.position.map { "\(file):\($0.line):\($0.column)" } ?? file
            return "\(at): \(p)"
        }.joined(separator: "\n")
    }
}

/// Reads typed fields from a parsed config document, collecting problems instead of stopping at the first.
struct ConfigReader {
    let document: JSONDocument
    var problems: [ConfigurationError.Problem] = []

    init(document: JSONDocument) { self.document = document }

    mutating func problem(_ path: String, _ message: String) {
        problems.append(.init(path: path, position: document.position(of: path) ?? nearestPosition(path), message: message))
    }

    /// The position of the closest enclosing value that has one (for missing keys).
    func nearestPosition(_ path: String) -> JSONPosition? {
        var p = path
        while !p.isEmpty {
            if let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) { p = String(p[..<cut]) } else { p = "" }
            if let pos = document.position(of: p) { return pos }
        }
        return document.position(of: "")
    }

    static func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }

    mutating func object(_ value: JSONValue?, at path: String) -> JSONObject? {
        guard let value else { return nil }
        guard case .object(let o) = value else {
            problem(path, "expected an object, found \(value.typeName)")
            return nil
        }
        return o
    }

    mutating func string(_ o: JSONObject, _ key: String, at base: String, default d: String? = nil,
                         required: Bool = false) -> String? {
        let path = Self.join(base, key)
        guard let v = o[key], !v.isNull else {
            if required { problem(path, "is required") }
            return d
        }
        guard case .string(let s) = v else {
            problem(path, "expected a string, found \(v.typeName)")
            return d
        }
        return s
    }

    mutating func number(_ o: JSONObject, _ key: String, at base: String, default d: Double? = nil,
                         range: ClosedRange<Double>? = nil) -> Double? {
        let path = Self.join(base, key)
        guard let v = o[key], !v.isNull else { return d }
        guard case .number(let n) = v else {
            problem(path, "expected a number, found \(v.typeName)")
            return d
        }
        if let range, !range.contains(n.value) {
            problem(path, "\(n.text) is out of range: expected \(JSONWriter.format(range.lowerBound))…\(JSONWriter.format(range.upperBound))")
            return d
        }
        return n.value
    }

    mutating func bool(_ o: JSONObject, _ key: String, at base: String, default d: Bool) -> Bool {
        let path = Self.join(base, key)
        guard let v = o[key], !v.isNull else { return d }
        guard case .bool(let b) = v else {
            problem(path, "expected true or false, found \(v.typeName)")
            return d
        }
        return b
    }

    /// Flags keys that are not in `known` (typos would otherwise be silently ignored).
    mutating func rejectUnknownKeys(_ o: JSONObject, at base: String, known: [String]) {
        for k in o.keys where !known.contains(k) {
            problem(Self.join(base, k), "unknown key\(Suggestion.didYouMean(k, known)); known keys here: \(known.joined(separator: ", "))")
        }
    }
}
