#if canImport(Glibc)
import Glibc
#endif

/// Reads a small file whole (boot id, an SMS from smstools3's spool). nil when it cannot be read or is larger
/// than `limit`.
func readSmallFile(_ path: String, limit: Int = 64 * 1024) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { return bytes }
        bytes += buf[0..<n]
        if bytes.count > limit { return nil }
    }
}
