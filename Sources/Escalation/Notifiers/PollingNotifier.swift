/// An answer a notifier collected from its service: an ack it could attribute (a Pushover receipt), or a free-text
/// reply from an address (an SMS's number, a Matrix user id) that the engine attributes to the member whose contact
/// on that notifier has that address.
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

extension MatrixNotifier: PollingNotifier {
    public func poll(now: ContinuousClock.Instant) async -> [PolledAnswer] {
        await pollReplies(now: now).map { .reply(from: $0.from, text: $0.text) }
    }
}

extension NtfyNotifier: PollingNotifier {
    public func poll(now: ContinuousClock.Instant) async -> [PolledAnswer] {
        await pollReplies(now: now).map { .ack($0) }
    }
}

/// A notifier whose deliveries can leave something going on the service after they succeed (a Pushover emergency
/// repeating until acknowledged), identified by the delivery's `DeliveryReceipt.reference`. The engine journals
/// those references and hands them back after a restart, so that polling continues and the incident's all-clear
/// still stops phones that are ringing.
///
/// ## Implementation requirements
/// - `keepsReceipt(for:)` is true only for notifications whose reference the notifier needs later.
/// - `restoreReceipts` ignores references it already holds.
public protocol ReceiptKeeping: Notifier {
    func keepsReceipt(for notification: OutgoingNotification) -> Bool
    func restoreReceipts(_ receipts: [(receipt: String, notification: OutgoingNotification)])
    /// Before sending again a message that may already have gone out (queued before a crash, no delivery on
    /// record): stops what the first copy left going, so that the second replaces it.
    func replacing(_ notification: OutgoingNotification) async
}

extension PushoverNotifier: ReceiptKeeping {
    public func keepsReceipt(for n: OutgoingNotification) -> Bool { priority(n) == 2 }

    public func replacing(_ n: OutgoingNotification) async {
        if priority(n) == 2 { await cancel(tagOf: n, timeout: retry.attemptTimeout) }
    }

    public func restoreReceipts(_ restored: [(receipt: String, notification: OutgoingNotification)]) {
        receipts.withLock { list in
            for (r, n) in restored where !list.contains(where: { $0.receipt == r }) {
                list.append(Receipt(receipt: r, incident: n.incident, member: n.member, lastPoll: nil))
            }
        }
    }
}
