import CareSupport
@testable import Escalation
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Linda's circle, as in the issue: Anna (daughter), Ben (neighbour), Carol (volunteer), the telecare centre.
enum Fixture {
    static let start = RFC3339.parse("2026-11-23T14:02:00Z")!

    static let configText = #"""
    {
      "person": {"id": "linda", "name": "Linda", "timezone": "Europe/London",
                 "contacts": [{"notifier": "mqtt", "address": "caremonitord/linda/tv"}]},
      "circle": {"members": [
        {"id": "anna", "name": "Anna", "role": "family", "relationship": "daughter", "consent": {"given": true, "at": "2026-01-10"},
         "contacts": [{"notifier": "mqtt", "address": "phones/anna"}, {"notifier": "mqtt", "address": "sms/anna"}]},
        {"id": "ben", "name": "Ben", "role": "neighbour", "consent": true,
         "contacts": [{"notifier": "mqtt", "address": "phones/ben"}],
         "quietHours": {"from": "23:00", "to": "07:00", "criticalOverride": true}},
        {"id": "carol", "name": "Carol", "role": "volunteer", "consent": true,
         "contacts": [{"notifier": "mqtt", "address": "phones/carol"}],
         "quietHours": {"from": "22:00", "to": "08:00", "criticalOverride": false}},
        {"id": "centre", "name": "Leeds Telecare", "role": "monitoring-centre", "consent": true,
         "contacts": [{"notifier": "mqtt", "address": "centre/queue"}]},
        {"id": "dave", "name": "Dave", "role": "family", "relationship": "son", "consent": false,
         "contacts": [{"notifier": "mqtt", "address": "phones/dave"}]}
      ]},
      "policies": [
        {"kind": "fall", "selfCancelSeconds": 60, "twoResponders": false, "ackTimeoutSeconds": 120, "rePages": 1,
         "claimMarginSeconds": 600, "inhibits": ["inactivity"],
         "tiers": [{"members": ["anna", "dave"], "after": 0},
                   {"members": ["ben", "carol"], "after": 300},
                   {"roles": ["monitoring-centre"], "after": 600}]},
        {"kind": "inactivity", "tiers": [{"members": ["anna"]}]},
        {"kind": "drift", "digestOnly": true}
      ]
    }
    """#

    static var config: EscalationConfig {
        switch EscalationConfig.decode(text: configText) {
        case .success(let c): return c
        case .failure(let e): fatalError("\(e)")
        }
    }

    static func fall(at t: WallTime = start, severity: Severity = .critical) -> Alert {
        Alert(person: "linda", kind: "fall", severity: severity, time: t, device: "hallway",
              wording: KindWording(headline: "Fall detected", question: "Did you fall?"))
    }
}

/// Drives one incident by hand: a moment that moves, every action recorded.
struct Harness {
    var now: Moment
    var incident: Incident
    var actions: [IncidentAction] = []
    /// Actions of the last step only.
    var last: [IncidentAction] = []

    init(config: EscalationConfig = Fixture.config, policy: ((inout Policy) -> Void)? = nil, alert: Alert = Fixture.fall(),
         open: Bool = true) {
        now = Moment(monotonic: MonotonicInstant(nanoseconds: 1_000_000_000), wall: alert.time)
        var ctx = IncidentContext(config: config, kind: alert.kind, severity: alert.severity)
        policy?(&ctx.policy)
        incident = Incident(id: "linda-1", alert: alert, context: ctx)
        if open { record(incident.open(at: now)) }
    }

    /// Records a step's actions and checks the state machine's invariants after it (debug builds).
    mutating func record(_ a: [IncidentAction], sourceLocation: SourceLocation = #_sourceLocation) {
        last = a; actions += a
        #if DEBUG
        for v in incident.checkInvariants() { Issue.record("invariant broken: \(v)", sourceLocation: sourceLocation) }
        #endif
    }

    mutating func advance(_ seconds: Int) {
        now = Moment(monotonic: now.monotonic.advanced(by: .seconds(seconds)), wall: now.wall.adding(seconds: Int64(seconds)))
    }

    mutating func handle(_ e: IncidentEvent) { record(incident.handle(e, at: now)) }

    /// Moves time to the timer's deadline and fires it.
    mutating func fire(_ k: TimerKey) {
        guard let d = incident.armed[k] else { Issue.record("timer \(k) is not armed; armed: \(incident.armed.keys.map(\.id))"); return }
        let secs = Int((d.nanoseconds - now.monotonic.nanoseconds) / 1_000_000_000)
        if secs > 0 { advance(secs) }
        handle(.timerFired(k))
    }

    /// Fires every armed timer in deadline order up to `seconds` from now.
    mutating func run(for seconds: Int) {
        let end = now.monotonic.advanced(by: .seconds(seconds))
        while let (k, d) = incident.armed.min(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.id < $1.key.id) }), d <= end {
            fire(k)
        }
        let rest = Int((end.nanoseconds - now.monotonic.nanoseconds) / 1_000_000_000)
        if rest > 0 { advance(rest) }
    }

    mutating func ack(_ member: String, _ action: Ack.Action, eta: Int? = nil) {
        handle(.ack(Ack(incident: incident.id, member: member, action: action, etaMinutes: eta)))
    }

    var sends: [OutgoingNotification] { actions.compactMap { if case .send(let n) = $0 { n } else { nil } } }
    var lastSends: [OutgoingNotification] { last.compactMap { if case .send(let n) = $0 { n } else { nil } } }
    var lines: [EventLine] { actions.compactMap { if case .emit(let l) = $0 { l } else { nil } } }
    var states: [String] { lines.compactMap { if case .incident(_, _, _, _, let s, _) = $0 { s } else { nil } } }
    var logs: [String] { actions.compactMap { if case .log(_, let m) = $0 { m } else { nil } } }
    func pages(to member: String) -> [OutgoingNotification] { sends.filter { $0.member == member && $0.purpose == .page } }
    func sent(to member: String) -> [OutgoingNotification] { sends.filter { $0.member == member } }
}

/// A notifier that records what it was asked to deliver, and can be told to fail.
final class InMemoryNotifier: Notifier {
    let name: String
    let retry = RetryPolicy(attempts: 1, attemptTimeout: .seconds(1), deadline: .seconds(1))
    private let state = Mutex<(delivered: [OutgoingNotification], failAddresses: Set<String>)>(([], []))

    init(name: String = "mqtt") { self.name = name }

    var delivered: [OutgoingNotification] { state.withLock { $0.delivered } }
    func failing(_ address: String) { state.withLock { _ = $0.failAddresses.insert(address) } }

    func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        let fail = state.withLock { s -> Bool in
            if s.failAddresses.contains(n.address) { return true }
            s.delivered.append(n)
            return false
        }
        if fail { throw NotifierError(notifier: name, disposition: .permanent, message: "HTTP 404 from the test", status: 404) }
        return DeliveryReceipt()
    }
}

/// Collects event lines.
final class LineCollector: Sendable {
    private let lines = Mutex<[EventLine]>([])
    var sink: @Sendable (EventLine) -> Void { { [self] l in lines.withLock { $0.append(l) } } }
    var all: [EventLine] { lines.withLock { $0 } }
}

func temporaryDirectory(_ label: String = "esc") -> String {
    var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return String(cString: p!)
}

/// Escalation's tests speak WallTime and Duration to CareSupport's ManualClock.
extension ManualClock {
    convenience init(wall: WallTime, monotonic: MonotonicInstant = MonotonicInstant(nanoseconds: 0)) {
        self.init(wall: Double(wall.milliseconds) / 1000, monotonicNanoseconds: monotonic.nanoseconds)
    }
    func advance(by d: Duration) { advance(by: d.secondsDouble) }
    func stepWall(to w: WallTime) { setWall(Double(w.milliseconds) / 1000) }
    func now() -> Moment { moment() }
}
