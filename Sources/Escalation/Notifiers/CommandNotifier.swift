#if canImport(Glibc)
import Glibc
#endif
import CareSupport

/// `command`: runs a program (absolute path, no shell) with the alert JSON on stdin, through `posix_spawn` with a
/// cleared signal mask; killed with its process group after the attempt timeout; stdout and stderr capped. Exit 0
/// is delivered, 75 (EX_TEMPFAIL) and 69 (EX_UNAVAILABLE) are retried, anything else is permanent. The program gets
/// the key in `CAREMONITORD_KEY` so it can make redelivery harmless.
public struct CommandNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "command" }
        public var program: String
        public var arguments: [String]
        public var retry: RetryPolicy
        public func validate(address: String) -> String? { nil }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            CommandNotifier(name: name, program: program, arguments: arguments, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "command", summary: "run a program with the alert as JSON on stdin") { _, o, p, r in
        r.allowOnly(o, ["kind", "program", "arguments", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        guard let program = r.string(o, "program", p, required: true) else { return nil }
        if !program.hasPrefix("/") { r.fail("\(p).program", "must be an absolute path (no shell, no PATH search)"); return nil }
        return Configuration(program: program, arguments: r.stringList(o, "arguments", p), retry: r.retryPolicy(o, p))
    }

    public let name: String
    let program: String
    let arguments: [String]
    public let retry: RetryPolicy
    public static let outputCap = 8 * 1024

    public init(name: String, program: String, arguments: [String] = [], retry: RetryPolicy = RetryPolicy()) {
        self.name = name; self.program = program; self.arguments = arguments; self.retry = retry
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        let args = arguments.map { $0.replacingAll("{address}", with: n.address).replacingAll("{member}", with: n.member) }
        try await Self.runProgram(notifier: name, program: program, arguments: args, input: Array(JSONWriter.serialize(n.json).utf8),
                                  timeout: timeout, extraEnvironment: ["CAREMONITORD_KEY": n.key, "CAREMONITORD_INCIDENT": n.incident])
        return DeliveryReceipt()
    }

    static func runProgram(notifier: String, program: String, arguments: [String], input: [UInt8], timeout: Duration,
                           extraEnvironment: [String: String] = [:]) async throws(NotifierError) {
        let r: ProcessResult
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        for (k, v) in extraEnvironment { env[k] = v }
        do {
            r = try await ProgramRunner.run(program, arguments: arguments, environment: env, input: input, timeout: timeout,
                                            outputLimit: outputCap)
        } catch {
            // ETXTBSY (the program is being replaced), EAGAIN and ENOMEM pass; a missing or non-executable program does not.
            let transient = error.errno == ETXTBSY || error.errno == EAGAIN || error.errno == ENOMEM
            throw NotifierError(notifier: notifier, disposition: transient ? .retryable : .permanent, message: error.message)
        }
        if r.timedOut {
            throw NotifierError(notifier: notifier, disposition: .retryable, message: "\(program) did not finish within \(timeout) and was killed")
        }
        let err = String(decoding: r.standardError.bytes.prefix(300), as: UTF8.self).replacingAll("\n", with: " ").replacingAll("\r", with: " ").trimmed
        let detail = err.isEmpty ? "" : ": \(Redact.url(err))"
        let status: Int32
        switch r.status {
        case .exited(let code): status = code
        case .signalled(let sig):
            throw NotifierError(notifier: notifier, disposition: .retryable, message: "\(program) was killed by signal \(sig)\(detail)")
        }
        switch status {
        case 0: return
        case 75, 69:
            throw NotifierError(notifier: notifier, disposition: .retryable, message: "\(program) exited with \(status) (temporary failure)\(detail)", status: Int(status))
        default:
            throw NotifierError(notifier: notifier, disposition: .permanent, message: "\(program) exited with \(status)\(detail)", status: Int(status))
        }
    }
}
