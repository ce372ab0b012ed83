import CMosquitto
import CareSupport
#if canImport(Glibc)
import Glibc
#endif

/// MQTT quality of service.
public enum MQTTQoS: Int32, Sendable, Hashable, CaseIterable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2
}

/// The MQTT protocol version spoken to the broker.
public enum MQTTProtocolVersion: Sendable, Hashable, CustomStringConvertible {
    case v311
    case v5

    var mosquittoValue: Int32 {
        switch self {
        case .v311: MQTT_PROTOCOL_V311
        case .v5: MQTT_PROTOCOL_V5
        }
    }

    public var description: String {
        switch self {
        case .v311: "MQTT 3.1.1"
        case .v5: "MQTT 5"
        }
    }
}

/// One subscription: a topic filter (`zigbee2mqtt/+`, `shellies/#`) and the QoS asked for.
public struct MQTTSubscription: Sendable, Hashable, CustomStringConvertible {
    public var filter: String
    public var qos: MQTTQoS

    public init(_ filter: String, qos: MQTTQoS = .atMostOnce) {
        self.filter = filter
        self.qos = qos
    }

    public var description: String { "'\(filter)' (QoS \(qos.rawValue))" }
}

/// TLS to the broker: the CA that signed the broker's certificate, and optionally our client certificate.
public struct MQTTTLSConfiguration: Sendable, Equatable {
    /// PEM file of the CA (or CAs) that signed the broker's certificate.
    public var caFile: String
    /// PEM client certificate, for brokers with `require_certificate true` (with `keyFile`).
    public var certificateFile: String?
    /// PEM private key of `certificateFile`, unencrypted (libmosquitto would prompt on a terminal otherwise).
    public var keyFile: String?
    /// Check that the broker's certificate names `host` (leave on: off accepts any certificate the CA signed).
    public var verifyHostname: Bool

    public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil, verifyHostname: Bool = true) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verifyHostname = verifyHostname
    }
}

/// Username and password for the broker. The password is a `Secret`: it is never logged nor put in an error;
/// messages name its `origin` (the file) instead.
public struct MQTTCredentials: Sendable, Equatable {
    public var username: String
    public var password: Secret?

    public init(username: String, password: Secret? = nil) {
        self.username = username
        self.password = password
    }
}

/// How one home's daemon talks to its broker. Every value has a default except `personID`.
public struct MQTTConfiguration: Sendable, Equatable {
    /// The person (home) this connection serves; names the status topic and the default client id. Letters,
    /// digits, `-`, `_` and `.` only.
    public var personID: String
    /// Broker host name or address.
    public var host: String = "127.0.0.1"
    /// Broker port (1883 plain, 8883 with TLS by convention).
    public var port: Int = 1883
    /// MQTT client id; nil means `caremonitord-<personID>`. Two clients with the same id disconnect each other.
    public var clientID: String?
    public var protocolVersion: MQTTProtocolVersion = .v311
    /// Keepalive: the broker drops us after 1.5 × this without traffic; we notice a dead broker after as long.
    public var keepAlive: Duration = .seconds(30)
    /// Start without a session: the broker forgets our subscriptions between connections (we remake them on
    /// every connect anyway).
    public var cleanSession: Bool = true
    public var credentials: MQTTCredentials?
    public var tls: MQTTTLSConfiguration?
    /// Made on every connect, so they survive reconnects. More can be added with `MQTTClient.subscribe`.
    public var subscriptions: [MQTTSubscription] = []
    /// First wait before reconnecting; doubles after each failure up to `reconnectDelayMaximum`.
    public var reconnectDelay: Duration = .milliseconds(500)
    public var reconnectDelayMaximum: Duration = .seconds(4)
    /// A connection that has not received CONNACK this long after connecting is a fault: it is dropped and
    /// made again.
    public var connackTimeout: Duration = .seconds(10)
    /// Topic of the retained `online`/`offline` status (the last will is `offline`).
    public var statusTopic: String?
    /// The daemon announces itself (`online` on connect, the `offline` will); command-line tools (`ack`,
    /// `test-alert`, `record`) set this false so that they never speak for the daemon.
    public var announcesPresence: Bool = true

    public init(personID: String) {
        self.personID = personID
    }

    /// `clientID`, or `caremonitord-<personID>`.
    public var effectiveClientID: String { clientID ?? "caremonitord-\(personID)" }
    /// `statusTopic`, or `caremonitord/<personID>/status`.
    public var effectiveStatusTopic: String { statusTopic ?? "caremonitord/\(personID)/status" }
    /// `host:port`, for messages.
    public var brokerAddress: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Checks every field and reports ALL problems in one error (`.invalidConfiguration`), each with its field.
    public func validate() throws(MQTTError) {
        var problems: [String] = []
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        if personID.isEmpty || !personID.allSatisfy({ allowed.contains($0) }) {
            problems.append("personID '\(personID)': use letters, digits, '-', '_' and '.' only (it is part of topics)")
        }
        if host.isEmpty { problems.append("host: empty — give the broker's host name or address") }
        if !(1...65_535).contains(port) { problems.append("port \(port): must be 1 to 65535") }
        if let clientID, clientID.isEmpty || clientID.utf8.count > 65_535 {
            problems.append("clientID: must be 1 to 65535 bytes (or omitted)")
        }
        if keepAlive < .seconds(5) || keepAlive > .seconds(65_535) {
            problems.append("keepAlive \(keepAlive): must be 5 s to 65535 s")
        }
        if reconnectDelay <= .zero { problems.append("reconnectDelay \(reconnectDelay): must be positive") }
        if reconnectDelayMaximum < reconnectDelay {
            problems.append("reconnectDelayMaximum \(reconnectDelayMaximum): must be at least reconnectDelay (\(reconnectDelay))")
        }
        if connackTimeout <= .zero { problems.append("connackTimeout \(connackTimeout): must be positive") }
        if let statusTopic {
            do throws(MosquittoError) { try Mosquitto.pubTopicCheck(statusTopic) } catch {
                problems.append("statusTopic '\(statusTopic)': not a valid topic to publish to (no '+' or '#')")
            }
        }
        for (i, s) in subscriptions.enumerated() {
            do throws(MosquittoError) { try Mosquitto.subTopicCheck(s.filter) } catch {
                problems.append("subscriptions[\(i)] '\(s.filter)': not a valid topic filter ('+' and '#' must fill a"
                                + " whole level, '#' only last)")
            }
        }
        if let credentials, credentials.username.isEmpty {
            problems.append("credentials.username: empty — give the username, or remove the credentials")
        }
        if let tls {
            if let p = MQTTConfiguration.unreadable(tls.caFile) { problems.append("tls.caFile '\(tls.caFile)': \(p)") }
            switch (tls.certificateFile, tls.keyFile) {
            case (nil, nil): break
            case (let cert?, let key?):
                if let p = MQTTConfiguration.unreadable(cert) { problems.append("tls.certificateFile '\(cert)': \(p)") }
                if let p = MQTTConfiguration.unreadable(key) { problems.append("tls.keyFile '\(key)': \(p)") }
            case (_?, nil): problems.append("tls.keyFile: missing — a client certificate needs its key")
            case (nil, _?): problems.append("tls.certificateFile: missing — a client key needs its certificate")
            }
        }
        guard problems.isEmpty else {
            throw MQTTError(code: .invalidConfiguration,
                            message: "invalid MQTT configuration for '\(personID)': " + problems.joined(separator: "; "))
        }
    }

    /// Why `path` cannot be read by this process, or nil.
    private static func unreadable(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            return "\(String(cString: strerror(e))) — check the path and that the daemon's user can read it"
        }
        close(fd)
        return nil
    }
}
