import CareSupport

/// A notifier instance's decoded settings: validates contact addresses at config time and builds the notifier.
public protocol NotifierConfiguration: Sendable {
    /// The registry kind ("ntfy").
    var kind: String { get }
    /// Why `address` cannot work with this notifier, or nil when it can.
    func validate(address: String) -> String?
    func makeNotifier(name: String, context: NotifierContext) -> any Notifier
    /// How a member answers a page sent this way to `address`.
    func answerPath(for address: String) -> AnswerPath
}

extension NotifierConfiguration {
    public func answerPath(for address: String) -> AnswerPath { .none }
}

/// What notifiers may need from the daemon.
public struct NotifierContext: Sendable {
    public var logger: Logger
    /// The MQTT client, for the `mqtt` notifier (the executable implements it with SensorIngest's client).
    public var publisher: (any MessagePublisher)?
    public init(logger: Logger = .silent, publisher: (any MessagePublisher)? = nil) {
        self.logger = logger; self.publisher = publisher
    }
}

/// One entry of the registry: a config name and how to decode its settings.
public struct NotifierKind: Sendable {
    public typealias Decode = @Sendable (_ instance: String, _ settings: JSONObject, _ path: String,
                                         _ reader: inout ConfigReader) -> (any NotifierConfiguration)?
    public var name: String
    public var summary: String
    public var decode: Decode
    public init(name: String, summary: String, decode: @escaping Decode) {
        self.name = name; self.summary = summary; self.decode = decode
    }
}

/// The one table from config name to notifier. An unknown name is a config error listing these.
public struct NotifierRegistry: Sendable {
    public var kinds: [NotifierKind]
    public init(_ kinds: [NotifierKind]) { self.kinds = kinds }

    public static let standard = NotifierRegistry([
        MQTTNotifier.kind,
        WebhookNotifier.kind,
        NtfyNotifier.kind,
        GotifyNotifier.kind,
        PushoverNotifier.kind,
        MatrixNotifier.kind,
        EmailNotifier.kind,
        SMSNotifier.kind,
        CommandNotifier.kind,
    ])

    public var names: [String] { kinds.map(\.name) }
    public func kind(_ name: String) -> NotifierKind? { kinds.first { $0.name == name } }

    /// Builds every configured instance.
    public static func instantiate(_ configs: [String: any NotifierConfiguration], context: NotifierContext) -> [String: any Notifier] {
        var out: [String: any Notifier] = [:]
        for (name, c) in configs { out[name] = c.makeNotifier(name: name, context: context) }
        return out
    }
}
