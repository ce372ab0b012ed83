import CareSupport

/// One thing wrong in a config: where (field path, and line:column when the document was parsed with positions),
/// what, and how to fix it.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var position: JSONPosition?
    public init(path: String, message: String, position: JSONPosition? = nil) {
        self.path = path; self.message = message; self.position = position
    }
    public var description: String {
        let at = position.map { "\($0): " } ?? ""
        return "\(at)\(path.isEmpty ? "(root)" : path): \(message)"
    }
}

/// Every problem found in one pass over an escalation config.
public struct EscalationConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String?
    public var issues: [ConfigIssue]
    public var description: String {
        let head = "the escalation config\(file.map { " \($0)" } ?? "") has \(issues.count) problem\(issues.count == 1 ? "" : "s"):"
        return ([head] + issues.map { "  \(file.map { "\($0):" } ?? "")\($0)" }).joined(separator: "\n")
    }
}

/// Reads typed fields out of `JSONValue`s, recording every problem with its path instead of stopping at the first.
public struct ConfigReader: Sendable {
    public private(set) var issues: [ConfigIssue] = []
    /// Paths of secrets written into the config itself instead of a file or a systemd credential.
    public private(set) var inlineSecrets: [String] = []
    let positions: [String: JSONPosition]

    public init(positions: [String: JSONPosition] = [:]) { self.positions = positions }

    public mutating func fail(_ path: String, _ message: String) {
        // A missing field has no position of its own: point at its parent object.
        var p: String? = path
        var pos: JSONPosition?
        while let q = p, pos == nil {
            pos = positions[q]
            if q.isEmpty { break }
            if let dot = q.lastIndex(where: { $0 == "." || $0 == "[" }) { p = String(q[..<dot]) } else { p = "" }
        }
        issues.append(ConfigIssue(path: path, message: message, position: pos))
    }

    public static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public mutating func object(_ v: JSONValue?, _ path: String) -> JSONObject? {
        guard let v, !v.isNull else { return nil }
        guard let o = v.objectValue else { fail(path, "expected an object, found \(v.typeName)"); return nil }
        return o
    }

    public mutating func array(_ o: JSONObject, _ key: String, _ path: String) -> [JSONValue] {
        guard let v = o[key], !v.isNull else { return [] }
        guard let a = v.arrayValue else { fail(Self.join(path, key), "expected an array, found \(v.typeName)"); return [] }
        return a
    }

    /// Flags keys the schema does not know (a typo would otherwise silently fall back to a default).
    public mutating func allowOnly(_ o: JSONObject, _ known: [String], _ path: String) {
        for k in o.keys where !known.contains(k) {
            fail(Self.join(path, k), "unknown field \"\(k)\"\(Suggestion.didYouMean(k, known)); known fields here: \(known.joined(separator: ", "))")
        }
    }

    public mutating func string(_ o: JSONObject, _ key: String, _ path: String, required: Bool = false) -> String? {
        let p = Self.join(path, key)
        guard let v = o[key], !v.isNull else {
            if required { fail(p, "is required (a string)") }
            return nil
        }
        guard let s = v.stringValue else { fail(p, "expected a string, found \(v.typeName)"); return nil }
        if required && s.isEmpty { fail(p, "must not be empty"); return nil }
        return s
    }

    public mutating func bool(_ o: JSONObject, _ key: String, _ path: String, default d: Bool) -> Bool {
        guard let v = o[key], !v.isNull else { return d }
        guard let b = v.boolValue else { fail(Self.join(path, key), "expected true or false, found \(v.typeName)"); return d }
        return b
    }

    public mutating func int(_ o: JSONObject, _ key: String, _ path: String, default d: Int, range: ClosedRange<Int>) -> Int {
        guard let v = o[key], !v.isNull else { return d }
        let p = Self.join(path, key)
        guard let x = v.doubleValue else { fail(p, "expected a number, found \(v.typeName)"); return d }
        guard x == x.rounded(), x >= Double(range.lowerBound), x <= Double(range.upperBound) else {
            fail(p, "must be a whole number from \(range.lowerBound) to \(range.upperBound), found \(JSONWriter.format(x))")
            return d
        }
        return Int(x)
    }

    public mutating func stringList(_ o: JSONObject, _ key: String, _ path: String) -> [String] {
        var out: [String] = []
        for (i, v) in array(o, key, path).enumerated() {
            guard let s = v.stringValue else { fail("\(Self.join(path, key))[\(i)]", "expected a string, found \(v.typeName)"); continue }
            out.append(s)
        }
        return out
    }

    /// A secret: a string, or where to read it now: `{"file": PATH}`, or `{"credential": NAME}` from
    /// `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=NAME:…`).
    public mutating func secret(_ o: JSONObject, _ key: String, _ path: String, required: Bool = false) -> Secret? {
        let p = Self.join(path, key)
        let forms = "a string, {\"file\": PATH} or {\"credential\": NAME}"
        guard let v = o[key], !v.isNull else {
            if required { fail(p, "is required: \(forms)") }
            return nil
        }
        if let s = v.stringValue {
            inlineSecrets.append(p)
            return Secret(s)
        }
        guard let reference = v.objectValue else {
            fail(p, "expected \(forms), found \(v.typeName)")
            return nil
        }
        do { return try Secret(reference: reference) } catch {
            fail(error.member.map { Self.join(p, $0) } ?? p, error.message)
            return nil
        }
    }
}
