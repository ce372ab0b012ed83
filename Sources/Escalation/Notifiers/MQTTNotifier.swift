import CareSupport

/// What Escalation needs from an MQTT client; the executable implements it with SensorIngest's client.
///
/// ## Implementation requirements
/// - `publish` returns when the broker has acknowledged a QoS 1 message, or throws within `timeout`.
/// - Errors carry no credentials.
public protocol MessagePublisher: Sendable {
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool, timeout: Duration) async throws(PublishError)
}

public struct PublishError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// False when retrying cannot help (topic refused, payload too large).
    public var retryable: Bool
    public init(message: String, retryable: Bool = true) { self.message = message; self.retryable = retryable }
    public var description: String { message }
}

/// Topics of the ack path: `caremonitord/<person>/incidents/<id>/ack`.
public enum AckTopic {
    public static func topic(person: String, incident: String) -> String { "caremonitord/\(person)/incidents/\(incident)/ack" }
    /// The subscription filter for one person.
    public static func filter(person: String) -> String { "caremonitord/\(person)/incidents/+/ack" }
    /// (person, incident) from a topic, or nil when it is not an ack topic.
    public static func parse(_ topic: String) -> (person: String, incident: String)? {
        let p = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 5, p[0] == "caremonitord", p[2] == "incidents", p[4] == "ack", !p[1].isEmpty, !p[3].isEmpty else { return nil }
        return (String(p[1]), String(p[3]))
    }
}

/// `mqtt`: publishes the alert JSON (with its idempotency key) to the contact's topic, QoS 1, for a TV app or Home
/// Assistant. The address is the topic; `{person}` and `{member}` in it are replaced.
public struct MQTTNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "mqtt" }
        public var retain: Bool
        public var retry: RetryPolicy
        public func validate(address: String) -> String? {
            if address.isEmpty { return "the mqtt address is the topic to publish to, e.g. \"caremonitord/linda/tv\"" }
            if address.contains("+") || address.contains("#") { return "an MQTT topic to publish to cannot contain + or #" }
            if address.contains(" ") { return "the topic contains a space; some brokers (nats-server) refuse it" }
            return nil
        }
        public func answerPath(for address: String) -> AnswerPath { .buttons }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            MQTTNotifier(name: name, publisher: context.publisher, retain: retain, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "mqtt", summary: "publish the alert JSON to an MQTT topic") { _, o, p, r in
        r.allowOnly(o, ["kind", "retain", "attemptTimeoutSeconds"], p)
        return Configuration(retain: r.bool(o, "retain", p, default: false),
                             retry: RetryPolicy(attemptTimeout: .seconds(r.int(o, "attemptTimeoutSeconds", p, default: 10, range: 1...120))))
    }

    public let name: String
    let publisher: (any MessagePublisher)?
    let retain: Bool
    public let retry: RetryPolicy

    public init(name: String, publisher: (any MessagePublisher)?, retain: Bool = false, retry: RetryPolicy = RetryPolicy()) {
        self.name = name; self.publisher = publisher; self.retain = retain; self.retry = retry
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        guard let publisher else {
            throw NotifierError(notifier: name, disposition: .permanent,
                                message: "no MQTT client is connected to this notifier (the daemon wires it at start)")
        }
        let topic = n.address.replacingAll("{person}", with: n.person).replacingAll("{member}", with: n.member)
        do {
            try await publisher.publish(topic: topic, payload: Array(JSONWriter.serialize(n.json).utf8), qos: 1,
                                        retain: retain, timeout: timeout)
        } catch {
            throw NotifierError(notifier: name, disposition: error.retryable ? .retryable : .permanent,
                                message: "publishing to \(topic) failed: \(error.message)")
        }
        return DeliveryReceipt()
    }
}
