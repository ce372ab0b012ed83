import CareSupport
import Foundation
import SensorIngest
#if canImport(Glibc)
import Glibc
#endif

/// A server from PyPI (Synapse, aiosmtpd) run with the Python environment `tools/install-test-servers` keeps, on a
/// free loopback port, in its own temporary directory. `stop()` (or `deinit`) ends it and removes the directory.
public final class TestPythonServer: Sendable {
    /// The environment's directory, installed on first use; nil when it cannot be (no PyPI): tests then skip.
    public static let environment: String? = {
        let script = repository + "/tools/install-test-servers"
        guard let r = try? ChildProcess.run(executable: script, timeout: .seconds(600)), r.status.isSuccess, !r.timedOut else { return nil }
        let dir = r.standardOutput.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.isExecutableFile(atPath: dir + "/bin/python") ? dir : nil
    }()

    public static var available: Bool { environment != nil }

    /// This repository's root (two folders above this file's).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    public let port: Int
    public let directory: String
    public let logFile: String
    private let process: ChildProcess

    /// Starts `arguments(port, directory)` (after `python`), once `prepare(port, directory)` has written what it needs,
    /// and waits until the port accepts connections; another port when the first was taken meanwhile.
    public init(_ name: String, startTimeout: Duration = .seconds(30), prepare: (Int, String) throws -> Void = { _, _ in },
                arguments: (Int, String) -> [String]) throws {
        guard let env = Self.environment else { throw TestBrokerError("the test servers are not installed: run tools/install-test-servers") }
        directory = try Self.makeDirectory(name)
        logFile = directory + "/server.log"
        var attempt = 0
        while true {
            attempt += 1
            let port = try TestBroker.freeLoopbackPort()
            try prepare(port, directory)
            let p = try ChildProcess.spawn(executable: env + "/bin/python", arguments: arguments(port, directory),
                                           workingDirectory: directory, stdin: .null, stdout: .file(logFile, .append),
                                           stderr: .file(logFile, .append), newProcessGroup: true)
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: startTimeout)
            while clock.now < deadline, p.exitStatus == nil, !TestBroker.acceptsConnections(port: port) { usleep(50_000) }
            if p.exitStatus == nil, TestBroker.acceptsConnections(port: port) {
                self.port = port
                process = p
                return
            }
            p.terminate(SIGKILL)
            _ = p.wait()
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            if attempt < 5, log.contains("Address already in use") { continue }
            try? FileManager.default.removeItem(atPath: directory)
            throw TestBrokerError("\(name) did not start on 127.0.0.1:\(port) within \(startTimeout)\n\(log.suffix(3000))")
        }
    }

    deinit { stop() }

    public func stop() {
        if process.exitStatus == nil {
            process.terminate(SIGTERM)
            if process.wait(timeout: .seconds(10)) == nil { process.terminate(SIGKILL); _ = process.wait() }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a Python script with the environment's Python; throws with its output when it fails.
    public static func python(_ script: String, _ arguments: [String] = [], timeout: Duration = .seconds(30)) throws -> String {
        guard let env = environment else { throw TestBrokerError("the test servers are not installed: run tools/install-test-servers") }
        let r = try ChildProcess.run(executable: env + "/bin/python", arguments: ["-c", script] + arguments, timeout: timeout)
        guard r.status.isSuccess, !r.timedOut else {
            throw TestBrokerError("python \(r.timedOut ? "timed out" : r.status.description): \(r.standardError.text)\(r.standardOutput.text)")
        }
        return r.standardOutput.text
    }

    static func makeDirectory(_ name: String) throws -> String {
        var template = Array("/tmp/caremonitord-\(name)-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw TestBrokerError("cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        return String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
