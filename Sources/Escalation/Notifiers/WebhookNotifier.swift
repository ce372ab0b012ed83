import CareSupport

/// `webhook`: POSTs JSON shaped like Alertmanager's webhook (version 4), so that existing receivers understand it,
/// plus an `incident` object with our fields. The key goes in the `Idempotency-Key` header and in the alert's
/// fingerprint, so a receiver can drop a redelivery.
public struct WebhookNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "webhook" }
        public var url: String
        public var bearerToken: Secret?
        public var retry: RetryPolicy
        public func validate(address: String) -> String? { nil }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            WebhookNotifier(name: name, url: url, bearerToken: bearerToken, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "webhook", summary: "POST Alertmanager-compatible JSON (version 4)") { _, o, p, r in
        r.allowOnly(o, ["kind", "url", "bearerToken", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        let url = r.url(o, "url", p)
        let token = r.secret(o, "bearerToken", p)
        let retry = r.retryPolicy(o, p)
        r.refuseCleartext(url: url, key: "url", carrying: token, p)
        guard let url else { return nil }
        return Configuration(url: url, bearerToken: token, retry: retry)
    }

    public let name: String
    let url: String
    let bearerToken: Secret?
    public let retry: RetryPolicy
    let http: HTTPClient

    public init(name: String, url: String, bearerToken: Secret? = nil, retry: RetryPolicy = RetryPolicy()) {
        self.name = name; self.url = url; self.bearerToken = bearerToken; self.retry = retry
        // The path can be the credential (a Home Assistant webhook id): errors show only the scheme and host.
        http = HTTPClient(notifier: name, secrets: (bearerToken.map { [$0] } ?? []) + Redact.pathSecrets(inURL: url),
                          urls: [url])
    }

    /// The request body for one notification.
    public static func body(_ n: OutgoingNotification, receiver: String) -> JSONValue {
        let resolved = n.purpose == .allClear
        let status: JSONValue = resolved ? "resolved" : "firing"
        let labels: JSONValue = ["alertname": .string(n.kind), "person": .string(n.person), "severity": .string(n.severity.rawValue),
                                 "incident": .string(n.incident), "member": .string(n.member)]
        let annotations: JSONValue = ["summary": .string(n.title), "description": .string(n.text)]
        let alert: JSONValue = [
            "status": status, "labels": labels, "annotations": annotations,
            "startsAt": .string(RFC3339.format(n.time)),
            "endsAt": resolved ? .string(RFC3339.format(n.time)) : "0001-01-01T00:00:00Z",
            "generatorURL": "", "fingerprint": .string(n.key),
        ]
        return [
            "version": "4", "groupKey": .string("{}:{incident=\"\(n.incident)\"}"), "truncatedAlerts": 0,
            "status": status, "receiver": .string(receiver),
            "groupLabels": ["incident": .string(n.incident)],
            "commonLabels": labels, "commonAnnotations": annotations, "externalURL": "",
            "alerts": [alert],
            "incident": n.json,
        ]
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        var headers = [("Content-Type", "application/json"), ("Idempotency-Key", n.key)]
        if let t = bearerToken { headers.append(("Authorization", "Bearer \(t.reveal())")) }
        _ = try await http.send("POST", url, headers: headers, body: Array(JSONWriter.serialize(Self.body(n, receiver: name)).utf8),
                                timeout: timeout)
        return DeliveryReceipt()
    }
}
