/// An answer a notifier collected from its service: an ack it could attribute (a Pushover receipt), or a free-text
/// reply from an address (an SMS) that the engine attributes to a member.
public enum PolledAnswer: Sendable, Equatable {
    case ack(Ack)
    case reply(from: String, text: String)
}

/// A notifier whose service holds answers the daemon must fetch (the gateway sits behind NAT: nothing calls in).
///
/// ## Implementation requirements
/// - `poll` may be called as often as the daemon likes; the notifier enforces its service's minimum interval.
/// - It returns each answer once.
public protocol PollingNotifier: Notifier {
    func poll(now: ContinuousClock.Instant) async -> [PolledAnswer]
}

extension PushoverNotifier: PollingNotifier {
    public func poll(now: ContinuousClock.Instant) async -> [PolledAnswer] {
        await pollReceipts(now: now).map { .ack($0) }
    }
}

extension SMSNotifier: PollingNotifier {
    public func poll(now: ContinuousClock.Instant) async -> [PolledAnswer] {
        readReplies().map { .reply(from: $0.from, text: $0.text) }
    }
}

extension NtfyNotifier: PollingNotifier {
    public func poll(now: ContinuousClock.Instant) async -> [PolledAnswer] {
        await pollReplies(now: now).map { .ack($0) }
    }
}
