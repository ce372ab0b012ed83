import CareSupport
import Synchronization

/// `ntfy`: publishes with ntfy's JSON API (POST to the server root with `topic`, `title`, `message`, `priority`
/// 1–5, `tags` and up to three `actions`). The buttons are `http` actions that publish the answer to a reply topic
/// on the same server, which the daemon follows with ntfy's JSON stream (the gateway is behind NAT: nothing calls
/// into it); `ack(fromStreamLine:)` decodes them. ntfy takes no idempotency key: at least once.
public struct NtfyNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "ntfy" }
        public var url: String
        public var token: Secret?
        public var replyTopic: String?
        public var retry: RetryPolicy
        public func validate(address: String) -> String? {
            if address.isEmpty { return "the ntfy address is the topic, e.g. \"linda-care-anna\" (hard to guess: it acts as a password)" }
            if address.contains("/") || address.contains(" ") { return "an ntfy topic cannot contain '/' or spaces" }
            return nil
        }
        public func answerPath(for address: String) -> AnswerPath { replyTopic == nil ? .none : .buttons }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            NtfyNotifier(name: name, url: url, token: token, replyTopic: replyTopic, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "ntfy", summary: "ntfy push (priority, tags, buttons that answer)") { _, o, p, r in
        r.allowOnly(o, ["kind", "url", "token", "replyTopic", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        let url = r.url(o, "url", p, default: "https://ntfy.sh")
        let token = r.secret(o, "token", p)
        let reply = r.string(o, "replyTopic", p)
        let retry = r.retryPolicy(o, p)
        r.refuseCleartext(url: url, key: "url", carrying: token, p)
        guard let url else { return nil }
        return Configuration(url: url, token: token, replyTopic: reply, retry: retry)
    }

    public let name: String
    let url: String
    let token: Secret?
    /// Where buttons publish answers; nil means no buttons.
    let replyTopic: String?
    public let retry: RetryPolicy
    let http: HTTPClient
    let cursor: ReplyCursor

    /// Where the reply topic was last read up to (ntfy's `since`: a message id, or a Unix time at first).
    final class ReplyCursor: Sendable {
        let state: Mutex<(since: String, lastPoll: ContinuousClock.Instant?)>
        init(since: String) { state = Mutex((since, nil)) }
    }

    /// Answers are fetched no more often than this.
    public static let minimumPollInterval = Duration.seconds(2)

    public init(name: String, url: String = "https://ntfy.sh", token: Secret? = nil, replyTopic: String? = nil,
                retry: RetryPolicy = RetryPolicy(), since: WallTime? = nil) {
        self.name = name; self.url = HTTPClient.trimSlash(url); self.token = token; self.replyTopic = replyTopic; self.retry = retry
        cursor = ReplyCursor(since: since.map { String($0.milliseconds / 1000) } ?? String(Int64(SystemClock().wallNow())))
        http = HTTPClient(notifier: name, secrets: token.map { [$0] } ?? [], urls: [url])
    }

    static func priority(_ n: OutgoingNotification) -> Int {
        switch n.purpose {
        case .allClear, .test, .summary: return 3
        case .update: return 4
        case .page, .selfCheck: return n.severity == .critical ? 5 : n.severity == .warning ? 4 : 3
        }
    }

    static func label(_ a: Ack.Action) -> String {
        switch a {
        case .claim: "I'm going"
        case .decline: "I can't"
        case .arrived: "I'm there"
        case .resolve: "Resolved"
        case .cancel: "I'm fine"
        }
    }

    public func body(_ n: OutgoingNotification) -> JSONValue {
        var o: JSONObject = ["topic": .string(n.address), "title": .string(n.title), "message": .string(n.text),
                             "priority": .number(Double(Self.priority(n)))]
        let tag: String = n.purpose == .allClear ? "white_check_mark" : n.purpose == .summary ? "memo" : n.severity == .critical ? "rotating_light" : "warning"
        o["tags"] = [.string(tag), .string(n.kind)]
        if let replyTopic, !n.actions.isEmpty {
            o["actions"] = .array(n.actions.prefix(3).map { a in
                var answer: JSONObject = ["incident": .string(n.incident), "member": .string(n.member), "action": .string(a.rawValue)]
                // The member's token rides in the button's body: a POST to the reply topic without it is refused.
                if let token = n.token { answer["token"] = .string(token) }
                return ["action": "http", "label": .string(Self.label(a)), "url": .string("\(url)/\(replyTopic)"),
                        "method": "POST", "body": .string(JSONWriter.serialize(.object(answer))), "clear": true]
            })
        }
        return .object(o)
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        var headers = [("Content-Type", "application/json")]
        if let t = token { headers.append(("Authorization", "Bearer \(t.reveal())")) }
        let r = try await http.send("POST", url + "/", headers: headers, body: Array(JSONWriter.serialize(body(n)).utf8), timeout: timeout)
        return DeliveryReceipt(reference: (try? JSONParser.parse(r.body))?["id"]?.stringValue)
    }

    /// The URL of the reply topic's JSON stream, which the daemon follows for answers.
    public var replyStreamURL: String? { replyTopic.map { "\(url)/\($0)/json" } }

    /// Fetches the answers published to the reply topic since the last call (`GET /<topic>/json?poll=1&since=…`,
    /// which returns the cached messages and closes), at most every `minimumPollInterval`.
    public func pollReplies(now: ContinuousClock.Instant = .now, timeout: Duration = .seconds(10)) async -> [Ack] {
        guard let replyTopic else { return [] }
        let since: String? = cursor.state.withLock { s in
            if let last = s.lastPoll, last.duration(to: now) < Self.minimumPollInterval { return nil }
            s.lastPoll = now
            return s.since
        }
        guard let since else { return [] }
        var headers: [(String, String)] = []
        if let t = token { headers.append(("Authorization", "Bearer \(t.reveal())")) }
        guard let r = try? await http.send("GET", "\(url)/\(replyTopic)/json?poll=1&since=\(HTTPClient.percentEncode(since))",
                                           headers: headers, timeout: timeout) else { return [] }
        let (acks, lastID) = Self.answers(fromStream: r.text)
        if let lastID { cursor.state.withLock { $0.since = lastID } }
        return acks
    }

    /// A polled stream (one JSON object a line): the answers in it, and the id of its last message (the next `since`).
    public static func answers(fromStream text: String) -> (acks: [Ack], lastID: String?) {
        var acks: [Ack] = []
        var lastID: String?
        for line in text.split(separator: "\n") {
            if let v = try? JSONParser.parse(String(line)), v["event"]?.stringValue == "message", let id = v["id"]?.stringValue { lastID = id }
            if let a = Self.ack(fromStreamLine: String(line)) { acks.append(a) }
        }
        return (acks, lastID)
    }

    /// Decodes one line of the reply topic's JSON stream (`{"event":"message","message":"{…answer…}"}`).
    public static func ack(fromStreamLine line: String) -> Ack? {
        guard let v = try? JSONParser.parse(line), v["event"]?.stringValue == "message",
              let msg = v["message"]?.stringValue, let inner = try? JSONParser.parse(msg),
              let incident = inner["incident"]?.stringValue else { return nil }
        return try? Ack.decode(incident: incident, payload: Array(msg.utf8), via: "ntfy").get()
    }
}
