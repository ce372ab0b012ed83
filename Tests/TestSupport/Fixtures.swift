import CareSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The MQTT payload fixtures (real third-party payloads, one file each, listed with their topic, source and
/// provenance in `index.json`): the repository's copy in `Tests/Fixtures/mqtt` (taken from the project's
/// `shared/fixtures/mqtt`), so that a clone tests itself wherever it lies; `$CM_SHARED` points at another shared
/// folder instead (e.g. to test a newer fixture set). The project's own sets beside it (`vendor`: alarm-class
/// payloads the shared set lacks) have the same shape and are always read from the repository.
public enum Fixtures {
    public struct Entry: Sendable, Equatable {
        /// Path below the fixtures directory, `zigbee2mqtt/water_leak_capture.json`; its first level is the stack.
        public var file: String
        /// The topic as the index gives it, with placeholders (`<friendly_name>`) and sometimes a remark in parentheses.
        public var topic: String
        public var encoding: String
        public var note: String?
        public var stack: String { String(file.split(separator: "/").first ?? "") }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The directory of a fixture set (`mqtt`, the shared one, or `vendor`).
    public static func directory(set: String = "mqtt", filePath: String = #filePath) -> String {
        if set == "mqtt", let shared = getenv("CM_SHARED") {
            return String(cString: shared) + "/fixtures/mqtt"
        }
        // <repo>/Tests/TestSupport/Fixtures.swift → <repo>/Tests/Fixtures/<set>
        var parts = filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()   // Fixtures.swift
        return parts.joined(separator: "/") + "/../Fixtures/" + set
    }

    /// Every entry of a set's `index.json`, in index order.
    public static func index(set: String = "mqtt") throws -> [Entry] {
        let path = directory(set: set) + "/index.json"
        guard let bytes = DurableFile.read(path) else { throw Failure(description: "cannot read \(path): the fixtures are in Tests/Fixtures/mqtt (or set CM_SHARED to a shared folder)") }
        let root = try JSONParser.parse(bytes)
        guard case .array(let items)? = root["fixtures"] else { throw Failure(description: "\(path): no `fixtures` array") }
        var out: [Entry] = []
        for item in items {
            guard let file = item["file"]?.stringValue, let topic = item["topic"]?.stringValue else {
                throw Failure(description: "\(path): an entry without file or topic: \(item)")
            }
            out.append(Entry(file: file, topic: topic, encoding: item["encoding"]?.stringValue ?? "json",
                             note: item["note"]?.stringValue))
        }
        return out
    }

    /// A fixture's bytes (the exact MQTT payload).
    public static func payload(_ file: String, set: String = "mqtt") throws -> [UInt8] {
        let path = directory(set: set) + "/" + file
        guard let bytes = DurableFile.read(path) else { throw Failure(description: "cannot read \(path)") }
        return bytes
    }

    /// Placeholder topic parts as the shared `fixtures.py` check substitutes them.
    public static let substitutions: [(String, String)] = [
        ("<TOPIC_PREFIX>", "livingroom_node"), ("<name>", "hall"), ("<FRIENDLY_NAME>", "hall_sensor"),
        ("<friendly_name>", "hall_sensor"), ("<user>", "linda"), ("<device>", "phone"), ("<topic>", "tasmota_hall"),
        ("%topic%", "tasmota_hall"), ("DEVICE", "band1"), ("XXXXXX", "A1B2C3"),
    ]

    /// A concrete topic for an entry: placeholders substituted, a trailing remark in parentheses dropped, and the
    /// high-rate fixtures (which have no MQTT topic) put where the shared check puts them.
    public static func concreteTopic(_ entry: Entry) -> String {
        if entry.stack == "highrate" {
            return entry.file.contains("senml") ? "senml/meter1" : "wearable/band1/accel"
        }
        var topic = entry.topic
        if let paren = topic.firstIndex(of: "(") {
            topic = String(topic[..<paren])
            while topic.last == " " { topic.removeLast() }
        }
        for (placeholder, value) in substitutions { topic = replacing(placeholder, with: value, in: topic) }
        return topic
    }

    static func replacing(_ target: String, with replacement: String, in text: String) -> String {
        guard !target.isEmpty else { return text }
        var out = ""
        var rest = Substring(text)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
