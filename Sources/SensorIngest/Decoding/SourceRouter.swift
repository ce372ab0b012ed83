import CareSupport

/// Where one MQTT message goes: which configured source it belongs to, the device it names and the decoder to use.
public struct Route: Sendable {
    /// The source's index in the config's `sources`.
    public var sourceIndex: Int
    /// The source as `explain` prints it: its `name`, else the preset name, else the topic filter.
    public var sourceName: String
    /// The device named by the topic (see `Preset` and `SourceConfiguration`).
    public var device: String
    /// The decoder's name (`zigbee2mqtt`, `accel`…).
    public var format: String
    public var placement: Placement?
    public var decoder: any PayloadDecoder

    /// Decodes a payload of the routed topic.
    public func decode(topic: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage {
        try decoder.decode(topic: topic, device: device, payload: payload)
    }
}

/// Routes topics to the configured sources and lists the subscriptions they need.
///
/// **Which source gets a topic that several match:** the one whose filter names the topic most specifically —
/// filters are compared level by level, a literal level beats `+`, `+` beats `#`, and a filter that ends exactly
/// beats one that goes on with `#`; between equally specific filters, the first in config order. So
/// `homeassistant/#` (preset `homeassistant`) gets `homeassistant/binary_sensor/garden/state` although
/// `+/binary_sensor/+/state` (preset `esphome`) matches it too, and `{"topic": "home/watch/vitals"}` wins over
/// `{"topic": "home/#"}` wherever it is listed.
///
/// The router is an immutable value, safe to share between threads; `route(topic:)` allocates only for the split
/// topic and the device name.
public struct SourceRouter: Sendable {
    struct Compiled: Sendable {
        var index: Int
        var configuration: SourceConfiguration
        var filters: [TopicFilter]
        var preset: Preset?
        var decoder: any PayloadDecoder
    }

    public let sources: [SourceConfiguration]
    let compiled: [Compiled]
    public let options: DecoderOptions

    /// Every filter to subscribe to with its QoS, in config order; a filter listed by several sources appears once
    /// with the highest QoS asked for.
    public let subscriptions: [(filter: String, qos: Int32)]

    public init(sources: [SourceConfiguration], options: DecoderOptions = DecoderOptions()) throws(SourceConfigurationError) {
        var issues: [SourceConfigurationError.Issue] = []
        var compiled: [Compiled] = []
        for (i, source) in sources.enumerated() {
            let at = "sources[\(i)]"
            var preset: Preset?
            var filterTexts: [String] = []
            switch source.kind {
            case .preset(let name):
                guard let p = Preset.named(name) else {
                    issues.append(.init(code: .unknownPreset, path: "\(at).preset",
                                        message: "unknown preset \"\(name)\"; known presets: \(Preset.names.joined(separator: ", "))"))
                    continue
                }
                preset = p
                filterTexts = p.filters
            case .topic(let t, _):
                filterTexts = [t]
            }
            guard let entry = DecoderRegistry.entry(named: source.format) else {
                issues.append(.init(code: .unknownFormat, path: "\(at).format",
                                    message: "unknown format \"\(source.format)\"; known formats: \(DecoderRegistry.names.joined(separator: ", "))"))
                continue
            }
            if let q = source.qos, !(0...2).contains(q) {
                issues.append(.init(code: .outOfRange, path: "\(at).qos", message: "expected 0, 1 or 2, found \(q)"))
            }
            var filters: [TopicFilter] = []
            for text in filterTexts {
                do { filters.append(try TopicFilter(text)) } catch {
                    issues.append(.init(code: .invalidFilter, path: "\(at).topic", message: error.description))
                }
            }
            guard filters.count == filterTexts.count else { continue }
            compiled.append(Compiled(index: i, configuration: source, filters: filters, preset: preset, decoder: entry.make(options)))
        }
        guard issues.isEmpty else { throw SourceConfigurationError(issues: issues) }
        self.sources = sources
        self.compiled = compiled
        self.options = options
        var order: [String] = []
        var qos: [String: Int32] = [:]
        for c in compiled {
            for f in c.filters {
                if let q = qos[f.text] { qos[f.text] = max(q, c.configuration.effectiveQoS) } else {
                    order.append(f.text); qos[f.text] = c.configuration.effectiveQoS
                }
            }
        }
        self.subscriptions = order.map { (filter: $0, qos: qos[$0] ?? 1) }
    }

    /// Parses the config's `sources` (every problem reported at once, with field paths) and builds the router.
    public init(json: JSONValue, path: String = "sources", options: DecoderOptions = DecoderOptions()) throws(SourceConfigurationError) {
        try self.init(sources: try SourceConfiguration.parse(json, path: path), options: options)
    }

    /// The source for `topic`, or nil when no configured source subscribes to it.
    public func route(topic: String) -> Route? {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        var best: (source: Compiled, filter: TopicFilter, captures: [Substring], specificity: [UInt8])?
        for source in compiled {
            for filter in source.filters {
                guard let captures = filter.match(levels: levels) else { continue }
                let specificity = filter.specificity
                // Strictly more specific replaces; ties keep the earlier source.
                if let b = best, !b.specificity.lexicographicallyPrecedes(specificity) { continue }
                best = (source, filter, captures, specificity)
            }
        }
        guard let best else { return nil }
        let c = best.source
        let device: String
        if let preset = c.preset {
            device = preset.deviceName(topic: topic)
        } else if best.filter.hasWildcards, best.captures.contains(where: { !$0.isEmpty }) {
            device = best.captures.filter { !$0.isEmpty }.joined(separator: "/")
        } else {
            device = c.configuration.name ?? levels.last.map(String.init) ?? topic
        }
        return Route(sourceIndex: c.index, sourceName: c.configuration.displayName, device: device,
                     format: c.configuration.format, placement: c.configuration.placement, decoder: c.decoder)
    }

    /// Routes and decodes: nil when no source subscribes to the topic.
    public func decode(topic: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> (route: Route, message: DecodedMessage)? {
        guard let route = route(topic: topic) else { return nil }
        return (route, try route.decode(topic: topic, payload: payload))
    }
}
