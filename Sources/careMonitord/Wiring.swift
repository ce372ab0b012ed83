import Anomaly
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// The configured sources as the pipeline's `TopicRouting`.
struct ConfiguredRouting: TopicRouting {
    let router: SourceRouter
    let sources: [SourceConfiguration]

    init(sources: [SourceConfiguration]) throws {
        self.sources = sources
        router = try SourceRouter(sources: sources)
    }

    var sourceNames: [String] { sources.map(\.displayName) }

    func route(topic: String) -> TopicRoute? {
        guard let r = router.route(topic: topic) else { return nil }
        let decoder = r.decoder
        return TopicRoute(sourceIndex: r.sourceIndex, sourceName: r.sourceName, device: r.device,
                          isAccelerometer: r.format == "accel", placement: r.placement?.rawValue,
                          decode: { (topic, device, payload) throws(DecodeError) -> DecodedMessage in
                              try decoder.decode(topic: topic, device: device, payload: payload)
                          })
    }
}

/// Loads a config, printing its warnings; config problems become exit 78 with every problem listed.
func loadConfiguration(_ path: String) throws(CommandError) -> Configuration {
    do {
        let c = try Configuration.load(path: path)
        for w in c.warnings { printError("warning: \(w)") }
        return c
    } catch let e as ConfigurationError {
        throw CommandError(exitCode: ExitCode.config, message: e.description)
    } catch let e as CommandError {
        throw e
    } catch {
        throw CommandError(exitCode: ExitCode.config, message: "\(path): \(error)")
    }
}

func makeRouting(_ config: Configuration) throws(CommandError) -> ConfiguredRouting {
    do {
        return try ConfiguredRouting(sources: config.sources)
    } catch {
        throw CommandError(exitCode: ExitCode.config, message: "\(config.file): \(error)")
    }
}

/// The MQTT client's configuration for a config file's broker and sources.
func mqttConfiguration(_ config: Configuration, routing: ConfiguredRouting) throws(CommandError) -> MQTTConfiguration {
    let b = config.broker
    var m = MQTTConfiguration(personID: config.person.id)
    m.host = b.host
    m.port = b.port
    m.clientID = b.clientID
    m.protocolVersion = b.protocolVersion == 5 ? .v5 : .v311
    m.keepAlive = .seconds(b.keepalive)
    m.reconnectDelay = .milliseconds(Int(b.reconnectInitialDelay * 1000))
    m.reconnectDelayMaximum = .milliseconds(Int(b.reconnectMaximumDelay * 1000))
    m.connackTimeout = .milliseconds(Int(b.connackTimeout * 1000))
    if let user = b.username {
        var password: Secret?
        if let file = b.passwordFile {
            do { password = try Secret(contentsOfFile: file) } catch {
                throw CommandError(exitCode: ExitCode.config, message: "\(config.file): broker.passwordFile: \(error)")
            }
        }
        m.credentials = MQTTCredentials(username: user, password: password)
    }
    if b.tls, let ca = b.caFile {
        m.tls = MQTTTLSConfiguration(caFile: ca, certificateFile: b.certFile, keyFile: b.keyFile)
    }
    m.subscriptions = routing.router.subscriptions.map {
        MQTTSubscription($0.filter, qos: MQTTQoS(rawValue: $0.qos) ?? .atLeastOnce)
    }
    return m
}

/// SIGINT and SIGTERM, blocked in every thread and taken synchronously by the main thread with `sigtimedwait`:
/// no handler runs on an arbitrary thread, and no signal sent before we wait is lost.
enum StopSignals {
    static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits up to `seconds` for SIGINT/SIGTERM; returns the signal, or nil on timeout.
    static func wait(seconds: Double) -> Int32? {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        let s = sigtimedwait(&set, nil, &ts)
        return s > 0 ? s : nil
    }
}
