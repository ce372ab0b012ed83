/// The configured sources as the pipeline's `TopicRouting`: the router's decision, resolved once per topic.
public struct SourceRouting: TopicRouting {
    public let router: SourceRouter

    public init(sources: [SourceConfiguration], options: DecoderOptions = DecoderOptions()) throws(SourceConfigurationError) {
        router = try SourceRouter(sources: sources, options: options)
    }

    public var sourceNames: [String] { router.sources.map(\.displayName) }

    public func route(topic: String) -> TopicRoute? {
        guard let r = router.route(topic: topic) else { return nil }
        let decoder = r.decoder
        return TopicRoute(sourceIndex: r.sourceIndex, sourceName: r.sourceName, device: r.device,
                          isAccelerometer: r.format == "accel", placement: r.placement?.rawValue,
                          decode: { (topic, device, payload) throws(DecodeError) -> DecodedMessage in
                              try decoder.decode(topic: topic, device: device, payload: payload)
                          })
    }
}
