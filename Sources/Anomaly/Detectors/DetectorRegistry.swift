import CareSupport

/// A problem in the `detectors` section of a config: the field path and what to do.
public struct DetectorConfigurationError: Error, Sendable, CustomStringConvertible {
    public struct Issue: Sendable, CustomStringConvertible {
        public var path: String
        public var message: String
        public init(path: String, message: String) { self.path = path; self.message = message }
        public var description: String { "\(path): \(message)" }
    }
    public var issues: [Issue]
    public init(_ issues: [Issue]) { self.issues = issues }
    public init(path: String, _ message: String) { issues = [Issue(path: path, message: message)] }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// The one table from config name to detector factory. Every family is on by default (defaults that work);
/// `"detectors": {"fall": {"enabled": false}}` turns one off, and each family's own keys tune it.
public enum DetectorRegistry {
    public struct Entry: Sendable {
        public var name: String
        public var kinds: [DetectionKind]
        /// Reads the family's settings (`detectors.<name>`, nil when absent) and makes it.
        public var make: @Sendable (JSONObject?, String, DetectorContext) throws(DetectorConfigurationError) -> any Detector
    }

    public static let entries: [Entry] = [
        Entry(name: AlarmDetector.name, kinds: AlarmDetector.kinds, make: AlarmDetector.make),
        Entry(name: FallDetector.name, kinds: FallDetector.kinds, make: FallDetector.make),
        Entry(name: RoutineDetector.name, kinds: RoutineDetector.kinds, make: RoutineDetector.make),
        Entry(name: ThresholdDetector.name, kinds: ThresholdDetector.kinds, make: ThresholdDetector.make),
        Entry(name: SensorHealthDetector.name, kinds: SensorHealthDetector.kinds, make: SensorHealthDetector.make),
    ]

    public static var names: [String] { entries.map(\.name) }
}

/// Small typed readers for detector settings, collecting problems with their paths.
public struct SettingsReader {
    public let object: JSONObject
    public let path: String
    public var issues: [DetectorConfigurationError.Issue] = []

    public init(_ object: JSONObject?, path: String) {
        self.object = object ?? JSONObject()
        self.path = path
    }

    public mutating func number(_ key: String, default d: Double, range: ClosedRange<Double>) -> Double {
        guard let v = object[key], !v.isNull else { return d }
        guard let n = v.doubleValue else {
            issues.append(.init(path: "\(path).\(key)", message: "expected a number, found \(v.typeName)"))
            return d
        }
        guard range.contains(n) else {
            issues.append(.init(path: "\(path).\(key)", message: "\(JSONWriter.format(n)) is out of range \(JSONWriter.format(range.lowerBound))…\(JSONWriter.format(range.upperBound))"))
            return d
        }
        return n
    }

    public mutating func bool(_ key: String, default d: Bool) -> Bool {
        guard let v = object[key], !v.isNull else { return d }
        guard let b = v.boolValue else {
            issues.append(.init(path: "\(path).\(key)", message: "expected true or false, found \(v.typeName)"))
            return d
        }
        return b
    }

    public mutating func strings(_ key: String, default d: [String]) -> [String] {
        guard let v = object[key], !v.isNull else { return d }
        guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
            issues.append(.init(path: "\(path).\(key)", message: "expected an array of strings"))
            return d
        }
        return a.compactMap(\.stringValue)
    }

    /// Flags keys the family does not know.
    public mutating func rejectUnknown(_ known: [String]) {
        for k in object.keys where !known.contains(k) && k != "enabled" {
            issues.append(.init(path: "\(path).\(k)", message: "unknown setting\(Suggestion.didYouMean(k, ["enabled"] + known)); known: \((["enabled"] + known).joined(separator: ", "))"))
        }
    }

    public func finish() throws(DetectorConfigurationError) {
        if !issues.isEmpty { throw DetectorConfigurationError(issues) }
    }
}
