import Anomaly
import CareSupport
import Dispatch
import Escalation
import Synchronization

/// The only place where a detector's `Detection` becomes an escalation `Alert`.
func alert(from d: Detection) -> Alert {
    let severity: Escalation.Severity
    switch d.severity {
    case .info: severity = .info
    case .warning: severity = .warning
    case .critical: severity = .critical
    }
    // The detail for people: a detector's own sentence when it wrote one, else its facts as compact JSON.
    let text = d.detail["summary"]?.stringValue ?? d.detail["text"]?.stringValue
        ?? (d.detail.isEmpty ? "" : JSONWriter.serialize(.object(d.detail)))
    return Alert(person: d.person, kind: d.kind.rawValue, severity: severity,
                 state: d.state == .raised ? .raised : .cleared,
                 time: WallTime(milliseconds: Int64((d.time * 1000).rounded())), device: d.device, detail: text)
}

/// The escalation part of a config (`person`, `circle`, `policies`, `notifiers`, `journal`, `targets`), or nil when
/// the config has no circle: such a config is valid and only detects.
func escalationConfiguration(_ config: Configuration) throws(CommandError) -> EscalationConfig? {
    guard case .object(let root) = config.document.root, root["circle"] != nil else { return nil }
    var own = JSONObject()
    for k in ["person", "circle", "policies", "notifiers", "journal", "targets"] { if let v = root[k] { own[k] = v } }
    switch EscalationConfig.decode(.object(own), positions: config.document.positions, file: config.file) {
    case .success(let c): return c
    case .failure(let e): throw CommandError(exitCode: ExitCode.config, message: "\(e)")
    }
}

/// A notifier for replay: records what would have been sent and sends nothing ("replay never sends a real
/// notification"). Every configured notifier name is replaced by one of these.
struct ReplayNotifier: Notifier {
    let name: String
    var retry: RetryPolicy { RetryPolicy(attempts: 1, attemptTimeout: .seconds(1), deadline: .seconds(1)) }
    func attempt(_ notification: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        DeliveryReceipt(reference: "replay")
    }
}

/// Runs an async body to completion from synchronous code (a command's main thread, never a pool thread).
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let v = await body()
        box.withLock { $0 = v }
        done.signal()
    }
    done.wait()
    return box.withLock { $0! }
}

/// Escalation in replay: the detections of a capture, in order, drive an `EscalationEngine` on a virtual clock
/// (the capture's time); its timers fire at their virtual deadlines up to the end of the capture. Returns the event
/// lines (detections, incidents, notifications, acks) in time order.
enum ReplayEscalation {
    static func run(config: EscalationConfig, detections: [Detection], acks: [(time: Double, ack: Ack)] = [],
                    until end: Double) -> [String] {
        guard let first = detections.first else { return [] }
        let clock = ManualClock(wall: first.time)
        let lines = Mutex<[String]>([])
        var notifiers: [String: any Notifier] = [:]
        for name in config.notifiers.keys { notifiers[name] = ReplayNotifier(name: name) }
        let engine = EscalationEngine(config: config, clock: clock, notifiers: notifiers, stateDirectory: nil,
                                      logger: .silent, events: { e in lines.withLock { $0.append(e.line) } })
        let finalTime = max(end, detections.last?.time ?? end)
        return blockingAwait {
            var out: [String] = []
            func drain() { out += lines.withLock { l in defer { l.removeAll() }; return l } }
            /// Fires every escalation timer due up to `target` (virtual epoch seconds), each at its own deadline.
            func advance(to target: Double) async {
                while true {
                    let now = clock.wallNow()
                    guard let deadline = await engine.nextDeadline else { break }
                    let dueIn = Double(deadline.nanoseconds - clock.monotonicNow().nanoseconds) / 1e9
                    guard now + max(0, dueIn) <= target else { break }
                    if dueIn > 0 { clock.advance(by: dueIn) }
                    await engine.tick()
                    await engine.waitForDeliveries()
                    drain()
                }
                let now = clock.wallNow()
                if target > now { clock.advance(by: target - now) }
            }
            // Detections and acks in time order (a detection first when both share an instant).
            var a = 0
            func feedAcks(through t: Double) async {
                while a < acks.count && acks[a].time <= t {
                    await advance(to: acks[a].time)
                    await engine.receive(acks[a].ack)
                    await engine.waitForDeliveries()
                    drain()
                    a += 1
                }
            }
            for d in detections {
                await feedAcks(through: d.time.nextDown)
                await advance(to: d.time)
                out.append(d.eventLine)
                await engine.receive(alert(from: d))
                await engine.waitForDeliveries()
                drain()
            }
            await feedAcks(through: .infinity)
            await advance(to: finalTime)
            drain()
            return out
        }
    }
}

/// Acks found in a capture (`caremonitord/<person>/incidents/<id>/ack`), for replay's escalation.
final class AckCollector: @unchecked Sendable {
    // @unchecked Sendable: used by the thread that reads the capture, then read after replay.
    let person: String
    private(set) var acks: [(time: Double, ack: Ack)] = []
    private static let prefix = Array("caremonitord/".utf8)

    init(person: String) { self.person = person }

    /// Takes an ack message of this person out of the pipeline; other messages go on.
    func take(_ topic: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, _ time: Double) -> Bool {
        guard topic.count > Self.prefix.count, topic.starts(with: Self.prefix),
              let (p, incident) = AckTopic.parse(String(decoding: topic, as: UTF8.self)), p == person else { return false }
        switch Ack.decode(incident: incident, payload: Array(payload)) {
        case .success(let ack): acks.append((time, ack))
        case .failure(let e): printError("replay: ack on \(String(decoding: topic, as: UTF8.self)) ignored: \(e)")
        }
        return true
    }
}
