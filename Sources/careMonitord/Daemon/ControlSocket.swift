import CareSupport

#if canImport(Glibc)
import Glibc
#endif

/// The running daemon's door for commands on the same gateway: a Unix stream socket `control.sock` in the state
/// directory (mode 0600: only the daemon's user, and root, can connect). One request a connection, one line each
/// way: `forget PERSON RFC3339` → `ok N` or `error MESSAGE`.
///
/// `careMonitord forget` asks here first, so the daemon rewrites its own journal (a file rewritten under a running
/// daemon would lose its next appends); with no daemon listening it works on the files itself.
///
/// The daemon side is served from the main loop between signal waits (non-blocking; a client that does not send
/// its line within a second is dropped). Main thread only.
final class ControlSocket {
    static let fileName = "control.sock"
    let path: String
    private var fd: Int32 = -1

    init(stateDirectory: String) {
        path = stateDirectory + "/" + Self.fileName
    }

    deinit { close() }

    /// Listens, replacing a socket file left by a daemon that was killed. Failure is reported, never fatal.
    func listen(logger: Logger) {
        unlink(path)
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard s >= 0, let addr = UnixSocketAddress(path) else {
            if s >= 0 { Glibc.close(s) }
            logger.error("control socket \(path): cannot create it; `careMonitord forget` will not reach the daemon")
            return
        }
        let old = umask(0o177)
        let ok = addr.withSockaddr { bind(s, $0, $1) } == 0 && Glibc.listen(s, 4) == 0
        umask(old)
        guard ok else {
            logger.error("control socket \(path): \(String(cString: strerror(errno))); `careMonitord forget` will not reach the daemon")
            Glibc.close(s)
            return
        }
        fd = s
    }

    /// Answers every waiting request with `handle`, which returns the reply line.
    func serve(_ handle: (String) -> String) {
        guard fd >= 0 else { return }
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            defer { Glibc.close(c) }
            guard let request = Self.readLine(c, within: 1) else { continue }
            Self.writeLine(c, handle(request))
        }
    }

    func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
        unlink(path)
    }

    /// The client side: sends one request and returns the reply, or nil when no daemon listens at `path`.
    static func ask(_ path: String, _ request: String, timeout: Int = 30) -> String? {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0, let addr = UnixSocketAddress(path) else {
            if s >= 0 { Glibc.close(s) }
            return nil
        }
        defer { Glibc.close(s) }
        let rc = addr.withSockaddr { connect(s, $0, $1) }
        guard rc == 0 else { return nil }
        writeLine(s, request)
        return readLine(s, within: Double(timeout)) ?? "error the daemon did not answer within \(timeout) s"
    }

    /// One line, or nil when none came whole within `seconds` (one deadline for the whole line: a client that
    /// trickles bytes cannot hold the main loop).
    private static func readLine(_ fd: Int32, within seconds: Double) -> String? {
        let clock = SystemClock()
        let deadline = clock.monotonicNow().advanced(bySeconds: seconds)
        var bytes: [UInt8] = []
        var b: UInt8 = 0
        while bytes.count < 4096 {
            let left = deadline.nanoseconds - clock.monotonicNow().nanoseconds
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&pfd, 1, Int32(min(left / 1_000_000 + 1, 60_000))) > 0 else { return nil }
            let n = read(fd, &b, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if b == 10 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(b)
        }
        return nil
    }

    private static func writeLine(_ fd: Int32, _ text: String) {
        let bytes = Array(String(text.map { $0 == "\n" ? " " : $0 }).utf8) + [10]
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            off += n
        }
    }
}
