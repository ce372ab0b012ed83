import CareSupport

#if canImport(Glibc)
import Glibc
#endif

/// systemd's notify protocol, spoken directly (no libsystemd): newline-separated `KEY=VALUE` assignments in one
/// datagram to the `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace), as
/// sd_notify(3) describes. Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing.
///
/// The variables are removed from the environment at start, so that programs the notifiers spawn cannot speak for
/// the daemon. Sends are best effort and never block (a socket nobody reads must not stall the main loop): a failed
/// send is logged once and never stops the daemon.
///
/// Main thread only (one socket, no lock).
final class SystemdNotify {
    private var fd: Int32 = -1
    private var address: UnixSocketAddress?
    private var failed = false
    private let logger: Logger
    /// Half the watchdog interval, in seconds, when systemd asked for `WATCHDOG=1` pings (`$WATCHDOG_USEC`).
    let watchdogInterval: Double?

    init(logger: Logger, environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) {
        self.logger = logger
        var interval: Double?
        if let usec = environment("WATCHDOG_USEC").flatMap(UInt64.init), usec > 0,
           environment("WATCHDOG_PID").flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            interval = Double(usec) / 2e6
        }
        watchdogInterval = interval
        defer { for v in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { unsetenv(v) } }
        guard let path = environment("NOTIFY_SOCKET"), !path.isEmpty else { return }
        guard path.hasPrefix("/") || path.hasPrefix("@") else {
            logger.error("NOTIFY_SOCKET=\(path) is neither a path nor an abstract socket (@name); systemd will not hear from us")
            return
        }
        guard let a = UnixSocketAddress(path) else {
            logger.error("NOTIFY_SOCKET is too long for a socket address; systemd will not hear from us")
            return
        }
        address = a
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { logger.error("cannot open a socket for NOTIFY_SOCKET: \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// True when systemd listens.
    var isActive: Bool { fd >= 0 }

    /// Sends assignments such as `["READY=1", "STATUS=watching 12 sensors"]` in one datagram.
    func send(_ assignments: [String]) {
        guard fd >= 0, let address else { return }
        let text = assignments.map { String($0.map { $0 == "\n" ? " " : $0 }) }.joined(separator: "\n")
        let n = text.utf8CString.withUnsafeBufferPointer { buf in
            address.withSockaddr { sendto(fd, buf.baseAddress, buf.count - 1, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), $0, $1) }
        }
        if n < 0 && !failed {
            failed = true
            logger.error("cannot notify systemd (\(assignments.first ?? "")): \(String(cString: strerror(errno)))")
        } else if n >= 0 {
            failed = false
        }
    }

    func ready(status: String) { send(["READY=1", "STATUS=\(status)"]) }
    func status(_ text: String) { send(["STATUS=\(text)"]) }
    func watchdog() { send(["WATCHDOG=1"]) }
    func stopping() { send(["STOPPING=1", "STATUS=stopping"]) }

    /// `RELOADING=1` with the monotonic time systemd asks for since v253 (older versions ignore it).
    func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        send(["RELOADING=1", "MONOTONIC_USEC=\(Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)", "STATUS=reloading the config"])
    }
}
