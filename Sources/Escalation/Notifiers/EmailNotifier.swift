import CareSupport

/// `email`: hands an RFC 5322 message to a sendmail-compatible program (`msmtp -t` by default) on stdin, started
/// with `posix_spawn`. msmtp needs no setuid, so the service keeps `NoNewPrivileges=`. The key becomes the
/// `Message-ID`, so a mail system that deduplicates can drop a redelivery; the messages after an incident's first
/// name it in `In-Reply-To` and `References`, so that a mail program shows the incident as one thread. Exit 75
/// (EX_TEMPFAIL) and 69 (EX_UNAVAILABLE) are retried; other failures are permanent.
public struct EmailNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "email" }
        public var program: String
        public var arguments: [String]
        public var from: String
        public var retry: RetryPolicy
        public func validate(address: String) -> String? {
            let parts = address.split(separator: "@")
            return parts.count == 2 && parts[1].contains(".") && !address.contains(" ") && !address.contains("\n") ? nil
                : "the email address \"\(address)\" is not name@domain"
        }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            EmailNotifier(name: name, program: program, arguments: arguments, from: from, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "email", summary: "email through msmtp or another sendmail-compatible program") { _, o, p, r in
        r.allowOnly(o, ["kind", "program", "arguments", "from", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        let program = r.string(o, "program", p) ?? "/usr/bin/msmtp"
        if !program.hasPrefix("/") { r.fail("\(p).program", "must be an absolute path (no shell, no PATH search), e.g. /usr/bin/msmtp") }
        let args = o["arguments"] == nil ? ["-t"] : r.stringList(o, "arguments", p)
        let from = r.string(o, "from", p) ?? "caremonitord@localhost"
        return Configuration(program: program, arguments: args, from: from, retry: r.retryPolicy(o, p))
    }

    public let name: String
    let program: String
    let arguments: [String]
    let from: String
    public let retry: RetryPolicy

    public init(name: String, program: String = "/usr/bin/msmtp", arguments: [String] = ["-t"], from: String = "caremonitord@localhost",
                retry: RetryPolicy = RetryPolicy()) {
        self.name = name; self.program = program; self.arguments = arguments; self.from = from; self.retry = retry
    }

    static func header(_ s: String) -> String { s.replacingAll("\r", with: " ").replacingAll("\n", with: " ") }

    /// `<linda-20261123-140200.3@caremonitord>` for the key `linda-20261123-140200/3`.
    static func messageID(key: String) -> String { "<\(header(key.replacingAll("/", with: ".")))@caremonitord>" }

    /// The id of the incident's first message when `n` is a later one of the incident (keys `<incident>/<n>`, counted
    /// from 1); nil for the first and for messages outside an incident (tests, digests).
    static func threadRoot(_ n: OutgoingNotification) -> String? {
        guard n.key.hasPrefix(n.incident + "/"), let seq = Int(n.key.dropFirst(n.incident.count + 1)), seq > 1 else { return nil }
        return messageID(key: "\(n.incident)/1")
    }

    public func message(_ n: OutgoingNotification) -> String {
        var head = "From: \(Self.header(from))\r\nTo: \(Self.header(n.address))\r\nSubject: \(Self.header(n.title))\r\n"
            + "Message-ID: \(Self.messageID(key: n.key))\r\nDate: \(Timestamp.rfc5322(milliseconds: n.time.milliseconds))\r\n"
        if let root = Self.threadRoot(n) { head += "In-Reply-To: \(root)\r\nReferences: \(root)\r\n" }
        return head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\(n.text)\r\n"
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        try await CommandNotifier.runProgram(notifier: name, program: program, arguments: arguments,
                                             input: Array(message(n).utf8), timeout: timeout)
        return DeliveryReceipt()
    }
}
