/// Something a person can act on about the MQTT connection: a configuration problem found before connecting, or a
/// fault seen while running (kept as `MQTTClientStatus.lastFault` and logged). `message` says what went wrong and
/// what to check; it names files and the username but never contains the password.
public struct MQTTError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The configuration is invalid (the message lists every problem).
        case invalidConfiguration
        /// The broker cannot be reached: refused TCP connection, unknown host, network down.
        case unreachable
        /// TLS could not be set up or the handshake failed (CA, certificate, host name).
        case tls
        /// The broker answered CONNACK with a refusal (bad credentials, not authorised, client id rejected...).
        case refused
        /// No CONNACK arrived within `MQTTConfiguration.connackTimeout` of connecting.
        case connackTimeout
        /// An established connection ended (broker restart, network, keepalive timeout).
        case connectionLost
        /// The broker broke the protocol or we could not speak its version.
        case protocolError
        /// The broker's SUBACK refused a subscription (reason code 0x80 or above).
        case subscriptionRejected
        /// Not connected right now (publishing at QoS 0, for instance).
        case notConnected
        /// A wait (`waitUntilSubscribed`) ran out of time.
        case timedOut
        /// The client is not running (not started, or stopped).
        case notRunning
        /// Another libmosquitto failure (see `cause`).
        case library
    }

    public var code: Code
    /// What went wrong and what to check.
    public var message: String
    /// The libmosquitto call that failed, if one did.
    public var cause: MosquittoError?
    /// For `.refused`: the CONNACK return code (MQTT 3.1.1) or reason code (MQTT 5); for `.subscriptionRejected`:
    /// the SUBACK code.
    public var reasonCode: Int32?

    public init(code: Code, message: String, cause: MosquittoError? = nil, reasonCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
        self.reasonCode = reasonCode
    }

    public var description: String { message }
}
