import CareSupport
@testable import Escalation
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// How the service behind a notifier behaves in one conformance check.
enum ServiceMode: Sendable { case ok, permanent, retryable, hang }

/// One notifier kind wired to a service the test controls.
struct NotifierHarness: Sendable, CustomTestStringConvertible {
    var kind: String
    var testDescription: String { kind }
    /// Secrets that must never appear in errors or logs.
    var secrets: [String]
    /// Modes this transport can be made to show (a spool directory cannot hang).
    var modes: Set<ServiceMode>
    /// Builds the notifier and its service in `mode`; returns the notifier, how many attempts reached the service,
    /// and what the service saw that identifies a delivery (for the idempotent-redelivery check).
    var make: @Sendable (ServiceMode, RetryPolicy) throws -> (notifier: any Notifier, attempts: @Sendable () -> Int, evidence: @Sendable () -> [String])

    static let token = "tk_S3cr3tT0ken42"

    static func http(_ kind: String, ok: String = "{}", make: @escaping @Sendable (String, RetryPolicy) -> any Notifier,
                     evidence: @escaping @Sendable (TestHTTPServer.Request) -> String) -> NotifierHarness {
        NotifierHarness(kind: kind, secrets: [token], modes: [.ok, .permanent, .retryable, .hang]) { mode, retry in
            let server = TestHTTPServer { _ in
                switch mode {
                case .ok: .init(200, ok)
                case .permanent: .init(400, #"{"error":"bad request","token":"\#(token)"}"#)
                case .retryable: .init(503, "busy")
                case .hang: nil
                }
            }
            return (make(server.baseURL, retry), { server.requests.count }, { server.requests.map(evidence) })
        }
    }

    static func script(_ body: String) throws -> (dir: String, path: String) {
        let dir = temporaryDirectory("esc-cmd")
        let path = dir + "/notify.sh"
        // O_CLOEXEC: a concurrent spawn must not inherit the write end (exec would fail with ETXTBSY).
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        let text = "#!/bin/sh\nDIR=\(dir)\n" + body
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        return (dir, path)
    }

    static func program(_ kind: String, make: @escaping @Sendable (String, RetryPolicy) -> any Notifier) -> NotifierHarness {
        NotifierHarness(kind: kind, secrets: [token], modes: [.ok, .permanent, .retryable, .hang]) { mode, retry in
            let exit: String
            switch mode {
            case .ok: exit = "exit 0"
            case .permanent: exit = "echo 'refused by https://relay.example/?token=\(token)' >&2; exit 1"
            case .retryable: exit = "echo 'try later' >&2; exit 75"
            case .hang: exit = "sleep 30"
            }
            let (dir, path) = try script("""
                IN=$(cat)
                echo "${CAREMONITORD_KEY:-$(echo "$IN" | grep -i '^Message-ID' | tr -d '\r')}" >> $DIR/attempts
                \(exit)
                """)
            let lines: @Sendable () -> [String] = {
                ((try? String(contentsOfFile: dir + "/attempts", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            }
            return (make(path, retry), { lines().count }, lines)
        }
    }

    static let all: [NotifierHarness] = [
        http("webhook", make: { url, retry in WebhookNotifier(name: "hook", url: url + "/hook?token=\(token)", retry: retry) },
             evidence: { "\($0.method) \($0.path) \($0.header("Idempotency-Key") ?? "")" }),
        http("ntfy", make: { url, retry in NtfyNotifier(name: "ntfy", url: url, token: Secret(token), replyTopic: "acks", retry: retry) },
             evidence: { "\($0.method) \($0.path) \($0.body)" }),
        http("gotify", ok: #"{"id":7}"#, make: { url, retry in GotifyNotifier(name: "gotify", url: url, token: Secret(token), retry: retry) },
             evidence: { "\($0.method) \($0.path) \($0.body)" }),
        http("pushover", ok: #"{"status":1,"request":"r1"}"#,
             make: { url, retry in PushoverNotifier(name: "pushover", url: url, token: Secret(token), retry: retry) },
             evidence: { "\($0.method) \($0.path) \($0.body)" }),
        http("matrix", ok: #"{"event_id":"$ev1"}"#,
             make: { url, retry in MatrixNotifier(name: "matrix", homeserver: url, accessToken: Secret(token), retry: retry) },
             evidence: { "\($0.method) \($0.path)" }),
        program("command", make: { CommandNotifier(name: "command", program: $0, retry: $1) }),
        program("email", make: { EmailNotifier(name: "email", program: $0, arguments: [], retry: $1) }),
        NotifierHarness(kind: "sms", secrets: [], modes: [.ok, .permanent]) { mode, _ in
            let spool = temporaryDirectory("esc-sms")
            if mode == .ok { mkdir(spool + "/outgoing", 0o755) }
            let files: @Sendable () -> [String] = { (try? FileManager.default.contentsOfDirectory(atPath: spool + "/outgoing")) ?? [] }
            let attempts = Mutex(0)
            final class Counting: Notifier {
                let inner: SMSNotifier; let count: @Sendable () -> Void
                init(_ i: SMSNotifier, _ c: @escaping @Sendable () -> Void) { inner = i; count = c }
                var name: String { inner.name }
                var retry: RetryPolicy { inner.retry }
                func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
                    count(); return try await inner.attempt(n, timeout: timeout)
                }
            }
            let box = SharedCounter()
            _ = attempts
            return (Counting(SMSNotifier(name: "sms", spool: spool), { box.increment() }), { box.value }, files)
        },
        NotifierHarness(kind: "mqtt", secrets: [], modes: [.ok, .permanent, .retryable, .hang]) { mode, retry in
            let publisher = FakePublisher(mode: mode)
            return (MQTTNotifier(name: "mqtt", publisher: publisher, retry: retry), { publisher.published.count }, { publisher.published })
        },
    ]
}

final class SharedCounter: Sendable {
    private let v = Mutex(0)
    func increment() { v.withLock { $0 += 1 } }
    var value: Int { v.withLock { $0 } }
}

/// An MQTT client stand-in that honours the publish timeout.
final class FakePublisher: MessagePublisher {
    let mode: ServiceMode
    private let log = Mutex<[String]>([])
    init(mode: ServiceMode) { self.mode = mode }
    var published: [String] { log.withLock { $0 } }
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool, timeout: Duration) async throws(PublishError) {
        log.withLock { $0.append("\(topic) \(String(decoding: payload, as: UTF8.self))") }
        switch mode {
        case .ok: return
        case .permanent: throw PublishError(message: "topic refused by the broker", retryable: false)
        case .retryable: throw PublishError(message: "not connected", retryable: true)
        case .hang:
            try? await Task.sleep(for: timeout)
            throw PublishError(message: "no PUBACK within \(timeout)", retryable: true)
        }
    }
}

func sampleNotification(address: String = "!room:example.org", purpose: NotificationPurpose = .page, severity: Severity = .critical) -> OutgoingNotification {
    OutgoingNotification(key: "linda-20261123-140200/3", incident: "linda-20261123-140200", person: "linda", personName: "Linda",
                         member: "anna", notifier: "x", address: address, kind: "fall", severity: severity, purpose: purpose, tier: 1,
                         title: "Linda: fall — can you go?", text: "Linda: Fall detected at 14:02 (hallway). Can you go?",
                         time: RFC3339.parse("2026-11-23T14:03:00.125Z")!, incidentState: "escalating", actions: [.claim, .decline])
}

func address(for kind: String) -> String {
    switch kind {
    case "sms": "+447700900123"
    case "pushover": "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
    case "email": "anna@example.org"
    case "gotify": ""
    case "ntfy": "linda-care-anna"
    case "mqtt": "caremonitord/linda/phones/anna"
    default: "!room:example.org"
    }
}

@Suite("Notifier conformance: every notifier")
struct NotifierConformanceTests {
    /// Generous per-attempt time (tests run in parallel on two cores), short backoff.
    static let retry = RetryPolicy(attempts: 3, attemptTimeout: .seconds(5), deadline: .seconds(20),
                                   initialBackoff: .milliseconds(10), maximumBackoff: .milliseconds(40))
    /// For the service that never answers.
    static let short = RetryPolicy(attempts: 3, attemptTimeout: .milliseconds(300), deadline: .seconds(1),
                                   initialBackoff: .milliseconds(10), maximumBackoff: .milliseconds(40))

    @Test("delivers once when the service accepts", arguments: NotifierHarness.all)
    func deliversWhenAccepted(_ h: NotifierHarness) async throws {
        let (n, attempts, _) = try h.make(.ok, Self.retry)
        let outcome = await n.deliver(sampleNotification(address: address(for: h.kind)))
        guard case .delivered(_, let a) = outcome else { Issue.record("\(h.kind): \(outcome)"); return }
        #expect(a == 1)
        #expect(attempts() == 1)
    }

    @Test("a permanent error is not retried", arguments: NotifierHarness.all)
    func permanentNotRetried(_ h: NotifierHarness) async throws {
        guard h.modes.contains(.permanent) else { return }
        let (n, attempts, _) = try h.make(.permanent, Self.retry)
        let outcome = await n.deliver(sampleNotification(address: address(for: h.kind)))
        guard case .failed(let e, let a) = outcome else { Issue.record("\(h.kind) should fail: \(outcome)"); return }
        #expect(e.disposition == .permanent, "\(h.kind): \(e)")
        #expect(a == 1 && attempts() == 1, "\(h.kind): \(a) attempts, service saw \(attempts())")
    }

    @Test("a retryable error is retried up to the attempt limit", arguments: NotifierHarness.all)
    func retryableRetried(_ h: NotifierHarness) async throws {
        guard h.modes.contains(.retryable) else { return }
        let (n, attempts, _) = try h.make(.retryable, Self.retry)
        let outcome = await n.deliver(sampleNotification(address: address(for: h.kind)))
        guard case .failed(let e, let a) = outcome else { Issue.record("\(h.kind) should fail: \(outcome)"); return }
        #expect(e.disposition == .retryable)
        #expect(a == 3 && attempts() == 3, "\(h.kind): \(a) attempts, service saw \(attempts())")
        #expect(e.message.contains("3 attempts so far"))
    }

    @Test("a service that never answers is abandoned at the deadline", arguments: NotifierHarness.all)
    func deadlineHonoured(_ h: NotifierHarness) async throws {
        guard h.modes.contains(.hang) else { return }
        let (n, _, _) = try h.make(.hang, Self.short)
        let start = ContinuousClock.now
        let outcome = await n.deliver(sampleNotification(address: address(for: h.kind)))
        let took = ContinuousClock.now - start
        guard case .failed(let e, _) = outcome else { Issue.record("\(h.kind) should fail: \(outcome)"); return }
        #expect(e.disposition == .retryable)
        // The loop's deadline is 1 s; allow generous slack for a loaded machine, but not an unbounded wait.
        #expect(took < .seconds(5), "\(h.kind) took \(took)")
    }

    @Test("no secret in errors or logs", arguments: NotifierHarness.all)
    func secretsNeverLeak(_ h: NotifierHarness) async throws {
        for mode in h.modes where mode != .ok && mode != .hang {
            let (n, _, _) = try h.make(mode, Self.retry)
            let logs = LogRecorder()
            let outcome = await n.deliver(sampleNotification(address: address(for: h.kind)), logger: logs.logger(minimumLevel: .debug))
            guard case .failed(let e, _) = outcome else { Issue.record("\(h.kind) should fail"); continue }
            for s in h.secrets {
                #expect(!e.description.contains(s), "\(h.kind): \(e.description)")
                #expect(!logs.entries.contains { $0.message.contains(s) })
            }
            #expect(!logs.entries.isEmpty, "the failed attempt was logged")
        }
    }

    @Test("redelivering the same notification carries the same key", arguments: NotifierHarness.all)
    func idempotentRedelivery(_ h: NotifierHarness) async throws {
        let (n, _, evidence) = try h.make(.ok, Self.retry)
        let note = sampleNotification(address: address(for: h.kind))
        _ = await n.deliver(note)
        _ = await n.deliver(note)
        let e = evidence()
        if h.kind == "sms" {
            #expect(e.count == 1, "the same spool file is rewritten, not a second text queued: \(e)")
        } else {
            #expect(e.count == 2 && e[0] == e[1], "\(h.kind): \(e)")
            // ntfy and Pushover take no key: for them a redelivery is an identical message (at least once).
            if !["ntfy", "pushover"].contains(h.kind) {
                #expect(e[0].contains(note.key) || e[0].contains("linda-20261123-140200%2F3") || e[0].contains("linda-20261123-140200.3"),
                        "\(h.kind) passes the key: \(e[0])")
            }
        }
    }
}
