import CareSupport

/// `gotify`: POST `/message` with an application token in `X-Gotify-Key`, JSON `title`, `message`, `priority`
/// (0–10) and `extras` (plain text display, our incident fields). A Gotify client sees the messages of its own
/// user's applications, so each member who should see only their own pages has an application (and token) of their
/// own on their own Gotify user: the contact's address names that token in `tokens`; an empty address uses the
/// instance's shared `token`. No idempotency key: at least once.
public struct GotifyNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "gotify" }
        public var url: String
        public var token: Secret?
        /// Per-member application tokens by the name a contact's address gives.
        public var tokens: [String: Secret]
        public var retry: RetryPolicy
        public func validate(address: String) -> String? {
            if address.isEmpty {
                return token == nil ? "this gotify instance has no shared token: name the member's application token (one of \(known)), or set the instance's token" : nil
            }
            return tokens[address] == nil ? "the gotify address names the member's own application token in the instance's tokens; \"\(address)\" is not one of \(known)" : nil
        }
        var known: String { tokens.isEmpty ? "none: add tokens to the instance" : tokens.keys.sorted().joined(separator: ", ") }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            GotifyNotifier(name: name, url: url, token: token, tokens: tokens, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "gotify", summary: "Gotify push (self-hosted)") { _, o, p, r in
        r.allowOnly(o, ["kind", "url", "token", "tokens", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        let url = r.url(o, "url", p)
        var tokens: [String: Secret] = [:]
        if let t = r.object(o["tokens"], ConfigReader.join(p, "tokens")) {
            for name in t.members.map(\.key) {
                if let s = r.secret(t, name, ConfigReader.join(p, "tokens")) { tokens[name] = s }
            }
        }
        let token = r.secret(o, "token", p)
        if o["token"] == nil && o["tokens"] == nil {
            r.fail(ConfigReader.join(p, "token"), "is required unless tokens names each member's own application token: "
                + "a string, {\"file\": PATH} or {\"credential\": NAME}")
        }
        let retry = r.retryPolicy(o, p)
        r.refuseCleartext(url: url, key: "url", carrying: token ?? tokens.values.first, p)
        guard let url else { return nil }
        return Configuration(url: url, token: token, tokens: tokens, retry: retry)
    }

    public let name: String
    let url: String
    let token: Secret?
    let tokens: [String: Secret]
    public let retry: RetryPolicy
    let http: HTTPClient

    public init(name: String, url: String, token: Secret?, tokens: [String: Secret] = [:], retry: RetryPolicy = RetryPolicy()) {
        self.name = name; self.url = HTTPClient.trimSlash(url); self.token = token; self.tokens = tokens; self.retry = retry
        http = HTTPClient(notifier: name, secrets: (token.map { [$0] } ?? []) + tokens.keys.sorted().compactMap { tokens[$0] }, urls: [url])
    }

    static func priority(_ n: OutgoingNotification) -> Int {
        if n.purpose == .allClear || n.purpose == .test || n.purpose == .summary { return 4 }
        return n.severity == .critical ? 10 : n.severity == .warning ? 7 : 4
    }

    public static func body(_ n: OutgoingNotification) -> JSONValue {
        ["title": .string(n.title), "message": .string(n.text), "priority": .number(Double(priority(n))),
         "extras": ["client::display": ["contentType": "text/plain"], "caremonitord::incident": n.json]]
    }

    /// The application token the contact's address names (the shared one for an empty address).
    func token(for address: String) -> Secret? { address.isEmpty ? token : tokens[address] }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        guard let key = token(for: n.address) else {
            throw NotifierError(notifier: name, disposition: .permanent,
                                message: "no application token named \"\(n.address)\": add it to this instance's tokens")
        }
        let r = try await http.send("POST", url + "/message", headers: [("Content-Type", "application/json"), ("X-Gotify-Key", key.reveal())],
                                    body: Array(JSONWriter.serialize(Self.body(n)).utf8), timeout: timeout)
        return DeliveryReceipt(reference: (try? JSONParser.parse(r.body))?["id"]?.doubleValue.map { JSONWriter.format($0) })
    }
}
