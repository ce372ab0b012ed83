import CareSupport

/// One entry of the config's `sources`: either a stack preset or a topic filter with a decoder.
///
/// ```json
/// "sources": [
///   {"preset": "zigbee2mqtt"},
///   {"topic": "wearable/+/accel", "format": "accel", "placement": "wrist", "qos": 0, "name": "wristband"}
/// ]
/// ```
/// - `preset`: one of `Preset.names`; subscribes to the stack's default topics with its decoder.
/// - `topic` + `format`: any MQTT filter and any decoder of `DecoderRegistry.names`; the text matched by the
///   wildcards names the device (`wearable/band1/accel` → `band1`; several wildcards: joined with `/`); a filter
///   without wildcards names the device after the source's `name`, else the topic's last level.
/// - `placement` (optional): where an accelerometer is worn (`Placement`).
/// - `qos` (optional, 0/1/2): default 1 for presets and alarm-ish formats, 0 for the high-rate `accel` and `senml`.
/// - `name` (optional): a label for the source in `explain`, logs and errors, instead of the preset or the filter.
public struct SourceConfiguration: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case preset(String)
        case topic(String, format: String)
    }

    public var kind: Kind
    public var placement: Placement?
    /// The QoS asked for; nil means the default (`effectiveQoS`).
    public var qos: Int32?
    public var name: String?

    public init(preset: String, qos: Int32? = nil, name: String? = nil) {
        self.kind = .preset(preset); self.qos = qos; self.name = name
    }

    public init(topic: String, format: String, placement: Placement? = nil, qos: Int32? = nil, name: String? = nil) {
        self.kind = .topic(topic, format: format); self.placement = placement; self.qos = qos; self.name = name
    }

    /// The decoder's name.
    public var format: String {
        switch kind {
        case .preset(let p): p
        case .topic(_, let f): f
        }
    }

    /// The QoS to subscribe with.
    public var effectiveQoS: Int32 {
        if let qos { return qos }
        switch kind {
        case .preset: return 1
        case .topic(_, let format): return Self.highRateFormats.contains(format) ? 0 : 1
        }
    }

    /// Formats whose messages are many and individually expendable: subscribed at QoS 0 by default.
    public static let highRateFormats: Set<String> = ["accel", "senml"]

    /// The name `explain` prints: the `name` key, else the preset's name, else the topic filter.
    public var displayName: String {
        if let name { return name }
        switch kind {
        case .preset(let p): return p
        case .topic(let t, _): return t
        }
    }

    public static let knownKeys = ["preset", "topic", "format", "placement", "qos", "name"]

    /// Reads the config's `sources` array, reporting every problem at once with its field path
    /// (`sources[1].format`). Names are checked against `Preset` and `DecoderRegistry`; filters are validated.
    public static func parse(_ value: JSONValue, path: String = "sources") throws(SourceConfigurationError) -> [SourceConfiguration] {
        var issues: [SourceConfigurationError.Issue] = []
        func issue(_ code: SourceConfigurationError.Code, _ at: String, _ message: String) {
            issues.append(.init(code: code, path: at, message: message))
        }
        guard case .array(let items) = value else {
            throw SourceConfigurationError(issues: [.init(code: .wrongType, path: path, message: "expected an array of sources, found \(value.typeName)")])
        }
        if items.isEmpty { issue(.missingKey, path, "no source: add at least one, e.g. {\"preset\": \"zigbee2mqtt\"}") }
        var sources: [SourceConfiguration] = []
        for (i, item) in items.enumerated() {
            let at = "\(path)[\(i)]"
            guard case .object(let o) = item else {
                issue(.wrongType, at, "expected a source object ({\"preset\": …} or {\"topic\": …, \"format\": …}), found \(item.typeName)")
                continue
            }
            for key in o.keys where !knownKeys.contains(key) {
                issue(.unknownKey, "\(at).\(key)", "unknown key \"\(key)\"\(Suggestion.didYouMean(key, knownKeys)); known keys: \(knownKeys.joined(separator: ", "))")
            }
            func string(_ key: String) -> String? {
                guard let v = o[key] else { return nil }
                guard case .string(let s) = v else { issue(.wrongType, "\(at).\(key)", "expected a string, found \(v.typeName)"); return nil }
                return s
            }
            let preset = string("preset"), topic = string("topic"), format = string("format"), name = string("name")
            let placementName = string("placement")
            var source: SourceConfiguration?
            switch (preset, topic) {
            case (let p?, nil):
                if format != nil {
                    issue(.conflictingKeys, "\(at).format", "a preset chooses its own decoder: remove \"format\", or use \"topic\" with \"format\"")
                }
                if Preset.named(p) == nil {
                    issue(.unknownPreset, "\(at).preset", "unknown preset \"\(p)\"\(Suggestion.didYouMean(p, Preset.names)); known presets: \(Preset.names.joined(separator: ", "))")
                } else {
                    source = SourceConfiguration(preset: p)
                }
            case (nil, let t?):
                var ok = true
                do { _ = try TopicFilter(t) } catch {
                    issue(.invalidFilter, "\(at).topic", error.description); ok = false
                }
                if let f = format {
                    if DecoderRegistry.entry(named: f) == nil {
                        issue(.unknownFormat, "\(at).format", "unknown format \"\(f)\"\(Suggestion.didYouMean(f, DecoderRegistry.names)); known formats: \(DecoderRegistry.names.joined(separator: ", "))")
                        ok = false
                    }
                    if ok { source = SourceConfiguration(topic: t, format: f) }
                } else if o["format"] == nil {
                    issue(.missingKey, "\(at).format", "a topic source needs a \"format\": one of \(DecoderRegistry.names.joined(separator: ", "))")
                }
            case (_?, _?):
                issue(.conflictingKeys, at, "a source has either \"preset\" or \"topic\" (with \"format\"), not both")
            case (nil, nil):
                if o["preset"] == nil && o["topic"] == nil {
                    issue(.missingKey, at, "a source needs \"preset\" (one of \(Preset.names.joined(separator: ", "))) or \"topic\" with \"format\"")
                }
            }
            if let placementName {
                if let placement = Placement(rawValue: placementName) {
                    source?.placement = placement
                } else {
                    let known = Placement.allCases.map(\.rawValue)
                    issue(.unknownPlacement, "\(at).placement", "unknown placement \"\(placementName)\"\(Suggestion.didYouMean(placementName, known)); known placements: \(known.joined(separator: ", "))")
                }
            }
            if let q = o["qos"] {
                if case .number(let n) = q, n.value == 0 || n.value == 1 || n.value == 2 {
                    source?.qos = Int32(n.value)
                } else {
                    issue(.outOfRange, "\(at).qos", "expected 0, 1 or 2, found \(q)")
                }
            }
            if let name {
                if name.isEmpty { issue(.outOfRange, "\(at).name", "the name is empty: remove it or give one") }
                source?.name = name
            }
            if let source { sources.append(source) }
        }
        // The same preset or filter twice would subscribe twice and route to the first only.
        var seen: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            guard case .object(let o) = item else { continue }
            let key: String
            if case .string(let p)? = o["preset"] { key = "preset " + p }
            else if case .string(let t)? = o["topic"] { key = "topic " + t }
            else { continue }
            if let first = seen[key] {
                issue(.duplicate, "\(path)[\(i)]", "the same \(key) as \(path)[\(first)]: list each once")
            } else {
                seen[key] = i
            }
        }
        guard issues.isEmpty else { throw SourceConfigurationError(issues: issues) }
        return sources
    }
}

/// Where an accelerometer is worn; fall detection thresholds depend on it.
public enum Placement: String, Sendable, CaseIterable {
    case wrist, waist, hip, chest, pendant, ankle, thigh, pocket, head, back
}

/// Problems in the config's `sources`, all of them, each with its field path.
public struct SourceConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case wrongType = "wrong-type"
        case missingKey = "missing-key"
        case unknownKey = "unknown-key"
        case conflictingKeys = "conflicting-keys"
        case unknownPreset = "unknown-preset"
        case unknownFormat = "unknown-format"
        case unknownPlacement = "unknown-placement"
        case invalidFilter = "invalid-filter"
        case outOfRange = "out-of-range"
        case duplicate = "duplicate"
    }

    public struct Issue: Sendable, Equatable, CustomStringConvertible {
        public var code: Code
        /// The field path in the config (`sources[1].format`), for locating it with `JSONDocument.position(of:)`.
        public var path: String
        /// What is wrong and how to fix it.
        public var message: String
        public init(code: Code, path: String, message: String) { self.code = code; self.path = path; self.message = message }
        public var description: String { "\(path): \(message)" }
    }

    public var issues: [Issue]
    public init(issues: [Issue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

