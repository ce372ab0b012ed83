import CareSupport
import Foundation
import SensorIngest
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why a test broker (or a helper program) could not do its job; carries the broker's log tail.
public struct TestBrokerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// A real `mosquitto` on a free loopback port, in its own temporary directory, for broker-backed tests.
///
/// - Listens on `127.0.0.1` only, on a port found by binding `127.0.0.1:0` (never a fixed port); if another
///   process takes the port first ("address in use"), it picks another.
/// - `stop()` (SIGTERM, wait) and `start()` again keep the SAME port, for reconnect tests. No persistence: retained
///   messages do not survive a restart.
/// - Options: TLS (a throwaway CA and server certificate made with the `openssl` CLI; `caFile` is what a client
///   trusts, `otherCAFile` an unrelated CA for negative tests, `clientCertificateFile`/`clientKeyFile` for mutual
///   TLS), and users (a password file made with `mosquitto_passwd -b`; anonymous clients are then refused).
/// - `publish` and `subscribe` run `mosquitto_pub`/`mosquitto_sub` as processes, for black-box checks.
/// - `deinit` stops the broker and removes the directory.
public final class TestBroker: Sendable {
    public enum TLSMode: Sendable, Equatable {
        case none
        /// The broker presents a certificate for 127.0.0.1/localhost signed by `caFile`.
        case server
        /// As `.server`, and the broker requires a client certificate signed by `caFile`.
        case mutual
    }

    public struct Options: Sendable {
        public var tls: TLSMode = .none
        /// username → password. Non-empty: anonymous clients are refused.
        public var users: [String: String] = [:]
        /// Extra lines for mosquitto.conf (after the listener).
        public var extraConfiguration: [String] = []
        public init(tls: TLSMode = .none, users: [String: String] = [:], extraConfiguration: [String] = []) {
            self.tls = tls
            self.users = users
            self.extraConfiguration = extraConfiguration
        }
    }

    public let host = "127.0.0.1"
    /// The port, kept across restarts.
    public var port: Int { state.withLock { $0.port } }
    public let options: Options
    /// The broker's temporary directory (config, certificates, log).
    public let directory: String
    /// The CA that signed the broker's certificate (TLS modes).
    public let caFile: String?
    /// A CA unrelated to the broker's certificate (TLS modes): a client trusting it must fail.
    public let otherCAFile: String?
    /// A client certificate and key signed by `caFile` (TLS modes).
    public let clientCertificateFile: String?
    public let clientKeyFile: String?
    /// The broker's log (stdout and stderr, appended across restarts).
    public let logFile: String

    private struct State {
        var port: Int
        var process: ChildProcess?
    }
    private let state: Mutex<State>
    private let executable: String

    /// Starts a broker.
    public init(_ options: Options = Options()) throws {
        self.options = options
        guard let executable = TestBroker.findProgram("mosquitto", extraDirectories: ["/usr/sbin", "/usr/local/sbin"]) else {
            throw TestBrokerError("mosquitto not found in PATH nor /usr/sbin — install the 'mosquitto' package")
        }
        self.executable = executable
        var template = Array("/tmp/caremonitord-broker-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw TestBrokerError("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        let directory = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.directory = directory
        self.logFile = directory + "/mosquitto.log"
        if options.tls != .none {
            try TestBroker.makeCertificates(in: directory)
            caFile = directory + "/ca.crt"
            otherCAFile = directory + "/other-ca.crt"
            clientCertificateFile = directory + "/client.crt"
            clientKeyFile = directory + "/client.key"
        } else {
            caFile = nil
            otherCAFile = nil
            clientCertificateFile = nil
            clientKeyFile = nil
        }
        if !options.users.isEmpty {
            let passwd = TestBroker.findProgram("mosquitto_passwd") ?? "mosquitto_passwd"
            _ = FileManager.default.createFile(atPath: directory + "/passwords", contents: Data())
            for (user, password) in options.users.sorted(by: { $0.key < $1.key }) {
                try TestBroker.runChecked(passwd, ["-b", directory + "/passwords", user, password], what: "mosquitto_passwd")
            }
        }
        state = Mutex(State(port: 0, process: nil))
        do {
            try startFresh()
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A client configuration for this broker: host, port, and the CA when TLS is on.
    public func clientConfiguration(personID: String) -> MQTTConfiguration {
        var c = MQTTConfiguration(personID: personID)
        c.host = host
        c.port = port
        if let caFile { c.tls = MQTTTLSConfiguration(caFile: caFile) }
        if options.tls == .mutual {
            c.tls?.certificateFile = clientCertificateFile
            c.tls?.keyFile = clientKeyFile
        }
        return c
    }

    /// The broker's log so far.
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Whether the broker process is running.
    public var isRunning: Bool { state.withLock { $0.process?.exitStatus == nil && $0.process != nil } }

    // MARK: Start and stop

    /// Starts again on the same port after `stop()` (retries for a few seconds if the port is briefly busy).
    public func start() throws {
        let port = self.port
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        while true {
            switch try launch(port: port) {
            case .running: return
            case .addressInUse where clock.now < deadline:
                var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
                nanosleep(&ts, nil)
            case .addressInUse:
                throw TestBrokerError("port \(port) stayed in use; cannot restart the broker on it\n\(logTail())")
            }
        }
    }

    /// SIGTERM, then waits (SIGKILL after 5 s). Idempotent.
    public func stop() {
        let process = state.withLock { s in defer { s.process = nil }; return s.process }
        guard let process else { return }
        process.terminate(SIGTERM)
        if process.wait(timeout: .seconds(5)) == nil {
            process.terminate(SIGKILL)
            process.wait()
        }
    }

    /// `stop()` then `start()` on the same port.
    public func restart() throws {
        stop()
        try start()
    }

    private func startFresh() throws {
        for _ in 0..<10 {
            let port = try TestBroker.freeLoopbackPort()
            state.withLock { $0.port = port }
            if case .running = try launch(port: port) { return }
        }
        throw TestBrokerError("could not find a free loopback port for mosquitto after 10 tries\n\(logTail())")
    }

    private enum LaunchResult { case running, addressInUse }

    private func launch(port: Int) throws -> LaunchResult {
        try writeConfiguration(port: port)
        let marker = (try? FileManager.default.attributesOfItem(atPath: logFile)[.size] as? Int) ?? 0
        let process: ChildProcess
        do {
            process = try ChildProcess.spawn(executable: executable, arguments: ["-c", directory + "/mosquitto.conf"],
                                             stdin: .null, stdout: .file(logFile, .append), stderr: .file(logFile, .append))
        } catch {
            throw TestBrokerError("cannot start mosquitto: \(error)")
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while clock.now < deadline {
            if let status = process.exitStatus {
                let text = String(log.utf8.dropFirst(marker)) ?? log
                if text.contains("Address already in use") { return .addressInUse }
                throw TestBrokerError("mosquitto \(status) at start\n\(logTail())")
            }
            if TestBroker.acceptsConnections(port: port) {
                state.withLock { $0.process = process }
                return .running
            }
            var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            nanosleep(&ts, nil)
        }
        process.terminate(SIGKILL)
        process.wait()
        throw TestBrokerError("mosquitto did not accept connections on 127.0.0.1:\(port) within 10 s\n\(logTail())")
    }

    private func writeConfiguration(port: Int) throws {
        let user = getpwuid(geteuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "root"
        var lines = [
            "# careMonitord test broker",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            // As root, mosquitto would switch to the 'mosquitto' user, which cannot read this directory.
            "user \(user)",
        ]
        if options.users.isEmpty {
            lines.append("allow_anonymous true")
        } else {
            lines.append("allow_anonymous false")
            lines.append("password_file \(directory)/passwords")
        }
        lines.append("listener \(port) 127.0.0.1")
        if options.tls != .none {
            lines.append("cafile \(directory)/ca.crt")
            lines.append("certfile \(directory)/server.crt")
            lines.append("keyfile \(directory)/server.key")
            if options.tls == .mutual { lines.append("require_certificate true") }
        }
        lines += options.extraConfiguration
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/mosquitto.conf", atomically: true, encoding: .utf8)
    }

    private func logTail() -> String {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
        return "mosquitto log (\(logFile)):\n" + lines.suffix(20).joined(separator: "\n")
    }

    // MARK: Black-box helpers

    /// Common `mosquitto_pub`/`mosquitto_sub` arguments: address, TLS, credentials.
    private func clientArguments(username: String?, password: String?, caFile: String?, v5: Bool) -> [String] {
        var args = ["-h", host, "-p", String(port)]
        if let ca = caFile ?? self.caFile { args += ["--cafile", ca] }
        if options.tls == .mutual, let cert = clientCertificateFile, let key = clientKeyFile {
            args += ["--cert", cert, "--key", key]
        }
        if let username { args += ["-u", username] }
        if let password { args += ["-P", password] }
        if v5 { args += ["-V", "mqttv5"] }
        return args
    }

    /// Publishes one message with `mosquitto_pub` and waits for it to finish.
    public func publish(topic: String, message: String, qos: Int = 0, retain: Bool = false,
                        username: String? = nil, password: String? = nil) throws {
        var args = clientArguments(username: username, password: password, caFile: nil, v5: false)
        args += ["-t", topic, "-m", message, "-q", String(qos)]
        if retain { args.append("-r") }
        try TestBroker.runChecked(TestBroker.findProgram("mosquitto_pub") ?? "mosquitto_pub", args, what: "mosquitto_pub")
    }

    /// Starts `mosquitto_sub` on `filter`; see `TestSubscriber`.
    public func subscribe(_ filter: String, qos: Int = 1, username: String? = nil,
                          password: String? = nil) throws -> TestSubscriber {
        var args = clientArguments(username: username, password: password, caFile: nil, v5: false)
        args += ["-t", filter, "-q", String(qos), "-d", "-F", "MSG %r %q %t %p"]
        let n = state.withLock { _ in UInt32.random(in: 0...UInt32.max) }
        let output = directory + "/sub-\(n).out"
        let process: ChildProcess
        do {
            process = try ChildProcess.spawn(executable: TestBroker.findProgram("mosquitto_sub") ?? "mosquitto_sub",
                                             arguments: args, stdin: .null, stdout: .file(output), stderr: .file(output, .append))
        } catch {
            throw TestBrokerError("cannot start mosquitto_sub: \(error)")
        }
        return TestSubscriber(process: process, outputFile: output)
    }

    // MARK: Static helpers

    /// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestBrokerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestBrokerError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    /// The full path of `name` in `PATH` (then in `extraDirectories`), or nil.
    public static func findProgram(_ name: String, extraDirectories: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + extraDirectories where !dir.isEmpty {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs a helper program; throws with its output if it fails or takes more than 30 s.
    @discardableResult
    static func runChecked(_ program: String, _ arguments: [String], what: String,
                           workingDirectory: String? = nil) throws -> ProcessResult {
        let result: ProcessResult
        do {
            result = try ChildProcess.run(executable: program, arguments: arguments, workingDirectory: workingDirectory,
                                          timeout: .seconds(30))
        } catch {
            throw TestBrokerError("cannot run \(what): \(error)")
        }
        guard result.status.isSuccess, !result.timedOut else {
            throw TestBrokerError("\(what) \(result.timedOut ? "timed out" : result.status.description): "
                                  + result.standardError.text + result.standardOutput.text)
        }
        return result
    }

    /// A CA, a server certificate for 127.0.0.1/localhost, a client certificate (both signed by the CA), and an
    /// unrelated CA. EC P-256 keys: fast to make.
    static func makeCertificates(in directory: String) throws {
        guard let openssl = findProgram("openssl") else {
            throw TestBrokerError("openssl not found in PATH — install the 'openssl' package")
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func ca(_ name: String) throws {
            try runChecked(openssl, ["req", "-x509"] + ec + [
                "-keyout", "\(name).key", "-out", "\(name).crt", "-days", "2", "-subj", "/CN=careMonitord test \(name)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ], what: "openssl req (\(name))", workingDirectory: directory)
        }
        func leaf(_ name: String, extensions: String) throws {
            try runChecked(openssl, ["req", "-new"] + ec + [
                "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name == "server" ? "localhost" : "caremonitord-test-client")",
            ], what: "openssl req (\(name))", workingDirectory: directory)
            try extensions.write(toFile: directory + "/\(name).ext", atomically: true, encoding: .utf8)
            try runChecked(openssl, [
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial",
                String(UInt32.random(in: 1...UInt32.max)), "-days", "2", "-out", "\(name).crt", "-extfile", "\(name).ext",
            ], what: "openssl x509 (\(name))", workingDirectory: directory)
        }
        try ca("ca")
        try ca("other-ca")
        try leaf("server", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        try leaf("client", extensions: "extendedKeyUsage=clientAuth\n")
    }
}

/// A `mosquitto_sub` process writing to a file; lines are parsed on demand.
public final class TestSubscriber: Sendable {
    public struct Message: Sendable, Equatable, CustomStringConvertible {
        public var topic: String
        public var payload: String
        public var retained: Bool
        public var qos: Int
        public var description: String { "\(topic) \(payload)\(retained ? " (retained)" : "") q\(qos)" }
    }

    private let process: ChildProcess
    public let outputFile: String

    init(process: ChildProcess, outputFile: String) {
        self.process = process
        self.outputFile = outputFile
    }

    deinit { stop() }

    /// Everything mosquitto_sub printed (debug lines and messages).
    public var output: String { (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "" }

    /// The messages received so far, in order.
    public var messages: [Message] {
        output.split(separator: "\n").compactMap { line -> Message? in
            guard line.hasPrefix("MSG ") else { return nil }
            let parts = line.dropFirst(4).split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3 else { return nil }
            return Message(topic: String(parts[2]), payload: parts.count > 3 ? String(parts[3]) : "",
                           retained: parts[0] == "1", qos: Int(parts[1]) ?? 0)
        }
    }

    /// Waits until the broker has acknowledged the subscription.
    public func waitUntilSubscribed(timeout: Duration = .seconds(10)) async throws {
        guard await eventually(timeout: timeout, { self.output.contains("Subscribed (mid:") }) else {
            throw TestBrokerError("mosquitto_sub did not subscribe within \(timeout):\n\(output)")
        }
    }

    /// Waits for a message matching `predicate`; returns it, or nil after `timeout`.
    public func waitForMessage(timeout: Duration = .seconds(10),
                               where predicate: @Sendable (Message) -> Bool) async -> Message? {
        var found: Message?
        _ = await eventually(timeout: timeout) {
            found = self.messages.first(where: predicate)
            return found != nil
        }
        return found
    }

    public func stop() {
        if process.terminate(SIGTERM) {
            if process.wait(timeout: .seconds(5)) == nil {
                process.terminate(SIGKILL)
                process.wait()
            }
        } else {
            process.wait()
        }
    }
}

/// Collects what an `MQTTClient` delivers (copying topic and payload inside the handler, as it must).
public final class MQTTMessageRecorder: Sendable {
    public struct Message: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: MQTTQoS
        public var retain: Bool
        public var text: String { String(decoding: payload, as: UTF8.self) }
    }

    private let received = Mutex<[Message]>([])

    public init() {}

    /// Pass this as `onMessage`.
    public var handler: MQTTMessageHandler {
        { [weak self] view in
            let message = Message(topic: view.topicString(), payload: view.payloadBytes(), qos: view.qos, retain: view.retain)
            self?.received.withLock { $0.append(message) }
        }
    }

    public var messages: [Message] { received.withLock { $0 } }

    /// Waits for a message matching `predicate`; returns it, or nil after `timeout`.
    public func waitForMessage(timeout: Duration = .seconds(10),
                               where predicate: @Sendable (Message) -> Bool) async -> Message? {
        var found: Message?
        _ = await eventually(timeout: timeout) {
            found = self.messages.first(where: predicate)
            return found != nil
        }
        return found
    }
}

/// Polls `condition` every 20 ms until it holds (true) or `timeout` passes (false). For tests: generous timeouts,
/// no timing assertions.
public func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while true {
        if try condition() { return true }
        if clock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
}
