import CareSupport

/// `gotify`: POST `/message` with the application token in `X-Gotify-Key`, JSON `title`, `message`, `priority`
/// (0–10) and `extras` (plain text display, our incident fields). Gotify tokens are per application, so the
/// contact address is unused. No idempotency key: at least once.
public struct GotifyNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "gotify" }
        public var url: String
        public var token: Secret
        public var retry: RetryPolicy
        public func validate(address: String) -> String? { nil }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            GotifyNotifier(name: name, url: url, token: token, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "gotify", summary: "Gotify push (self-hosted)") { _, o, p, r in
        r.allowOnly(o, ["kind", "url", "token", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        let url = r.url(o, "url", p)
        let token = r.secret(o, "token", p, required: true)
        let retry = r.retryPolicy(o, p)
        guard let url, let token else { return nil }
        return Configuration(url: url, token: token, retry: retry)
    }

    public let name: String
    let url: String
    let token: Secret
    public let retry: RetryPolicy
    let http: HTTPClient

    public init(name: String, url: String, token: Secret, retry: RetryPolicy = RetryPolicy()) {
        self.name = name; self.url = HTTPClient.trimSlash(url); self.token = token; self.retry = retry
        http = HTTPClient(notifier: name, secrets: [token], urls: [url])
    }

    static func priority(_ n: OutgoingNotification) -> Int {
        if n.purpose == .allClear || n.purpose == .test || n.purpose == .summary { return 4 }
        return n.severity == .critical ? 10 : n.severity == .warning ? 7 : 4
    }

    public static func body(_ n: OutgoingNotification) -> JSONValue {
        ["title": .string(n.title), "message": .string(n.text), "priority": .number(Double(priority(n))),
         "extras": ["client::display": ["contentType": "text/plain"], "caremonitord::incident": n.json]]
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        let r = try await http.send("POST", url + "/message", headers: [("Content-Type", "application/json"), ("X-Gotify-Key", token.reveal())],
                                    body: Array(JSONWriter.serialize(Self.body(n)).utf8), timeout: timeout)
        return DeliveryReceipt(reference: (try? JSONParser.parse(r.body))?["id"]?.doubleValue.map { JSONWriter.format($0) })
    }
}
