import Anomaly
import CareSupport
import Escalation
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord run`: one home, live. Starts in dependency order (config, state directory, home, journal recovery,
/// detector thread, broker connection), tells systemd when it is ready and that it is alive, reloads on SIGHUP and
/// stops in reverse order on SIGTERM.
///
/// Everything but the threads it starts runs on the main thread: the loop waits for signals a quarter second at a
/// time and between two waits sends readiness, watchdog pings and status.
final class Daemon {
    let configPath: String
    let stateDirectory: String
    let logger: Logger
    let systemd: SystemdNotify
    let clock = SystemClock()
    /// The MQTT connection the `mqtt` notifier and the events topic publish on, set once the client exists.
    let connection = ConnectionBox()

    private var config: Configuration
    private var ingest: Ingest?
    private var escalation: LiveEscalation?
    private var ready = false
    private var startedAt: MonotonicInstant
    private var lastStatus = ""
    private var lastStatusAt = MonotonicInstant(nanoseconds: 0)
    private var lastPing: (at: MonotonicInstant, detector: Int, escalation: Int)?
    private var hungReported = false
    private let control: ControlSocket
    private let publisher: StatePublisher

    /// The parts that live and die with one config's sources: the pipeline, its detector thread, its connection.
    struct Ingest {
        let home: MonitoredHome
        let client: MQTTClient
        let detectorThread: OSThread
    }

    /// How long to wait for the broker before saying READY=1 anyway (escalation of journaled incidents goes on).
    var startupGrace: Double { config.broker.startupGraceSeconds }
    /// How often the learned state is saved while running (it is also saved at every stop and reload).
    static let learnedStateSaveInterval = 3600.0

    init(configPath: String, stateDirectory: String, config: Configuration, logger: Logger) {
        self.configPath = configPath
        self.stateDirectory = stateDirectory
        self.config = config
        self.logger = logger
        self.systemd = SystemdNotify(logger: logger.child("systemd"))
        self.startedAt = SystemClock().monotonicNow()
        self.control = ControlSocket(stateDirectory: stateDirectory)
        self.publisher = StatePublisher(stateDirectory: stateDirectory, logger: logger.child("state"))
    }

    // MARK: Lifecycle

    func run() throws(CommandError) -> Int32 {
        try Replay.ensureDirectory(stateDirectory)
        try start(config)
        control.listen(logger: logger)
        defer { control.close() }
        systemd.status("connecting to the MQTT broker at \(config.broker.host):\(config.broker.port)")
        while true {
            let signal = StopSignals.wait(seconds: 0.25, hangup: true)
            if signal == SIGHUP {
                reload()
                continue
            }
            if let signal {
                logger.notice("\(signal == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
                stop()
                return ExitCode.ok
            }
            turn()
        }
    }

    /// Builds and starts the home of `config`: journal recovered before the first message is taken.
    private func start(_ config: Configuration) throws(CommandError) {
        let home = try buildHome(config)
        var live: LiveEscalation?
        if let e = home.escalation {
            guard let l = e as? LiveEscalation else {
                throw CommandError(exitCode: ExitCode.software, message: "run: the home was not built on the system clock")
            }
            live = l
        }
        if let live {
            let report: RecoveryReport
            do { report = try live.start() } catch {
                throw CommandError(exitCode: ExitCode.ioError, message: "run: \(error)")
            }
            if !report.openIncidents.isEmpty || !report.redelivered.isEmpty {
                logger.notice("journal recovered: \(report.openIncidents.count) open incident(s) \(report.openIncidents.joined(separator: ", ")) continue; \(report.redelivered.count) notification(s) sent again")
            }
        }
        do {
            ingest = try startIngest(home)
        } catch {
            live?.stop(timeout: 3)  // never two engines on one journal
            throw error
        }
        escalation = live
        self.config = config
        let circle = config.escalation?.members.count
        logger.notice("watching \(config.person.id) (\(config.sources.count) source(s), \(circle.map { "a circle of \($0)" } ?? "no circle: detections only")); state in \(stateDirectory)")
    }

    private func buildHome(_ config: Configuration) throws(CommandError) -> MonitoredHome {
        let topic = "caremonitord/\(config.person.id)/events"
        let connection = self.connection
        let log = logger.child("event")
        return try MonitoredHome.build(config: config, clock: .system(journal: true), notifiers: .real(publisher: connection),
                                       stateDirectory: stateDirectory, logger: logger, events: { line in
            connection.publishEvent(topic: topic, line: line)
            EventLog.log(line, to: log)
        })
    }

    private func startIngest(_ home: MonitoredHome) throws(CommandError) -> Ingest {
        let routing = try makeRouting(home.config)
        var mqtt = try mqttConfiguration(home.config, routing: routing)
        for f in home.commandFilters { mqtt.subscriptions.append(MQTTSubscription(f, qos: .atLeastOnce)) }
        let clock = self.clock
        let client: MQTTClient
        do {
            client = try MQTTClient(configuration: mqtt, logger: logger.child("mqtt")) { m in
                home.ingestIfOpen(topic: m.topic, payload: m.payload, arrival: clock.wallNow())
            }
        } catch {
            throw CommandError(exitCode: ExitCode.config, message: "\(home.config.file): broker: \(error)")
        }
        connection.set(client)
        let interval = Self.learnedStateSaveInterval
        // The loop turns at least four times per watchdog ping, even when the home is quiet.
        let idle = min(0.5, (systemd.watchdogInterval ?? 2) / 4)
        let log = logger
        let thread = OSThread(name: "cm-detect") {
            var lastSave = clock.monotonicNow()
            home.runDetectors(idleTimeout: idle) {
                let now = clock.monotonicNow()
                if seconds(lastSave.duration(to: now)) >= interval {
                    lastSave = now
                    do throws(CommandError) { try home.saveLearnedState() } catch { log.error("learned state not saved: \(error.message)") }
                }
                return clock.wallNow()
            }
        }
        do { try client.start() } catch {
            home.finishInput()
            thread.join()
            throw CommandError(exitCode: ExitCode.config, message: "\(home.config.file): broker: \(error)")
        }
        return Ingest(home: home, client: client, detectorThread: thread)
    }

    /// Stops the ingest side: no more messages taken (the MQTT thread drops them from now on), the detector thread
    /// drains the ring and ends, learned state saved.
    private func stopIngest(_ ingest: Ingest, disconnect: Bool) {
        ingest.home.closeIntake()
        ingest.home.finishInput()
        ingest.detectorThread.join()
        do { try ingest.home.saveLearnedState() } catch { logger.error("learned state not saved: \(error.message)") }
        if disconnect { ingest.client.stop() }
    }

    /// SIGTERM: reverse order within systemd's stop timeout. Detections still in the ring are analysed and reach
    /// escalation; deliveries under way finish (up to 3 s; the journal resends the rest at the next start);
    /// then the broker hears `offline`.
    private func stop() {
        systemd.stopping()
        if let ingest { stopIngest(ingest, disconnect: false) }
        escalation?.stop(timeout: 3)
        ingest?.client.stop()
        ingest = nil
        escalation = nil
        logger.notice("stopped")
    }

    /// SIGHUP: re-reads the config. A bad one is reported (file:line:col) and the running one kept. A good one whose
    /// person, broker, sources and detectors are unchanged keeps the connection, the ring and the detectors with
    /// all they learned; only escalation moves to the new circle and policies (open incidents carry on from the
    /// journal). Otherwise the ingest side restarts on the new config, with the learned state saved and reloaded.
    private func reload() {
        systemd.reloading()
        defer { systemd.ready(status: statusLine()) }
        let next: Configuration
        let candidate: MonitoredHome
        do {
            next = try loadConfiguration(configPath)
            candidate = try buildHome(next)
        } catch {
            logger.error("config reload failed; the running config is kept:")
            for line in error.message.split(separator: "\n") { logger.error("  \(line)") }
            return
        }
        guard let ingest else { return }
        if Self.ingestKey(next) == Self.ingestKey(config), let running = escalation, let fresh = candidate.escalation {
            switch running.replace(with: fresh.engine) {
            case .replaced: break
            case .postponed(let n):
                logger.warning("config not reloaded: \(n) notification(s) still being delivered; the running config is kept: reload again in a moment")
                return
            case .queued:
                logger.warning("escalation is busy: the new circle and policies take over as soon as it is free")
            case .failed(let e):
                logger.error("config reload failed; the running config is kept: \(e)")
                return
            }
            config = next
            logger.notice("config reloaded: circle and policies updated; detectors, their learned state and open incidents carried on")
            return
        }
        stopIngest(ingest, disconnect: true)
        escalation?.stop(timeout: 3)
        self.ingest = nil
        escalation = nil
        do {
            try start(next)
            logger.notice("config reloaded: sources, broker or detectors changed, so ingest restarted (learned state kept)")
        } catch {
            logger.error("config reload failed while restarting: \(error.message); trying the previous config")
            do { try start(config) } catch {
                logger.error("the previous config no longer starts either: \(error.message)")
            }
        }
    }

    /// What the ingest side depends on: when it is unchanged, a reload keeps the ingest side running.
    static func ingestKey(_ c: Configuration) -> String {
        let root = c.document.root
        var o = JSONObject()
        o["person"] = .array([.string(c.person.id), .string(c.person.timezone)])
        // The home takes the dashboard's acks as `homeAssistant.dashboardMember`'s.
        for k in ["broker", "sources", "detectors", "homeAssistant"] { o[k] = root[k] ?? .null }
        return JSONWriter.serialize(.object(o))
    }

    // MARK: One turn of the main loop

    private func turn() {
        guard let ingest else { return }
        let now = clock.monotonicNow()
        let status = ingest.client.status
        if !ready {
            if status.isConnected && status.isSubscribed {
                ready = true
                systemd.ready(status: statusLine())
            } else if seconds(startedAt.duration(to: now)) >= startupGrace {
                ready = true
                let fault = status.lastFault?.message ?? "no answer"
                logger.warning("the MQTT broker at \(config.broker.host):\(config.broker.port) is unreachable after \(Int(startupGrace)) s (\(fault)); sensors are not heard until it is back, journaled incidents keep escalating")
                systemd.ready(status: statusLine())
            }
        } else if seconds(lastStatusAt.duration(to: now)) >= 5 {
            // At most every 5 s: the line counts messages.
            let line = statusLine()
            if line != lastStatus {
                lastStatus = line
                lastStatusAt = now
                systemd.status(line)
            }
        }
        pingWatchdog(now)
        publisher.update(home: ingest.home, escalation: escalation, connection: connection, connects: status.connects,
                         now: clock.wallNow())
        control.serve(answer)
    }

    /// A request on the control socket (see `ControlSocket`).
    private func answer(_ request: String) -> String {
        let p = request.split(separator: " ").map(String.init)
        guard p.count == 3, p[0] == "forget" else { return "error unknown request; this daemon knows: forget PERSON DATE" }
        guard p[1] == config.person.id else { return "error this daemon watches \(config.person.id), not \(p[1])" }
        guard let before = RFC3339.parse(p[2]) else { return "error \(p[2]) is not an RFC 3339 time" }
        let result: Result<Int, JournalError>
        if let escalation {
            result = escalation.forget(before: before)
        } else {
            result = Result { () throws(JournalError) in try IncidentJournal.forget(directory: stateDirectory, person: config.person.id, before: before) }
        }
        switch result {
        case .success(let n):
            logger.notice("forget: \(n) closed incident(s) before \(RFC3339.format(before)) deleted for good")
            return "ok \(n)"
        case .failure(let e): return "error \(e)"
        }
    }

    /// `WATCHDOG=1` every half `$WATCHDOG_USEC`, only while the detector loop and escalation both completed turns
    /// since the last ping (an idle turn counts: a quiet home is healthy; a hung loop is not).
    private func pingWatchdog(_ now: MonotonicInstant) {
        guard ready, let interval = systemd.watchdogInterval, let ingest else { return }
        let detector = ingest.home.pipeline.consumerHeartbeat.load(ordering: .relaxed)
        let turns = escalation?.turns.load(ordering: .relaxed) ?? 0
        if let last = lastPing, seconds(last.at.duration(to: now)) < interval { return }
        if let last = lastPing, detector == last.detector || (escalation != nil && turns == last.escalation) {
            if !hungReported {
                hungReported = true
                logger.error("\(detector == last.detector ? "the detector loop" : "escalation") made no progress for \((interval * 10).rounded() / 10) s; not telling systemd we are alive")
            }
            return
        }
        hungReported = false
        lastPing = (now, detector, turns)
        systemd.watchdog()
    }

    private func statusLine() -> String {
        guard let ingest else { return "stopped" }
        let s = ingest.client.status
        let broker = "\(config.broker.host):\(config.broker.port)"
        return s.isConnected
            ? "watching \(config.person.id): \(ingest.home.pipeline.counts.messages) message(s) from \(broker)"
            : "broker \(broker) unreachable (\(s.lastFault?.message ?? "connecting")); retrying"
    }
}

/// The daemon's one MQTT connection as seen by escalation's `mqtt` notifier and by the events topic. Set when the
/// client is made (the home, built first, already holds this box).
final class ConnectionBox: MessagePublisher {
    private let client = Mutex<MQTTClient?>(nil)

    func set(_ c: MQTTClient) { client.withLock { $0 = c } }

    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool, timeout: Duration) async throws(PublishError) {
        guard let c = client.withLock({ $0 }) else { throw PublishError(message: "not connected to the MQTT broker yet") }
        try await ClientPublisher(client: c).publish(topic: topic, payload: payload, qos: qos, retain: retain, timeout: timeout)
    }

    var isConnected: Bool { client.withLock { $0 }?.status.isConnected ?? false }

    /// A retained message, QoS 1 (empty: remove it); false when it could not be handed to the client.
    func publishRetained(topic: String, payload: String) -> Bool {
        guard let c = client.withLock({ $0 }) else { return false }
        do { try c.publish(topic: topic, payload: payload, qos: .atLeastOnce, retain: true) } catch { return false }
        return true
    }

    /// An event line on `caremonitord/<person>/events`, QoS 1, not retained. Kept by the client while disconnected.
    func publishEvent(topic: String, line: String) {
        guard let c = client.withLock({ $0 }) else { return }
        _ = try? c.publish(topic: topic, payload: line, qos: .atLeastOnce, retain: false)
    }
}

/// One log line per event line, for journald: what a person reading the log needs, not the JSON.
enum EventLog {
    static func log(_ line: String, to logger: Logger) {
        guard let v = try? JSONParser.parse(line) else { return }
        let s = { (k: String) in v[k]?.stringValue ?? "" }
        switch s("type") {
        case "detection": logger.info("\(s("kind")) \(s("state")) (\(s("device")))")
        case "incident": logger.notice("incident \(s("incident")): \(s("kind")) \(s("state"))\(v["by"] != nil ? " by \(s("by"))" : "")")
        case "notification": logger.info("incident \(s("incident")): \(s("member")) told via \(s("notifier"))")
        case "ack": logger.notice("incident \(s("incident")): \(s("member")) answered \(s("action"))")
        default: logger.info(line)
        }
    }
}
