import CareSupport

/// Where a connection is, as `MQTTClient.status` shows it.
public enum MQTTConnectionPhase: Sendable, Equatable {
    /// Created, not started.
    case idle
    /// TCP (and TLS) connected or connecting, CONNECT sent, no CONNACK yet.
    case connecting
    /// CONNACK accepted.
    case connected
    /// The last attempt failed or the connection ended; waiting before the next attempt.
    case waitingToReconnect
    /// Stopped for good.
    case stopped
}

/// The connection's state machine: backoff, CONNACK watchdog, subscription bookkeeping, counters and fault
/// de-duplication. Pure: no I/O, no clock (times are passed in), no libmosquitto. `MQTTConnection` feeds it events
/// from its loop thread and callbacks (under a `Mutex`) and carries out what it returns; tests drive it directly.
struct MQTTSessionState: Sendable {
    enum Phase: Sendable, Equatable {
        case idle
        case connecting(since: MonotonicInstant)
        case connected(since: MonotonicInstant)
        case waiting(until: MonotonicInstant)
        case stopped
    }

    /// What to do after a CONNACK.
    enum ConnackAction: Sendable, Equatable {
        /// Accepted: publish `online`, then subscribe to each of these (index in `subscriptions`, subscription).
        case sessionUp(subscribe: [Int], reconnected: Bool, failedAttempts: Int)
        /// Refused with this code; the loop will see the connection end and report it.
        case refused(code: Int32)
    }

    /// What a SUBACK changed.
    struct SubackOutcome: Sendable, Equatable {
        /// Subscriptions the broker refused, with the code it gave.
        var rejected: [(subscription: MQTTSubscription, code: Int32)] = []
        /// This SUBACK completed the set: every subscription is now answered on this connection.
        var becameSubscribed = false

        static func == (a: SubackOutcome, b: SubackOutcome) -> Bool {
            a.becameSubscribed == b.becameSubscribed && a.rejected.map(\.subscription) == b.rejected.map(\.subscription)
                && a.rejected.map(\.code) == b.rejected.map(\.code)
        }
    }

    let initialDelay: Duration
    let maximumDelay: Duration
    let connackTimeout: Duration
    /// The same fault is logged at `.warning`/`.error` at most once per this interval; repeats go to `.debug`.
    let faultRepeatInterval: Duration

    private(set) var phase: Phase = .idle
    /// The wait before the next attempt after a failure.
    private(set) var nextDelay: Duration
    /// Attempts that failed since the last accepted CONNACK.
    private(set) var failedAttempts = 0
    private(set) var connectAttempts = 0
    private(set) var connects = 0
    private(set) var disconnects = 0
    private(set) var subscriptions: [MQTTSubscription]
    /// SUBSCRIBE message id → indices into `subscriptions`, on the current connection.
    private var pending: [Int32: [Int]] = [:]
    /// SUBACKs that arrived before their `subscribeSent` was recorded (a subscription added from another thread).
    private var earlyAcks: [Int32: [Int32]] = [:]
    /// Indices answered by a SUBACK on the current connection (granted or refused).
    private var answered: Set<Int> = []
    private(set) var rejected: [MQTTSubscription] = []
    /// The CONNACK refusal of the current attempt, if any.
    private(set) var refusalCode: Int32?
    private(set) var lastFault: MQTTError?
    private var lastReported: (key: String, at: MonotonicInstant)?

    init(subscriptions: [MQTTSubscription], initialDelay: Duration, maximumDelay: Duration, connackTimeout: Duration,
         faultRepeatInterval: Duration = .seconds(60)) {
        self.subscriptions = subscriptions
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.connackTimeout = connackTimeout
        self.faultRepeatInterval = faultRepeatInterval
        self.nextDelay = initialDelay
    }

    var isConnected: Bool { if case .connected = phase { true } else { false } }
    var isStopped: Bool { phase == .stopped }
    /// Connected, and every subscription has been answered by a SUBACK on this connection.
    var isSubscribed: Bool { isConnected && answered.count == subscriptions.count }

    var publicPhase: MQTTConnectionPhase {
        switch phase {
        case .idle: .idle
        case .connecting: .connecting
        case .connected: .connected
        case .waiting: .waitingToReconnect
        case .stopped: .stopped
        }
    }

    // MARK: Events

    /// A connection attempt starts (just before `mosquitto_connect`).
    mutating func attemptStarted(at now: MonotonicInstant) {
        guard !isStopped else { return }
        phase = .connecting(since: now)
        connectAttempts += 1
        refusalCode = nil
    }

    /// The on-connect callback ran with this CONNACK code.
    mutating func connackReceived(code: Int32, at now: MonotonicInstant) -> ConnackAction {
        guard code == 0 else {
            refusalCode = code
            return .refused(code: code)
        }
        phase = .connected(since: now)
        connects += 1
        let failed = failedAttempts
        failedAttempts = 0
        nextDelay = initialDelay
        pending = [:]
        earlyAcks = [:]
        answered = []
        rejected = []
        return .sessionUp(subscribe: Array(subscriptions.indices), reconnected: connects > 1, failedAttempts: failed)
    }

    /// A SUBSCRIBE for these subscriptions was queued with message id `mid`.
    mutating func subscribeSent(mid: Int32, indices: [Int]) -> SubackOutcome {
        if let granted = earlyAcks.removeValue(forKey: mid) {
            pending[mid] = indices
            return subackReceived(mid: mid, granted: granted)
        }
        pending[mid] = indices
        return SubackOutcome()
    }

    /// A SUBACK arrived: `granted` has one QoS (or failure code ≥ 0x80) per filter of the SUBSCRIBE.
    mutating func subackReceived(mid: Int32, granted: [Int32]) -> SubackOutcome {
        guard isConnected else { return SubackOutcome() }
        guard let indices = pending.removeValue(forKey: mid) else {
            earlyAcks[mid] = granted
            return SubackOutcome()
        }
        let wasSubscribed = isSubscribed
        var outcome = SubackOutcome()
        for (k, index) in indices.enumerated() {
            answered.insert(index)
            let code = k < granted.count ? granted[k] : 0x80
            if code >= 0x80 {
                rejected.append(subscriptions[index])
                outcome.rejected.append((subscriptions[index], code))
            }
        }
        outcome.becameSubscribed = !wasSubscribed && isSubscribed
        return outcome
    }

    /// A subscription is added at run time. Returns its index and whether to send SUBSCRIBE now (connected);
    /// otherwise it is made on the next connect.
    mutating func subscriptionAdded(_ subscription: MQTTSubscription) -> (index: Int, sendNow: Bool) {
        subscriptions.append(subscription)
        return (subscriptions.count - 1, isConnected)
    }

    /// Whether the attempt in progress has waited for its CONNACK longer than `connackTimeout`.
    func connackOverdue(at now: MonotonicInstant) -> Bool {
        guard case .connecting(let since) = phase else { return false }
        return now.nanoseconds - since.nanoseconds >= connackTimeout.nanoseconds
    }

    /// The attempt failed or the connection ended with `fault`. Returns how long to wait before the next attempt
    /// (the delay doubles up to the maximum; an accepted CONNACK resets it).
    mutating func connectionEnded(fault: MQTTError, at now: MonotonicInstant) -> Duration {
        if isConnected { disconnects += 1 }
        lastFault = fault
        pending = [:]
        earlyAcks = [:]
        answered = []
        guard !isStopped else { return .zero }
        failedAttempts += 1
        let delay = nextDelay
        nextDelay = min(nextDelay * 2, maximumDelay)
        phase = .waiting(until: MonotonicInstant(nanoseconds: now.nanoseconds + delay.nanoseconds))
        return delay
    }

    /// A fault that does not end the connection (a refused subscription).
    mutating func faultObserved(_ fault: MQTTError) {
        lastFault = fault
    }

    /// Whether to report `fault` at its own level (true) or at `.debug` (the same fault was reported less than
    /// `faultRepeatInterval` ago).
    mutating func shouldReport(_ fault: MQTTError, at now: MonotonicInstant) -> Bool {
        let key = "\(fault.code.rawValue)|\(fault.message)"
        if let last = lastReported, last.key == key,
           now.nanoseconds - last.at.nanoseconds < faultRepeatInterval.nanoseconds {
            return false
        }
        lastReported = (key, now)
        return true
    }

    /// Stopped for good (the connection, if any, is being closed).
    mutating func stopped() {
        if isConnected { disconnects += 1 }
        phase = .stopped
        pending = [:]
        answered = []
    }
}

extension Duration {
    /// Whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (s < 0 ? .min : .max) : ns &+ atto / 1_000_000_000
    }

    /// Whole milliseconds, rounded up (for `poll`).
    var millisecondsRoundedUp: Int32 {
        Int32(clamping: (nanoseconds + 999_999) / 1_000_000)
    }

    /// Seconds as text: "0.5 s", "4 s".
    var secondsText: String {
        let ms = nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
    }
}
