import Anomaly
import CareSupport
import Escalation
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One monitored home: everything between a message from one of its sensors and a page to its circle. Built from a
/// config by `MonitoredHome.build`, the one place a pipeline is wired; every command (`run`, `replay`, `evaluate`,
/// `learn`, `test-alert`) builds one and differs only in three injected parts:
///
/// - the **source**: whoever calls `ingest` (the live MQTT client's thread, or the capture reader);
/// - the **clock** (`HomeClock`): the system's, or a virtual one driven by the capture's time;
/// - the **notifiers** (`HomeNotifiers`): the configured ones, recording ones that send nothing, or none.
///
/// It owns source routing, the ring (`IngestPipeline`), the detector engine, Detection → Alert, the arrival
/// evidence, the escalation engine (through its `EscalationDriver`), the learned state and the journal in the state
/// directory. It owns no thread and no broker connection: the command runs `runDetectors` on a thread of its own and
/// connects the source, so that one process can later serve many homes over one connection and a few threads.
/// Everything in it is keyed by its person.
///
/// Threads: `ingest` (`ingestIfOpen` for a live source) and `finishInput` on the one source thread, or
/// `finishInput` on the thread that called `closeIntake`; `runDetectors` on one detector thread; the rest on the
/// command's main thread.
final class MonitoredHome: @unchecked Sendable {
    // @unchecked Sendable: the parts are used on the threads the type's comment names (the pipeline's contract);
    // the immutable configuration is shared.
    let config: Configuration
    var person: String { config.person.id }
    let pipeline: IngestPipeline
    let detectors: DetectorEngine
    /// nil when the config has no circle, or the notifiers are `.none`.
    let escalation: (any EscalationDriver)?
    let learned: LearnedStateFile?
    let processor: HomeProcessor
    /// Away mode (`AwayMode`) and the pause it sets on the detector engine.
    let away: AwayMode
    let pause: FamilyPause
    /// What the detectors say about the home, for the live state topics (nil on the capture's clock).
    let watch: HomeWatch?
    /// Messages on this person's command topics (acks, the dashboard's acks, away) taken out of the stream (they
    /// go to escalation and away mode, not the detectors).
    let acksTaken = Atomic<Int>(0)
    private let intakeClosed = Atomic<Bool>(false)
    private let intakeBusy = Atomic<Int>(0)
    private let logger: Logger
    private static let ackPrefix = Array("caremonitord/".utf8)

    private init(config: Configuration, pipeline: IngestPipeline, detectors: DetectorEngine,
                 escalation: (any EscalationDriver)?, learned: LearnedStateFile?, processor: HomeProcessor,
                 away: AwayMode, pause: FamilyPause, watch: HomeWatch?, logger: Logger) {
        self.config = config
        self.away = away
        self.pause = pause
        self.watch = watch
        self.pipeline = pipeline
        self.detectors = detectors
        self.escalation = escalation
        self.learned = learned
        self.processor = processor
        self.logger = logger
    }

    /// Builds a home from a config.
    ///
    /// - Parameters:
    ///   - stateDirectory: learned state (`<dir>/<person>/learned.json`, loaded now) and, on the system clock, the
    ///     incident journal. nil keeps nothing.
    ///   - events: every event line (detections, incidents, notifications, acks), as `replay` prints them; called on
    ///     the detector thread and, on the system clock, on escalation's task.
    ///   - onDetection: each detection, on the detector thread, before it reaches escalation.
    static func build(config: Configuration, clock: HomeClock, notifiers: HomeNotifiers, stateDirectory: String?,
                      logger: Logger, events: @escaping @Sendable (String) -> Void,
                      onDetection: @escaping (Detection) -> Void = { _ in }) throws(CommandError) -> MonitoredHome {
        let routing = try makeRouting(config)
        let pipeline = IngestPipeline(routing: routing, backpressure: clock.isVirtual ? .wait : .dropWhenFull,
                                      logger: logger.child("ingest"))
        let escalation = try makeEscalation(config, clock: clock, notifiers: notifiers, stateDirectory: stateDirectory,
                                            logger: logger, events: events)
        let person = config.person.id
        let name = config.escalation?.person.name ?? config.person.name ?? person
        let away = AwayMode(person: person, zone: ZoneInfo(identifier: config.person.timezone) ?? ZoneInfo(identifier: "UTC")!,
                            stateDirectory: clock.isVirtual ? nil : stateDirectory)
        let pause = FamilyPause(families: AwayMode.families) { started, time, window in
            events(away.eventLine(started: started, at: time, window))
            guard started else { return away.ended(at: time) }
            if let a = away.current {
                let (title, text) = AwayMode.announcement(name: name, a)
                escalation?.announce(key: AwayMode.announcementKey(person: person, a), title: title, text: text, at: time)
            }
        }
        if !clock.isVirtual, let a = away.load(now: SystemClock().wallNow()) { pause.set(a.window) }
        let watch = clock.isVirtual ? nil : HomeWatch()
        let detectors = try makeDetectorEngine(config, signals: pipeline.registry, pause: pause) { d in
            watch?.take(d)
            onDetection(d)
            guard let escalation else { return events(d.eventLine) }
            // Timers due before the detection fire first, so the lines stay in time order.
            escalation.advance(to: d.time)
            events(d.eventLine)
            escalation.alert(alert(from: d), at: d.time)
        }
        let learned = stateDirectory.map { LearnedStateFile(stateDirectory: $0, person: config.person.id) }
        learned?.load(into: detectors)
        let evidence = ArrivalEvidence(rooms: detectors.routine?.rooms ?? RoomClassifier(), registry: pipeline.registry)
        let processor = HomeProcessor(detectors: detectors, escalation: escalation, evidence: evidence, watch: watch)
        return MonitoredHome(config: config, pipeline: pipeline, detectors: detectors, escalation: escalation,
                             learned: learned, processor: processor, away: away, pause: pause, watch: watch, logger: logger)
    }

    private static func makeEscalation(_ config: Configuration, clock: HomeClock, notifiers: HomeNotifiers,
                                       stateDirectory: String?, logger: Logger,
                                       events: @escaping @Sendable (String) -> Void) throws(CommandError) -> (any EscalationDriver)? {
        guard let escalation = config.escalation else { return nil }
        var instances: [String: any Notifier] = [:]
        switch notifiers {
        case .none: return nil
        case .recording:
            for name in escalation.notifiers.keys { instances[name] = RecordingNotifier(name: name) }
        case .real(let publisher):
            instances = NotifierRegistry.instantiate(escalation.notifiers,
                                                     context: NotifierContext(logger: logger.child("notify"), publisher: publisher))
        }
        switch clock {
        case .capture:
            // Incidents of a recorded day happen on its time: they are never journaled beside a live daemon's.
            let manual = ManualClock(wall: 0)
            let engine = EscalationEngine(config: escalation, clock: manual, notifiers: instances, stateDirectory: nil,
                                          logger: .silent, events: { events($0.line) })
            return CaptureTimeEscalation(engine: engine, clock: manual)
        case .system(let journal):
            let system = SystemClock()
            // Live answers must carry their page's token; the key outlives restarts in the state directory.
            var key = AnswerKey.ephemeral()
            if let stateDirectory {
                do { key = try AnswerKey.load(stateDirectory: stateDirectory, create: true) } catch {
                    throw CommandError(exitCode: ExitCode.ioError, message: "\(error)")
                }
            }
            let engine = EscalationEngine(config: escalation, clock: system, notifiers: instances,
                                          stateDirectory: journal ? stateDirectory : nil, answers: .tokens(key), checksWallClock: true,
                                          logger: logger,
                                          events: { events($0.line) })
            return LiveEscalation(engine: engine, clock: system, logger: logger.child("escalation"))
        }
    }

    // MARK: Source side (one thread)

    /// One message from the source. Answers on this person's ack topics go to escalation, away messages to away
    /// mode; everything else to the decoders and the ring.
    func ingest(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, arrival: Double) {
        if takeCommand(topic, payload, arrival) { return }
        pipeline.ingest(topic: topic, payload: payload, arrival: arrival)
    }

    /// The topics `takeCommand` takes, for the daemon's subscriptions.
    var commandFilters: [String] {
        [AckTopic.filter(person: person), DashboardAck.topic(person: person), AwayMode.topic(person: person)]
    }

    /// Takes a command message of this person (an ack, a dashboard ack, away) out of the stream; false for every
    /// other message.
    func takeCommand(_ topic: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, _ time: Double) -> Bool {
        guard topic.count > Self.ackPrefix.count, topic.starts(with: Self.ackPrefix) else { return false }
        let name = String(decoding: topic, as: UTF8.self)
        if name == AwayMode.topic(person: person) {
            acksTaken.add(1, ordering: .relaxed)
            switch away.take(Array(payload), at: time) {
            case .success(.set(let a)):
                pause.set(a.window)
                logger.notice("away until \(a.untilText)\(a.reason.map { " (\($0))" } ?? ""): routine and inactivity paused")
            case .success(.cancel):
                pause.set(nil)
                logger.notice("away cancelled: routine and inactivity watched again")
            case .failure(let e): logger.notice("away message on \(name) ignored: \(e)")
            }
            return true
        }
        guard let escalation else { return false }
        let ack: Result<Ack, AckDecodingError>
        if name == DashboardAck.topic(person: person) {
            guard let member = config.homeAssistant.dashboardMember else {
                acksTaken.add(1, ordering: .relaxed)
                logger.notice("dashboard ack ignored: homeAssistant.dashboardMember names nobody in the config")
                return true
            }
            ack = DashboardAck.decode(Array(payload), member: member)
        } else if let (p, incident) = AckTopic.parse(name), p == person {
            ack = Ack.decode(incident: incident, payload: Array(payload))
        } else {
            return false
        }
        acksTaken.add(1, ordering: .relaxed)
        switch ack {
        case .success(let ack): escalation.ack(ack, at: time, afterSamples: pipeline.stagedSamples)
        case .failure(let e): logger.notice("ack on \(name) ignored: \(e)")
        }
        return true
    }

    /// `ingest` for a live source that a stop may close from another thread (`closeIntake`): a message that comes
    /// after it is dropped.
    func ingestIfOpen(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, arrival: Double) {
        // Announce first, then look (and `closeIntake` the reverse): one of the two sees the other.
        intakeBusy.add(1, ordering: .sequentiallyConsistent)
        defer { intakeBusy.subtract(1, ordering: .sequentiallyConsistent) }
        guard !intakeClosed.load(ordering: .sequentiallyConsistent) else { return }
        ingest(topic: topic, payload: payload, arrival: arrival)
    }

    /// Stops taking messages from a live source and waits for one being taken now; the caller then owns the
    /// source side (may call `finishInput`).
    func closeIntake() {
        intakeClosed.store(true, ordering: .sequentiallyConsistent)
        while intakeBusy.load(ordering: .sequentiallyConsistent) != 0 { sched_yield() }
    }

    /// The source has no more messages (a capture's end): the detector loop drains the ring and returns.
    func finishInput() { pipeline.finish() }

    // MARK: Detector thread

    /// The detector loop: until `finishInput()` and everything consumed. `idle` runs when no sample came for
    /// `idleTimeout` seconds; it returns the time to move the detectors to (live: now), or nil.
    func runDetectors(idleTimeout: Double = 0.5, idle: () -> Double? = { nil }) {
        pipeline.runConsumer(processor, idleTimeout: idleTimeout, idle: idle)
    }

    /// After the last sample of a capture: time-based checks and escalation timers run up to the last sample's time
    /// (nothing is assumed after the capture ends). Call after `runDetectors` returned.
    func finishCapture() {
        guard detectors.latestTime.isFinite else { return }
        // Answers after the last sample: what became due before each comes first (as `HomeProcessor` does).
        if let capture = escalation as? CaptureTimeEscalation {
            capture.takeAcks(before: .max) { t in processor.advance(to: t - HomeProcessor.settleMargin) }
        }
        detectors.finish(at: detectors.latestTime)
        escalation?.finish(at: detectors.latestTime)
    }

    /// Saves the learned state (detector thread, or after it was joined).
    func saveLearnedState() throws(CommandError) {
        try learned?.save(detectors)
    }
}

/// The clock of a home (see `MonitoredHome`).
enum HomeClock {
    /// The system's clocks: timers fire in real time. `journal`: keep the incident journal in the state directory.
    case system(journal: Bool)
    /// A virtual clock driven by the capture's time; nothing is journaled.
    case capture

    var isVirtual: Bool { if case .capture = self { true } else { false } }
}

/// The notifiers of a home (see `MonitoredHome`).
enum HomeNotifiers {
    /// The configured notifiers; `publisher` is the MQTT connection that the `mqtt` notifier publishes on.
    case real(publisher: (any MessagePublisher)?)
    /// Each configured notifier replaced by one that records the page and sends nothing (replay).
    case recording
    /// No escalation at all: detections only (`learn`, `evaluate`).
    case none
}

/// The detector thread's processor: the detector engine, and around it what escalation needs from the samples.
/// Live, arrival evidence while an incident is open (escalation's own task keeps its timers). On the capture's
/// clock, the stretch is cut at each sample where escalation may have something to do (an ack the reader met
/// before this sample; a door, motion or button reading) and escalation takes it there, after the detectors have
/// seen every sample before it. Every input to escalation (a detection, an ack, an arrival, the capture's end)
/// first fires the timers due by its own time, at their deadlines, so the virtual clock needs no other driver and
/// a replay gives the same lines whatever the threads' timing. Costs two comparisons per sample on the capture's
/// clock with a circle, and nothing without one.
final class HomeProcessor: SampleProcessor {
    let detectors: DetectorEngine
    let live: LiveEscalation?
    let capture: CaptureTimeEscalation?
    var evidence: ArrivalEvidence
    let watch: HomeWatch?
    /// Samples taken from the ring so far (ring positions, as the reader counts them).
    private var processed = 0

    init(detectors: DetectorEngine, escalation: (any EscalationDriver)?, evidence: ArrivalEvidence, watch: HomeWatch?) {
        self.detectors = detectors
        self.watch = watch
        live = escalation as? LiveEscalation
        capture = escalation as? CaptureTimeEscalation
        self.evidence = evidence
    }

    func process(_ sample: Sample) {
        withUnsafePointer(to: sample) { process(UnsafeBufferPointer(start: $0, count: 1)) }
    }

    func process(_ stretch: UnsafeBufferPointer<Sample>) {
        guard let capture else {
            detectors.process(stretch)
            watch?.observe(detectors, at: detectors.latestTime)
            if let live {
                evidence.scan(stretch, watching: live.watchingArrivals, generation: live.incidentsOpened) { e, t in live.evidence(e, at: t) }
            }
            return
        }
        guard let base = stretch.baseAddress else { return }
        var from = 0
        var lastSignal = SignalID(.max)
        var door = false
        // An ack queued while this stretch is taken was read after its samples: it falls at or after its end.
        var nextAck = capture.nextAckPosition.load(ordering: .acquiring)
        for i in 0..<stretch.count {
            let s = base[i]
            let position = processed + i
            let ackDue = position >= nextAck
            if s.signal != lastSignal {
                lastSignal = s.signal
                door = evidence.isEvidence(s.signal)
            }
            // Every door, motion and button sample is a cut, open incident or not: where the stretch is cut must
            // depend on the samples alone, not on how far the detectors had got.
            guard ackDue || door else { continue }
            if i > from { detectors.process(UnsafeBufferPointer(start: base + from, count: i - from)) }
            from = i
            // Detections due in the quiet before an ack or a door come first, as they would live (the detectors
            // stop short of its time by `settleMargin`: a wristband batch read after it may carry earlier times).
            if ackDue {
                capture.takeAcks(before: position) { t in advance(to: t - Self.settleMargin) }
                nextAck = capture.nextAckPosition.load(ordering: .acquiring)
            }
            if door {
                advance(to: s.time - Self.settleMargin)
                evidence.scan(UnsafeBufferPointer(start: base + i, count: 1), watching: capture.watchingArrivals,
                              generation: capture.incidentsOpened) { e, t in capture.evidence(e, at: t) }
            }
        }
        detectors.process(UnsafeBufferPointer(start: base + from, count: stretch.count - from))
        processed += stretch.count
    }

    func advance(to time: Double) {
        detectors.advance(to: time)
        watch?.observe(detectors, at: time)
    }

    static let settleMargin = 2.0
}

/// A notifier for replay: records what would have been sent and sends nothing ("replay never sends a real
/// notification").
struct RecordingNotifier: Notifier {
    let name: String
    var retry: RetryPolicy { RetryPolicy(attempts: 1, attemptTimeout: .seconds(1), deadline: .seconds(1)) }
    func attempt(_ notification: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        DeliveryReceipt(reference: "replay")
    }
}
