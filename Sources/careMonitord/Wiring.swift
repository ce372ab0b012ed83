import Anomaly
import CareSupport
import Escalation
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

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

func makeRouting(_ config: Configuration) throws(CommandError) -> SourceRouting {
    do {
        return try SourceRouting(sources: config.sources)
    } catch {
        throw CommandError(exitCode: ExitCode.config, message: "\(config.file): \(error)")
    }
}

/// The MQTT client's configuration for a config file's broker and sources.
///
/// `tool`: a command-line tool's name (`record`, `ack`…): it gets a client id of its own (the broker would
/// otherwise disconnect the daemon that uses the same id) and never announces presence for the daemon.
func mqttConfiguration(_ config: Configuration, routing: SourceRouting?, tool: String? = nil) throws(CommandError) -> MQTTConfiguration {
    let b = config.broker
    var m = MQTTConfiguration(personID: config.person.id)
    m.host = b.host
    m.port = b.port
    m.clientID = b.clientID
    if let tool {
        m.clientID = "\(b.clientID ?? "caremonitord-\(config.person.id)")-\(tool)-\(getpid())"
        m.announcesPresence = false
    }
    m.protocolVersion = b.protocolVersion == 5 ? .v5 : .v311
    if tool == nil, m.protocolVersion == .v311 {
        // The daemon keeps its session (a stable client id, clean session off): sensor messages and answers sent
        // at QoS 1 while it was disconnected or restarting are delivered when it is back. (MQTT 5 would need a
        // session expiry interval in CONNECT, which libmosquitto's asynchronous connect does not take.)
        m.clientID = b.clientID ?? "caremonitord-\(config.person.id)"
        m.cleanSession = false
    }
    m.keepAlive = .seconds(b.keepalive)
    m.reconnectDelay = .milliseconds(Int(b.reconnectInitialDelay * 1000))
    m.reconnectDelayMaximum = .milliseconds(Int(b.reconnectMaximumDelay * 1000))
    m.connackTimeout = .milliseconds(Int(b.connackTimeout * 1000))
    if let user = b.username {
        m.credentials = MQTTCredentials(username: user, password: b.password)
    }
    if b.tls, let ca = b.caFile {
        m.tls = MQTTTLSConfiguration(caFile: ca, certificateFile: b.certFile, keyFile: b.keyFile)
    }
    m.subscriptions = (routing?.router.subscriptions ?? []).map {
        MQTTSubscription($0.filter, qos: MQTTQoS(rawValue: $0.qos) ?? .atLeastOnce)
    }
    return m
}

/// SIGINT and SIGTERM (and, for the daemon, SIGHUP), blocked in every thread and taken synchronously by the main
/// thread with `sigtimedwait`: no handler runs on an arbitrary thread, and no signal sent before we wait is lost.
/// Block them before starting any thread: threads inherit the mask.
enum StopSignals {
    static func set(hangup: Bool) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        if hangup { sigaddset(&set, SIGHUP) }
        return set
    }

    static func block(hangup: Bool = false) {
        var s = set(hangup: hangup)
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    /// Waits up to `seconds` for SIGINT/SIGTERM (and SIGHUP); returns the signal, or nil on timeout.
    static func wait(seconds: Double, hangup: Bool = false) -> Int32? {
        var s = set(hangup: hangup)
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        let r = sigtimedwait(&s, nil, &ts)
        return r > 0 ? r : nil
    }
}

/// The detector engine of a config's person, emitting into `emit` (called on the detector thread).
func makeDetectorEngine(_ config: Configuration, signals: SignalRegistry, pause: FamilyPause? = nil,
                        emit: @escaping (Detection) -> Void) throws(CommandError) -> DetectorEngine {
    guard let local = LocalTime(identifier: config.person.timezone) else {
        throw CommandError(exitCode: ExitCode.config, message: "\(config.file): person.timezone: unknown time zone \(config.person.timezone)")
    }
    let context = DetectorContext(person: config.person.id, localTime: local, signals: signals, emit: emit)
    do {
        return try DetectorEngine(context: context, settings: config.document.root["detectors"]?.objectValue, pause: pause)
    } catch {
        let text = error.issues.map { issue in
            let at = config.document.position(of: issue.path).map { "\(config.file):\($0.line):\($0.column)" } ?? config.file
            return "\(at): \(issue)"
        }.joined(separator: "\n")
        throw CommandError(exitCode: ExitCode.config, message: text)
    }
}

/// Where a person's learned state lives under a state directory: `<dir>/<person>/learned.json`.
struct LearnedStateFile {
    let path: String
    let directory: String

    init(stateDirectory: String, person: String) {
        directory = "\(stateDirectory)/\(person)"
        path = "\(directory)/learned.json"
    }

    /// Restores into `engine`; problems are reported, never fatal (learning starts afresh).
    func load(into engine: DetectorEngine) {
        guard let bytes = DurableFile.read(path) else { return }
        do {
            guard let o = try JSONParser.parse(bytes).objectValue else {
                printError("warning: \(path) is not a JSON object: learned state not restored; learning starts afresh")
                return
            }
            for p in engine.restore(o) { printError("warning: \(path): \(p); that part is learned afresh") }
        } catch {
            printError("warning: \(path): \(error): learned state not restored; learning starts afresh")
        }
    }

    func save(_ engine: DetectorEngine) throws(CommandError) {
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw CommandError(exitCode: ExitCode.ioError, message: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let text = JSONWriter.serialize(.object(engine.learnedState())) + "\n"
        do { try DurableFile.write(Array(text.utf8), to: path) } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "\(error)")
        }
    }
}

/// Connects a client and waits (polling its status) until the broker accepted it and confirmed its subscriptions.
func connectedClient(_ mqtt: MQTTConfiguration, logger: Logger, timeout: Double = 10,
                     onMessage: @escaping MQTTMessageHandler = { _ in }) throws(CommandError) -> MQTTClient {
    let client: MQTTClient
    do {
        client = try MQTTClient(configuration: mqtt, logger: logger, onMessage: onMessage)
        try client.start()
    } catch {
        throw CommandError(exitCode: ExitCode.config, message: "\(error)")
    }
    let clock = SystemClock()
    let deadline = clock.monotonicNow().advanced(bySeconds: timeout)
    while !(client.status.isConnected && client.status.isSubscribed) {
        if clock.monotonicNow() > deadline {
            let fault = client.status.lastFault?.message ?? "no answer"
            client.stop()
            throw CommandError(exitCode: ExitCode.unavailable, message: "cannot reach the MQTT broker at \(mqtt.brokerAddress) within \(Int(timeout)) s: \(fault)")
        }
        usleep(20_000)
    }
    return client
}

/// Escalation's `MessagePublisher` over our MQTT client (the `mqtt` notifier).
struct ClientPublisher: MessagePublisher {
    let client: MQTTClient
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool, timeout: Duration) async throws(PublishError) {
        do {
            if qos >= 1 {
                try await client.publishConfirmed(topic: topic, payload: payload, retain: retain, timeout: timeout)
            } else {
                try client.publish(topic: topic, payload: payload, qos: .atMostOnce, retain: retain)
            }
        } catch {
            throw PublishError(message: "\(error)", retryable: error.code != .invalidConfiguration)
        }
    }
}
