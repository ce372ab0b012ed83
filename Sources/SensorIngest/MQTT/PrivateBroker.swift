import CareSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A mosquitto broker of our own on a free loopback port (127.0.0.1 only; never a fixed port): for the demo, and
/// the base of the tests' broker. Started with `posix_spawn` (CareSupport's `ChildProcess`); stopped with SIGTERM.
public final class PrivateBroker: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public let host = "127.0.0.1"
    public let port: Int
    public let directory: String
    private let process: Mutex<ChildProcess?>

    /// Finds `mosquitto` (PATH, then /usr/sbin, where Debian puts it), picks a free port, writes a config with
    /// `extraConfiguration` lines appended, starts it and waits until it accepts connections. Retries on a port
    /// that another process took in the meantime.
    public init(extraConfiguration: [String] = [], allowAnonymous: Bool = true) throws(Failure) {
        guard let program = PrivateBroker.findProgram("mosquitto", extraDirectories: ["/usr/sbin", "/usr/local/sbin"]) else {
            throw Failure(message: "mosquitto is not installed: `apt-get install mosquitto` (tools/install-deps does it)")
        }
        var template = Array("/tmp/caremonitord-broker-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
            throw Failure(message: "cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        directory = dir
        var lastLog = ""
        for _ in 0..<10 {
            let port = try PrivateBroker.freeLoopbackPort()
            let conf = ["listener \(port) 127.0.0.1", "allow_anonymous \(allowAnonymous)", "persistence false",
                        "log_dest stderr", "log_type error", "log_type warning"] + extraConfiguration
            let confPath = "\(dir)/mosquitto.conf"
            let logPath = "\(dir)/mosquitto.log"
            do { try DurableFile.write(Array((conf.joined(separator: "\n") + "\n").utf8), to: confPath, mode: 0o600) } catch {
                throw Failure(message: "\(error)")
            }
            let child: ChildProcess
            do {
                child = try ChildProcess.spawn(executable: program, arguments: ["-c", confPath], stdin: .null,
                                               stdout: .file(logPath), stderr: .file(logPath, .append), searchPath: false)
            } catch {
                throw Failure(message: "cannot start \(program): \(error)")
            }
            // Up to 5 s for the listener; a quick exit means the port was taken (or the config is wrong).
            for _ in 0..<500 {
                if PrivateBroker.acceptsConnections(port: port) {
                    self.port = port
                    process = Mutex(child)
                    return
                }
                if child.wait(timeout: .milliseconds(10)) != nil { break }
            }
            child.terminate(SIGKILL)
            _ = child.wait()
            lastLog = String(decoding: DurableFile.read(logPath) ?? [], as: UTF8.self)
        }
        throw Failure(message: "mosquitto did not start on a free loopback port after 10 tries; its log:\n\(lastLog)")
    }

    deinit { stop() }

    /// SIGTERM, then SIGKILL after 5 s; removes the temporary directory. Idempotent.
    public func stop() {
        guard let p = process.withLock({ p -> ChildProcess? in defer { p = nil }; return p }) else { return }
        p.terminate(SIGTERM)
        if p.wait(timeout: .seconds(5)) == nil {
            p.terminate(SIGKILL)
            _ = p.wait()
        }
        for f in ["mosquitto.conf", "mosquitto.log"] { unlink("\(directory)/\(f)") }
        rmdir(directory)
    }

    // MARK: Helpers (also used by the tests' broker)

    /// A port on 127.0.0.1 that was free a moment ago (bind port 0, read it back, close).
    public static func freeLoopbackPort() throws(Failure) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(message: "bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
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

    /// The full path of an executable `name` in `PATH`, then in `extraDirectories`.
    public static func findProgram(_ name: String, extraDirectories: [String] = []) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + extraDirectories where !dir.isEmpty {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

}
