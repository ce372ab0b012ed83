import CareSupport

/// `matrix`: `PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` with a bearer access token. The
/// transaction id is the notification key, so the homeserver drops a redelivery: exactly once.
public struct MatrixNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "matrix" }
        public var homeserver: String
        public var accessToken: Secret
        public var retry: RetryPolicy
        public func validate(address: String) -> String? {
            address.hasPrefix("!") && address.contains(":") ? nil : "the matrix address is a room id such as \"!abcdef:matrix.org\""
        }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            MatrixNotifier(name: name, homeserver: homeserver, accessToken: accessToken, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "matrix", summary: "Matrix room message (client-server API)") { _, o, p, r in
        r.allowOnly(o, ["kind", "homeserver", "accessToken", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        let hs = r.url(o, "homeserver", p)
        let token = r.secret(o, "accessToken", p, required: true)
        let retry = r.retryPolicy(o, p)
        guard let hs, let token else { return nil }
        return Configuration(homeserver: hs, accessToken: token, retry: retry)
    }

    public let name: String
    let homeserver: String
    let accessToken: Secret
    public let retry: RetryPolicy
    let http: HTTPClient

    public init(name: String, homeserver: String, accessToken: Secret, retry: RetryPolicy = RetryPolicy()) {
        self.name = name; self.homeserver = HTTPClient.trimSlash(homeserver); self.accessToken = accessToken; self.retry = retry
        http = HTTPClient(notifier: name, secrets: [accessToken], urls: [homeserver])
    }

    /// The request path for a notification (the txnId is the key).
    public static func path(_ n: OutgoingNotification) -> String {
        "/_matrix/client/v3/rooms/\(HTTPClient.percentEncode(n.address))/send/m.room.message/\(HTTPClient.percentEncode(n.key))"
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        let body: JSONValue = ["msgtype": "m.text", "body": .string("\(n.title)\n\(n.text)")]
        let r = try await http.send("PUT", homeserver + Self.path(n),
                                    headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(accessToken.reveal())")],
                                    body: Array(JSONWriter.serialize(body).utf8), timeout: timeout)
        return DeliveryReceipt(reference: (try? JSONParser.parse(r.body))?["event_id"]?.stringValue)
    }
}
