import CareSupport
import Dispatch
import Escalation
import Synchronization

/// What a home hands to its escalation engine, and on which clock the engine's timers run. The one difference
/// between a live day and a recorded one on the escalation side: `LiveEscalation` (the system's clocks, timers in
/// real time, inputs queued to one serial task) or `CaptureTimeEscalation` (a virtual clock that the capture's own
/// time moves forward, every input handled before the detector thread goes on).
///
/// ## Implementation requirements
/// - Inputs reach the engine in the order they were given (an alert before the ack that answers it).
/// - `alert`, `evidence` and `advance` are called on the detector thread; `ack` on the source's thread. None of
///   them waits for a network.
protocol EscalationDriver: AnyObject, Sendable {
    var engine: EscalationEngine { get }
    /// True while an incident is open: the home then looks for arrivals in its door and motion readings.
    var watchingArrivals: Bool { get }
    /// How many incidents escalation has opened so far (an arrival belongs to the incidents open when the door opened).
    var incidentsOpened: Int { get }
    /// The capture's time moved to `time` (epoch seconds): fire what became due (the virtual clock only).
    func advance(to time: Double)
    func alert(_ alert: Alert, at time: Double)
    /// An answer from the source, which had staged `samples` samples into the ring before it.
    func ack(_ ack: Ack, at time: Double, afterSamples samples: Int)
    func evidence(_ evidence: HomeEvidence, at time: Double)
    /// Tells the circle once (`EscalationEngine.announce`), at `time`.
    func announce(key: String, title: String, text: String, at time: Double)
    /// The capture ended at `time`: what is still queued is handed over, timers fire up to then (virtual clock).
    func finish(at time: Double)
}

/// Escalation on the capture's own time (`replay`): the virtual clock starts at the first time the home sees and
/// only moves forward; each timer fires at its own deadline, between the detections and acks around it. The
/// detector thread waits for each step, and every input (a detection, an ack, an arrival, the end) first fires the
/// timers due by its own time, so the event lines come out in one order whatever the threads' timing: the home's
/// processor hands acks and arrivals over at their place in the ring's order (`HomeProcessor`).
///
/// Acks come from the capture reader's thread with the number of samples it had staged before them, and are taken
/// in that place of the ring's order (`nextAckPosition`).
final class CaptureTimeEscalation: EscalationDriver, @unchecked Sendable {
    // @unchecked Sendable: `started`, `nextDue` and `open` are touched only by the detector thread (the protocol's
    // threading contract); the ack queue is a Mutex and its next position an atomic.
    let engine: EscalationEngine
    let clock: ManualClock
    private var started = false
    /// The wall time (on the virtual clock) of the earliest armed timer.
    private(set) var nextDue = Double.infinity
    private var open = false
    private(set) var incidentsOpened = 0
    private let queuedAcks = Mutex<[(position: Int, time: Double, ack: Ack)]>([])
    /// The ring position before which the next queued ack is taken (Int.max: none).
    let nextAckPosition = Atomic<Int>(.max)

    init(engine: EscalationEngine, clock: ManualClock) {
        self.engine = engine
        self.clock = clock
    }

    var watchingArrivals: Bool { open }

    func advance(to time: Double) {
        guard time >= nextDue else { return }
        settle(through: time) { _ in }
    }

    func alert(_ alert: Alert, at time: Double) {
        settle(through: time) { engine in _ = await engine.receive(alert) }
    }

    func ack(_ ack: Ack, at time: Double, afterSamples samples: Int) {
        queuedAcks.withLock { q in
            q.append((samples, time, ack))
            nextAckPosition.store(q[0].position, ordering: .releasing)
        }
    }

    /// Hands over the acks queued before ring position `position`, each at its own time, after `reaching(time)` has
    /// brought the detectors up to it (a detection due in the quiet before an ack opens its incident first).
    func takeAcks(before position: Int, reaching: (Double) -> Void) {
        let due = queuedAcks.withLock { q -> [(position: Int, time: Double, ack: Ack)] in
            let n = q.firstIndex { $0.position > position } ?? q.count
            defer {
                q.removeFirst(n)
                nextAckPosition.store(q.first?.position ?? .max, ordering: .releasing)
            }
            return Array(q[..<n])
        }
        for a in due {
            reaching(a.time)
            settle(through: a.time) { engine in await engine.receive(a.ack) }
        }
    }

    func evidence(_ evidence: HomeEvidence, at time: Double) {
        settle(through: time) { engine in await engine.receive(evidence) }
    }

    func announce(key: String, title: String, text: String, at time: Double) {
        settle(through: time) { engine in await engine.announce(key: key, title: title, text: text) }
    }

    func finish(at time: Double) {
        takeAcks(before: .max) { _ in }   // none left when the home finished the capture (`finishCapture`)
        settle(through: time) { _ in }
    }

    /// Fires every timer due up to `time` in deadline order, then runs `then` at `time`.
    private func settle(through time: Double, then: @escaping @Sendable (EscalationEngine) async -> Void) {
        if !started {
            started = true
            clock.setWall(time)
        }
        let (engine, clock) = (self.engine, self.clock)
        let (due, isOpen, opened) = blockingAwait { () async -> (Double, Bool, Int) in
            await Self.fireTimers(engine, clock, through: time)
            await then(engine)
            await engine.waitForDeliveries()
            let due = await engine.nextDeadline.map { clock.wallNow() + seconds(clock.monotonicNow().duration(to: $0)) } ?? .infinity
            return (due, await engine.hasOpenIncidents, await engine.incidentCount)
        }
        nextDue = due
        open = isOpen
        incidentsOpened = opened
    }

    /// Fires each timer due up to `target` (virtual epoch seconds) at its own deadline, then moves the clock there.
    private static func fireTimers(_ engine: EscalationEngine, _ clock: ManualClock, through target: Double) async {
        while let deadline = await engine.nextDeadline {
            let dueIn = seconds(clock.monotonicNow().duration(to: deadline))
            guard clock.wallNow() + max(0, dueIn) <= target else { break }
            if dueIn > 0 { clock.advance(by: dueIn) }
            await engine.tick()
            await engine.waitForDeliveries()
        }
        let now = clock.wallNow()
        if target > now { clock.advance(by: target - now) }
    }
}

/// Escalation in real time (`run`): one serial task takes every input and every timer turn in order, so alerts,
/// acks, evidence and timers never race inside the engine and a reload can swap the engine between two inputs.
/// A second task only wakes the first (at the next deadline, at least every 250 ms); a third polls the notifiers
/// that must be asked for answers (Pushover receipts, SMS replies), so a slow poll never holds up a timer.
final class LiveEscalation: EscalationDriver, Sendable {
    /// How a `replace` went.
    enum Replacement: Sendable {
        case replaced
        /// Deliveries of the running engine were still under way after `replaceWait` seconds: nothing changed.
        case postponed(deliveries: Int)
        case failed(JournalError)
        /// Escalation was busy with an earlier input for longer than the wait: the swap is queued behind it.
        case queued
    }
    /// How long a reload waits for deliveries under way (timers wait meanwhile; systemd's watchdog must not).
    static let replaceWait = 5.0

    enum Input: Sendable {
        case alert(Alert)
        case ack(Ack)
        case evidence(HomeEvidence)
        /// Fire due timers and run the schedule (digest, heartbeat, weekly tests).
        case turn
        /// Hand over to another engine (a reloaded config): the old one finishes its deliveries first.
        case replace(EscalationEngine, @Sendable (Replacement) -> Void)
        /// `careMonitord forget` through the control socket.
        case forget(WallTime, @Sendable (Result<Int, JournalError>) -> Void)
        case announce(key: String, title: String, text: String)
    }

    private let current: Mutex<EscalationEngine>
    private let inputs: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let open = Atomic<Bool>(false)
    private let opened = Atomic<Int>(0)
    /// Turns the serial task completed (inputs and timer turns): the watchdog's proof that escalation is alive.
    let turns = Atomic<Int>(0)
    /// The next deadline in monotonic nanoseconds (Int64.max: none), for the waking task.
    private let nextDeadline = Atomic<Int64>(.max)
    let clock: any CareClock
    let logger: Logger
    /// The open incidents after the latest input, for the live state topics (read by the daemon's main thread).
    private let openNow = Mutex<[Incident]>([])
    var openIncidents: [Incident] { openNow.withLock { $0 } }

    init(engine: EscalationEngine, clock: any CareClock, logger: Logger) {
        current = Mutex(engine)
        (inputs, continuation) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .unbounded)
        self.clock = clock
        self.logger = logger
    }

    var engine: EscalationEngine { current.withLock { $0 } }
    var watchingArrivals: Bool { open.load(ordering: .relaxed) }
    var incidentsOpened: Int { opened.load(ordering: .relaxed) }

    func advance(to time: Double) {}
    func finish(at time: Double) {}
    func alert(_ alert: Alert, at time: Double) { continuation.yield(.alert(alert)) }
    func ack(_ ack: Ack, at time: Double, afterSamples samples: Int) { continuation.yield(.ack(ack)) }
    func evidence(_ evidence: HomeEvidence, at time: Double) { continuation.yield(.evidence(evidence)) }
    func announce(key: String, title: String, text: String, at time: Double) {
        continuation.yield(.announce(key: key, title: title, text: text))
    }

    /// Recovers the journal, then starts the tasks. Inputs given before are kept and taken after recovery.
    /// `schedule`: run the calendar (digest, heartbeat, weekly tests, heartbeat URL); off for `test-alert`.
    func start(schedule: Bool = true) throws(JournalError) -> RecoveryReport {
        let engine = self.engine
        let report = blockingAwait { () async -> Result<RecoveryReport, JournalError> in
            do throws(JournalError) { return .success(try await engine.recover()) } catch { return .failure(error) }
        }
        let recovered = try report.get()
        let serial = Task { [self] in
            for await input in inputs { await take(input, schedule: schedule) }
        }
        let waker = Task { [self] in
            var lastTurn = clock.monotonicNow()
            while !Task.isCancelled {
                let now = clock.monotonicNow()
                let due = nextDeadline.load(ordering: .relaxed)
                // A turn at least every 250 ms even when nothing is due: the watchdog's proof of life.
                if due <= now.nanoseconds || now.nanoseconds - lastTurn.nanoseconds >= 250_000_000 {
                    continuation.yield(.turn)
                    lastTurn = now
                }
                // Wake at the deadline, and at least every 100 ms: a deadline armed meanwhile is at most that late.
                let sleep = min(max(due &- now.nanoseconds, 1_000_000), 100_000_000)
                try? await Task.sleep(for: .nanoseconds(sleep))
            }
        }
        let poller = Task { [self] in
            while !Task.isCancelled {
                await self.engine.pollNotifiers()
                try? await Task.sleep(for: .seconds(2))
            }
        }
        tasks.withLock { $0 = [serial, waker, poller] }
        continuation.yield(.turn)
        return recovered
    }

    private func take(_ input: Input, schedule: Bool) async {
        let engine = self.engine
        switch input {
        case .alert(let a): await engine.receive(a)
        case .ack(let a): await engine.receive(a)
        case .evidence(let e): await engine.receive(e)
        case .turn:
            await engine.tick()
            if schedule { await engine.runSchedule() }
        case .replace(let next, let done):
            // The new engine recovers the journal: what the old one still has in flight would be sent twice.
            let deadline = clock.monotonicNow().advanced(bySeconds: Self.replaceWait)
            while await engine.deliveriesInFlight > 0 && clock.monotonicNow() < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let busy = await engine.deliveriesInFlight
            if busy > 0 {
                done(.postponed(deliveries: busy))
                break
            }
            do throws(JournalError) {
                _ = try await next.recover()
                current.withLock { $0 = next }
                done(.replaced)
            } catch {
                done(.failed(error))
            }
        case .forget(let before, let done):
            do throws(JournalError) { done(.success(try await engine.forget(before: before))) } catch { done(.failure(error)) }
        case .announce(let key, let title, let text):
            let told = await engine.announce(key: key, title: title, text: text)
            if !told.isEmpty { logger.info("told \(told.joined(separator: ", ")): \(title)") }
        }
        let e = self.engine
        let incidents = await e.openIncidents
        openNow.withLock { $0 = incidents }
        nextDeadline.store(await e.nextDeadline?.nanoseconds ?? .max, ordering: .relaxed)
        open.store(!incidents.isEmpty, ordering: .relaxed)
        opened.store(await e.incidentCount, ordering: .relaxed)
        turns.add(1, ordering: .relaxed)
    }

    /// Swaps in the engine of a reloaded config between two inputs: it recovers the same journal, so open
    /// incidents continue at their step. The old engine stays when deliveries are still under way after
    /// `replaceWait` seconds, or on a journal error. Waits at most a little longer than that.
    func replace(with next: EscalationEngine) -> Replacement {
        let result = Mutex<Replacement?>(nil)
        let done = DispatchSemaphore(value: 0)
        continuation.yield(.replace(next) { r in result.withLock { $0 = r }; done.signal() })
        if done.wait(timeout: .now() + Self.replaceWait + 5) == .timedOut {
            // The serial task is still in an earlier input: the swap happens when it gets here.
            return .queued
        }
        return result.withLock { $0 ?? .queued }
    }

    /// Deletes closed incidents older than `before` from the journal and memory, between two inputs.
    func forget(before: WallTime) -> Result<Int, JournalError> {
        let result = Mutex<Result<Int, JournalError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        continuation.yield(.forget(before) { r in result.withLock { $0 = r }; done.signal() })
        done.wait()
        return result.withLock { $0! }
    }

    /// Stops taking inputs after those already queued, waits (up to `timeout`) for deliveries under way.
    func stop(timeout: Double) {
        continuation.finish()
        let all = tasks.withLock { $0 }
        for t in all.dropFirst() { t.cancel() }
        let serial = all.first
        let engine = self.engine
        let done = DispatchSemaphore(value: 0)
        Task {
            await serial?.value
            await engine.waitForDeliveries()
            done.signal()
        }
        if done.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("escalation did not finish its deliveries within \(timeout) s of the stop; the journal resends them at the next start")
        }
    }
}

/// A duration in seconds.
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
