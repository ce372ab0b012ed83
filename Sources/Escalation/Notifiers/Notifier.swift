import CareSupport

/// Why a message is sent.
public enum NotificationPurpose: String, Sendable, Equatable {
    /// "Did you fall? Press OK if you are fine": to the person, during the self-cancel window.
    case selfCheck = "self-check"
    /// Asking a member to respond.
    case page
    /// Telling someone already paged what changed (a claim, an arrival, an expired claim).
    case update
    /// Resolved, cancelled or stood down: nobody needs to go.
    case allClear = "all-clear"
    /// `careMonitord test-alert` and the weekly test page.
    case test
    /// Informational, never urgent: the daily digest, the daily heartbeat, a report of an unanswered test.
    case summary
}

/// One message to one member through one notifier instance. `key` is stable across restarts and redeliveries: a
/// notifier that can pass an idempotency key (Matrix `txnId`, webhook header, MQTT retained topic) uses it.
public struct OutgoingNotification: Sendable, Equatable {
    public var key: String
    public var incident: String
    public var person: String
    public var personName: String
    /// Member id (the person's id for self-checks).
    public var member: String
    public var notifier: String
    public var address: String
    public var kind: String
    public var severity: Severity
    public var purpose: NotificationPurpose
    /// 1-based tier the member was paged in; 0 for messages to the person.
    public var tier: Int
    public var title: String
    public var text: String
    public var time: WallTime
    /// The incident's state when this was composed ("escalating", "claimed", …).
    public var incidentState: String
    /// Answers the channel should offer as buttons or replies, in order.
    public var actions: [Ack.Action]
    /// The answer token for this member and incident (`AnswerKey`): an answer from outside must carry it. Set when
    /// the message is sent, never journaled, never in an event line or a log.
    public var token: String?

    public init(key: String, incident: String, person: String, personName: String, member: String, notifier: String,
                address: String, kind: String, severity: Severity, purpose: NotificationPurpose, tier: Int, title: String,
                text: String, time: WallTime, incidentState: String, actions: [Ack.Action]) {
        self.key = key; self.incident = incident; self.person = person; self.personName = personName; self.member = member
        self.notifier = notifier; self.address = address; self.kind = kind; self.severity = severity; self.purpose = purpose
        self.tier = tier; self.title = title; self.text = text; self.time = time; self.incidentState = incidentState
        self.actions = actions
    }

    /// The alert as JSON: the `mqtt` payload, the `command` notifier's stdin, part of the webhook body.
    public var json: JSONValue {
        var o = JSONObject()
        o["key"] = .string(key); o["incident"] = .string(incident); o["person"] = .string(person)
        o["member"] = .string(member); o["kind"] = .string(kind); o["severity"] = .string(severity.rawValue)
        o["purpose"] = .string(purpose.rawValue); o["tier"] = .number(Double(tier)); o["state"] = .string(incidentState)
        o["title"] = .string(title); o["text"] = .string(text); o["time"] = .string(RFC3339.format(time))
        o["actions"] = .array(actions.map { .string($0.rawValue) })
        if let token { o["token"] = .string(token) }
        return .object(o)
    }
}

/// A failed delivery, already redacted: it never contains a token, password or a URL's secret parts.
public struct NotifierError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Disposition: String, Sendable { case retryable, permanent }
    public var notifier: String
    public var disposition: Disposition
    public var message: String
    /// The HTTP status or exit status, when there was one.
    public var status: Int?
    /// How long the service asked us to wait (`Retry-After`), when it said.
    public var retryAfter: Duration?

    public init(notifier: String, disposition: Disposition, message: String, status: Int? = nil) {
        self.notifier = notifier; self.disposition = disposition; self.message = message; self.status = status
    }
    public var isRetryable: Bool { disposition == .retryable }
    public var description: String { "notifier \(notifier): \(message)" }
}

/// What a notifier says after a successful delivery. `reference` is the service's own handle when it has one
/// (a Pushover receipt, a Matrix event id).
public struct DeliveryReceipt: Sendable, Equatable {
    public var reference: String?
    public init(reference: String? = nil) { self.reference = reference }
}

/// Bounds on one delivery: every attempt has a timeout and the whole retry loop a deadline.
public struct RetryPolicy: Sendable, Equatable {
    public var attempts: Int
    public var attemptTimeout: Duration
    public var deadline: Duration
    public var initialBackoff: Duration
    public var maximumBackoff: Duration

    public init(attempts: Int = 4, attemptTimeout: Duration = .seconds(10), deadline: Duration = .seconds(60),
                initialBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(15)) {
        self.attempts = attempts; self.attemptTimeout = attemptTimeout; self.deadline = deadline
        self.initialBackoff = initialBackoff; self.maximumBackoff = maximumBackoff
    }
}

/// A way to reach people.
///
/// ## Implementation requirements
/// - `attempt` makes one delivery attempt and returns or throws within `timeout` (the retry loop relies on it).
/// - A failure the next attempt cannot fix (HTTP 4xx other than 408/429, a bad address, a missing program) throws a
///   `.permanent` error; network errors, timeouts, 408, 429 and 5xx throw `.retryable`.
/// - Errors and log lines never contain a secret: tokens, passwords, URL credentials and token query parameters
///   are redacted (`Redact`).
/// - Delivering the same `OutgoingNotification.key` twice must be harmless: pass the key to services that
///   deduplicate, and make no other side effect depend on it being new.
/// - Construction does the set-up once (URLs, the secrets to redact), so `attempt` only sends.
public protocol Notifier: Sendable {
    /// The instance name contacts refer to.
    var name: String { get }
    var retry: RetryPolicy { get }
    func attempt(_ notification: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt
}

public enum DeliveryOutcome: Sendable, Equatable {
    case delivered(DeliveryReceipt, attempts: Int)
    case failed(NotifierError, attempts: Int)
}

extension Notifier {
    /// Delivers with retries: stops on success, on a permanent error, after `retry.attempts`, at `retry.deadline`,
    /// or when `stillWanted` says the message is no longer true (its incident closed) before an attempt.
    public func deliver(_ n: OutgoingNotification, logger: Logger = .silent,
                        stillWanted: @Sendable () async -> Bool = { true }) async -> DeliveryOutcome {
        let start = ContinuousClock.now
        let end = start.advanced(by: retry.deadline)
        var backoff = retry.initialBackoff
        var attempt = 0
        var last = NotifierError(notifier: name, disposition: .retryable, message: "no attempt made within the deadline")
        while attempt < retry.attempts {
            let remaining = ContinuousClock.now.duration(to: end)
            if remaining <= .zero { break }
            if attempt > 0, !(await stillWanted()) {
                return .failed(NotifierError(notifier: name, disposition: .permanent, message: "no longer needed: not sent again"), attempts: attempt)
            }
            attempt += 1
            do {
                let receipt = try await self.attempt(n, timeout: min(retry.attemptTimeout, remaining))
                return .delivered(receipt, attempts: attempt)
            } catch {
                last = error
                // A contact address (a phone's topic, a Matrix room) is the member's: never in a log or the journal.
                if n.address.count >= 3 { last.message = last.message.replacingAll(n.address, with: "<address>") }
                logger.notice("\(name): attempt \(attempt) for \(n.key) failed: \(last.message)")
                if !error.isRetryable { return .failed(error, attempts: attempt) }
            }
            if Task.isCancelled { break }
            let left = ContinuousClock.now.duration(to: end)
            let wait = max(backoff, last.retryAfter ?? .zero)
            if attempt >= retry.attempts || left <= wait { break }
            try? await Task.sleep(for: wait)
            backoff = min(backoff * 2, retry.maximumBackoff)
        }
        if attempt >= 1, last.isRetryable {
            last.message += " (\(attempt) attempt\(attempt == 1 ? "" : "s") so far)"
        }
        return .failed(last, attempts: attempt)
    }
}

/// Scrubs secrets out of text bound for errors and logs.
public enum Redact {
    /// Replaces every occurrence of each secret's value, URL userinfo and the values of token-like query
    /// parameters (`token`, `access_token`, `key`, `password`, `auth`, `user`) with `<secret>`.
    public static func text(_ s: String, secrets: [Secret]) -> String {
        var out = url(s)
        for secret in secrets {
            let v = secret.reveal()
            if v.count >= 3 { out = out.replacingAll(v, with: "<secret>") }
        }
        return out
    }

    /// The credentials inside a URL (userinfo, token-like query values), to redact wherever they show up again.
    public static func secrets(inURL s: String) -> [Secret] {
        var out: [Secret] = []
        if let r = s.firstRange(of: "://"), let at = s[r.upperBound...].firstIndex(of: "@"), !s[r.upperBound..<at].contains("/") {
            for part in s[r.upperBound..<at].split(separator: ":") { out.append(Secret(String(part))) }
        }
        if let q = s.firstIndex(of: "?") {
            for pair in s[s.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, tokenNames.contains(kv[0].lowercased()) { out.append(Secret(String(kv[1]))) }
            }
        }
        return out
    }

    static let tokenNames = ["token", "access_token", "key", "password", "auth", "user", "apikey"]

    /// A URL's path and query as secrets: a Home Assistant webhook id or a healthchecks.io check id is the whole
    /// credential, and a server may echo its last segment back. Empty when there is no path worth hiding.
    public static func pathSecrets(inURL s: String) -> [Secret] {
        guard let r = s.firstRange(of: "://"),
              let slash = s[r.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) else { return [] }
        let rest = String(s[s.index(after: slash)...])
        guard rest.count >= 3 else { return [] }
        var out = [Secret(rest)]
        let path = rest.prefix { $0 != "?" && $0 != "#" }
        if let last = path.split(separator: "/").last, last.count >= 8, last.count < rest.count { out.append(Secret(String(last))) }
        return out
    }

    public static func url(_ s: String) -> String {
        var out = s
        // userinfo: scheme://user:pass@host
        if let r = out.firstRange(of: "://"), let at = out[r.upperBound...].firstIndex(of: "@"),
           !out[r.upperBound..<at].contains("/") {
            out.replaceSubrange(r.upperBound..<at, with: "<secret>")
        }
        for name in tokenNames {
            for sep in ["?", "&"] {
                var searchFrom = out.startIndex
                while let r = out[searchFrom..<out.endIndex].firstRange(of: "\(sep)\(name)=") {
                    let valueEnd = out[r.upperBound...].firstIndex(where: { $0 == "&" || $0 == " " || $0 == "\"" || $0 == "#" }) ?? out.endIndex
                    out.replaceSubrange(r.upperBound..<valueEnd, with: "<secret>")
                    searchFrom = out.index(r.upperBound, offsetBy: 8, limitedBy: out.endIndex) ?? out.endIndex
                }
            }
        }
        return out
    }
}

extension String {
    /// Every occurrence of `target`, matched byte for byte in UTF-8 (as Foundation's literal search did, not
    /// Character by Character: a secret followed by a combining mark is still found).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        let hay = Array(utf8), needle = Array(target.utf8)
        guard hay.count >= needle.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(hay.count)
        var i = 0
        var found = false
        while i < hay.count {
            if hay[i] == needle[0], i + needle.count <= hay.count, hay[i..<(i + needle.count)].elementsEqual(needle) {
                out += replacement.utf8
                i += needle.count
                found = true
            } else {
                out.append(hay[i])
                i += 1
            }
        }
        return found ? String(decoding: out, as: UTF8.self) : self
    }
}
