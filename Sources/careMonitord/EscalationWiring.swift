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
    var a = Alert(person: d.person, kind: d.kind.rawValue, severity: severity,
                  state: d.state == .raised ? .raised : .cleared,
                  time: WallTime(milliseconds: Int64((d.time * 1000).rounded())), device: d.device, detail: text,
                  wording: d.kind.wording)
    // A long press of her help button is how she says "I'm fine" to her own self-check, from any room.
    if d.kind == .sos, let press = d.detail["press"]?.stringValue, ["long", "hold", "long_press"].contains(press) {
        a.answersSelfCheck = true
    }
    // She was quiet inside; the front door is the first sign of life: perhaps whoever is on the way coming in.
    if d.state == .cleared, [.inactivity, .notUp, .bathroomDwell].contains(d.kind), d.detail["frontDoor"]?.boolValue == true {
        a.clearedAtFrontDoor = true
    }
    return a
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
