/// An MQTT topic filter (MQTT 3.1.1 §4.7 / 5.0 §4.7): validated once, then matched against topics, capturing the
/// text each wildcard matched.
///
/// - `+` matches exactly one level (which may be empty) and must fill its level: `a/+/c`, not `a/b+/c`.
/// - `#` matches the parent level and any number of levels below it; it must be last and fill its level: `a/#`
///   matches `a`, `a/b`, `a/b/c`.
/// - A filter starting with a wildcard does not match topics starting with `$` (`$SYS/…`).
/// - `$share/<group>/<filter>` (shared subscription) is accepted: it matches as `<filter>`.
/// Topic levels are compared byte for byte (case-sensitive; spaces are ordinary characters).
public struct TopicFilter: Sendable, Hashable, CustomStringConvertible {
    enum Level: Sendable, Hashable {
        case literal(Substring)
        case single
        case multi
    }

    /// The filter as written (with any `$share/<group>/` prefix), as subscribed.
    public let text: String
    let levels: [Level]

    /// A filter longer than this is not valid MQTT (the UTF-8 string length is a 16-bit field).
    public static let maximumLength = 65_535

    public init(_ text: String) throws(TopicFilterError) {
        guard !text.isEmpty else { throw TopicFilterError(filter: text, message: "the topic filter is empty") }
        guard text.utf8.count <= Self.maximumLength else {
            throw TopicFilterError(filter: text, message: "the topic filter is \(text.utf8.count) bytes, over MQTT's \(Self.maximumLength)")
        }
        guard !text.unicodeScalars.contains("\u{0}") else {
            throw TopicFilterError(filter: text, message: "the topic filter contains a NUL character")
        }
        var body = Substring(text)
        if text.hasPrefix("$share/") {
            let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty else {
                throw TopicFilterError(filter: text, message: "a shared subscription is `$share/<group>/<filter>` with a group name and a filter")
            }
            guard !parts[1].contains("+"), !parts[1].contains("#") else {
                throw TopicFilterError(filter: text, message: "the share group name `\(parts[1])` may not contain + or #")
            }
            body = parts[2]
        }
        let raw = body.split(separator: "/", omittingEmptySubsequences: false)
        var levels: [Level] = []
        levels.reserveCapacity(raw.count)
        for (i, level) in raw.enumerated() {
            if level == "#" {
                guard i == raw.count - 1 else {
                    throw TopicFilterError(filter: text, message: "`#` must be the last level (`a/#`), found it at level \(i + 1) of \(raw.count)")
                }
                levels.append(.multi)
            } else if level == "+" {
                levels.append(.single)
            } else if level.contains("#") || level.contains("+") {
                throw TopicFilterError(filter: text, message: "a wildcard must fill its whole level: `\(level)` mixes + or # with text (use `+` or `#` alone between slashes)")
            } else {
                levels.append(.literal(level))
            }
        }
        self.text = text
        self.levels = levels
    }

    public var description: String { text }

    /// True when the filter has a `+` or `#`.
    public var hasWildcards: Bool { levels.contains { if case .literal = $0 { false } else { true } } }

    /// Whether `topic` matches.
    public func matches(_ topic: String) -> Bool {
        match(levels: topic.split(separator: "/", omittingEmptySubsequences: false)) != nil
    }

    /// The text each wildcard matched, in order (`#` gives the remaining levels joined with `/`, possibly empty),
    /// or nil when `topic` does not match. `wearable/+/accel` on `wearable/band1/accel` gives `["band1"]`.
    public func captures(_ topic: String) -> [Substring]? {
        match(levels: topic.split(separator: "/", omittingEmptySubsequences: false))
    }

    /// Matches a topic already split at `/` (the router splits once for all filters).
    func match(levels topic: [Substring]) -> [Substring]? {
        if let first = topic.first?.first, first == "$", let lead = levels.first {
            if case .literal = lead {} else { return nil }
        }
        var captures: [Substring] = []
        var i = 0
        for level in levels {
            switch level {
            case .multi:
                if i >= topic.count { captures.append("") } else {
                    // The remaining levels are contiguous in the topic string: take them as one slice.
                    let start = topic[i].startIndex, end = topic[topic.count - 1].endIndex
                    captures.append(topic[i].base[start..<end])
                }
                return captures
            case .single:
                guard i < topic.count else { return nil }
                captures.append(topic[i])
            case .literal(let text):
                guard i < topic.count, topic[i] == text else { return nil }
            }
            i += 1
        }
        return i == topic.count ? captures : nil
    }

    /// How specifically the filter names topics, for choosing between overlapping filters: compared level by level,
    /// a literal beats `+`, which beats `#`, and ending exactly beats going on with `#`. Larger is more specific.
    var specificity: [UInt8] {
        levels.map { level -> UInt8 in
            switch level {
            case .literal: 2
            case .single: 1
            case .multi: 0
            }
        } + [3]
    }
}

/// An invalid topic filter, with the rule it breaks.
public struct TopicFilterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var filter: String
    public var message: String
    public init(filter: String, message: String) { self.filter = filter; self.message = message }
    public var description: String { "invalid topic filter \"\(filter)\": \(message)" }
}
