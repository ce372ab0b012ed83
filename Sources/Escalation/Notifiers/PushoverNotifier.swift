import CareSupport
import Synchronization

/// `pushover`: `POST /1/messages.json` (form fields `token`, `user`, `title`, `message`, `priority`). Critical
/// pages use emergency priority 2 (Pushover repeats them every `retry` seconds until acknowledged or `expire`); the
/// receipt is polled (`GET /1/receipts/{receipt}.json`, never more often than every 5 s) and an acknowledgement
/// becomes a claim. When the incident's all-clear goes out, its receipts are cancelled
/// (`POST /1/receipts/{receipt}/cancel.json`) so phones stop ringing. No idempotency key: at least once.
public final class PushoverNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "pushover" }
        public var url: String
        public var token: Secret
        public var retrySeconds: Int
        public var expireSeconds: Int
        public var pollSeconds: Int
        public var retry: RetryPolicy
        public func validate(address: String) -> String? {
            address.count == 30 && address.allSatisfy({ $0.isLetter || $0.isNumber }) ? nil
                : "the pushover address is the member's 30-character user key"
        }
        public func answerPath(for address: String) -> AnswerPath { .acknowledge }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            PushoverNotifier(name: name, url: url, token: token, retrySeconds: retrySeconds, expireSeconds: expireSeconds,
                             pollInterval: .seconds(pollSeconds), retry: retry, logger: context.logger)
        }
    }

    public static let kind = NotifierKind(name: "pushover", summary: "Pushover (emergency priority with receipts)") { _, o, p, r in
        r.allowOnly(o, ["kind", "url", "token", "retrySeconds", "expireSeconds", "pollSeconds", "attempts", "attemptTimeoutSeconds",
                        "deadlineSeconds"], p)
        let url = r.url(o, "url", p, default: "https://api.pushover.net")
        let token = r.secret(o, "token", p, required: true)
        let c = (r.int(o, "retrySeconds", p, default: 60, range: 30...10800), r.int(o, "expireSeconds", p, default: 3600, range: 30...10800),
                 r.int(o, "pollSeconds", p, default: 10, range: 5...3600), r.retryPolicy(o, p))
        guard let url, let token else { return nil }
        return Configuration(url: url, token: token, retrySeconds: c.0, expireSeconds: c.1, pollSeconds: c.2, retry: c.3)
    }

    struct Receipt: Sendable { var receipt: String; var incident: String; var member: String; var lastPoll: ContinuousClock.Instant? }

    public let name: String
    let url: String
    let token: Secret
    let retrySeconds: Int
    let expireSeconds: Int
    /// Never below 5 s (Pushover's rule).
    let pollInterval: Duration
    public let retry: RetryPolicy
    let http: HTTPClient
    let logger: Logger
    let receipts = Mutex<[Receipt]>([])

    public init(name: String, url: String = "https://api.pushover.net", token: Secret, retrySeconds: Int = 60, expireSeconds: Int = 3600,
                pollInterval: Duration = .seconds(10), retry: RetryPolicy = RetryPolicy(), logger: Logger = .silent) {
        self.name = name; self.url = HTTPClient.trimSlash(url); self.token = token
        self.retrySeconds = max(30, retrySeconds); self.expireSeconds = min(10800, expireSeconds)
        self.pollInterval = max(.seconds(5), pollInterval); self.retry = retry; self.logger = logger
        http = HTTPClient(notifier: name, secrets: [token], urls: [url])
    }

    public func priority(_ n: OutgoingNotification) -> Int {
        switch n.purpose {
        case .page, .selfCheck: n.severity == .critical ? 2 : n.severity == .warning ? 1 : 0
        case .update: 1
        case .allClear, .test, .summary: 0
        }
    }

    public func fields(_ n: OutgoingNotification) -> [(String, String)] {
        var f = [("token", token.reveal()), ("user", n.address), ("title", n.title), ("message", n.text),
                 ("priority", String(priority(n))), ("timestamp", String(n.time.milliseconds / 1000))]
        if priority(n) == 2 { f += [("retry", String(retrySeconds)), ("expire", String(expireSeconds)), ("tags", Self.tag(n))] }
        return f
    }

    /// The emergency's tag: one per incident and member, so that a copy sent again after a crash (whose receipt
    /// was never journaled) can be cancelled by tag, and the all-clear stops any of them.
    static func tag(_ n: OutgoingNotification) -> String {
        "cm_" + "\(n.incident)_\(n.member)".map { $0.isASCII && ($0.isLetter || $0.isNumber) ? String($0) : "_" }.joined()
    }

    /// Stops the retries of every emergency with the tag of `n`.
    func cancel(tagOf n: OutgoingNotification, timeout: Duration) async {
        await cancel("/1/receipts/cancel_by_tag/\(Self.tag(n)).json", what: "the emergencies for \(n.member) by tag", timeout: timeout)
    }

    /// One cancel request, best effort: logged when it fails.
    func cancel(_ path: String, what: String, timeout: Duration) async {
        do {
            _ = try await http.send("POST", url + path, headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                    body: HTTPClient.formEncode([("token", token.reveal())]), timeout: timeout)
        } catch {
            logger.notice("\(name): cancelling \(what) failed: \(error.message)")
        }
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        if n.purpose == .allClear {
            await cancelReceipts(incident: n.incident, timeout: timeout)
            await cancel(tagOf: n, timeout: timeout)
        }
        let r = try await http.send("POST", url + "/1/messages.json", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                    body: HTTPClient.formEncode(fields(n)), timeout: timeout)
        let receipt = (try? JSONParser.parse(r.body))?["receipt"]?.stringValue
        if let receipt, priority(n) == 2 {
            receipts.withLock { list in
                if !list.contains(where: { $0.receipt == receipt }) {
                    list.append(Receipt(receipt: receipt, incident: n.incident, member: n.member, lastPoll: nil))
                }
            }
        }
        return DeliveryReceipt(reference: receipt)
    }

    /// Cancels the emergency retries of every receipt of the incident (best effort: logged when it fails).
    func cancelReceipts(incident: String, timeout: Duration) async {
        let mine = receipts.withLock { list in
            let m = list.filter { $0.incident == incident }
            list.removeAll { $0.incident == incident }
            return m
        }
        for r in mine {
            await cancel("/1/receipts/\(r.receipt)/cancel.json", what: "the emergency receipt for \(r.member)", timeout: timeout)
        }
    }

    /// Polls receipts not polled within the poll interval; an acknowledged one becomes a claim. Call it from the
    /// daemon's loop as often as you like: the interval is enforced here.
    public func pollReceipts(now: ContinuousClock.Instant = .now, timeout: Duration = .seconds(10)) async -> [Ack] {
        let due = receipts.withLock { list -> [Receipt] in
            var d: [Receipt] = []
            for i in list.indices where list[i].lastPoll.map({ $0.duration(to: now) >= pollInterval }) ?? true {
                list[i].lastPoll = now
                d.append(list[i])
            }
            return d
        }
        var acks: [Ack] = []
        for r in due {
            guard let resp = try? await http.send("GET", url + "/1/receipts/\(r.receipt).json?token=\(HTTPClient.percentEncode(token.reveal()))",
                                                  timeout: timeout),
                  let state = Self.receiptState(resp.body) else { continue }
            if state.acknowledged {
                acks.append(Ack(incident: r.incident, member: r.member, action: .claim, via: "pushover", proof: .channel))
            }
            if state.acknowledged || state.expired {
                receipts.withLock { $0.removeAll { $0.receipt == r.receipt } }
            }
        }
        return acks
    }

    /// A receipt poll's answer (`{"status":1,"acknowledged":1,"expired":0,…}`); nil when it is not JSON.
    public static func receiptState(_ body: [UInt8]) -> (acknowledged: Bool, expired: Bool)? {
        guard let v = try? JSONParser.parse(body) else { return nil }
        return (v["acknowledged"]?.doubleValue == 1, v["expired"]?.doubleValue == 1)
    }

    var pendingReceipts: [String] { receipts.withLock { $0.map(\.receipt) } }
}
