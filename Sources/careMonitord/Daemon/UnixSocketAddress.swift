#if canImport(Glibc)
import Glibc
#endif

/// An `AF_UNIX` socket address: a path, or `@name` in the abstract namespace (systemd's notation for
/// `$NOTIFY_SOCKET`). nil when the name does not fit `sun_path`.
struct UnixSocketAddress {
    private var address = sockaddr_un()
    private let length: socklen_t

    init?(_ name: String) {
        var bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
        }
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
    }

    /// Calls `body` with the address as `bind`, `connect` and `sendto` take it.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
