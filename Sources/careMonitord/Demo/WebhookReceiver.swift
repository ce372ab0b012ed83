import CareSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The demo's monitoring centre: an HTTP server on a free loopback port that accepts the `webhook` notifier's POSTs
/// (one request a connection, answered 200) and keeps their bodies. Demo only: no keep-alive, no chunked bodies.
final class WebhookReceiver: Sendable {
    let port: Int
    private let fd: Int32
    private let bodies = Mutex<[(at: Double, body: [UInt8])]>([])
    private let clock = SystemClock()
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    init() throws(CommandError) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = s >= 0 && withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) == 0 && listen(s, 8) == 0 && getsockname(s, $0, &len) == 0 }
        }
        guard ok else {
            if s >= 0 { close(s) }
            throw CommandError(exitCode: ExitCode.unavailable, message: "demo: cannot listen on a loopback port for the webhook: \(String(cString: strerror(errno)))")
        }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
        thread.withLock { $0 = OSThread(name: "cm-demo-http") { [self] in self.serve() } }
    }

    private func serve() {
        while !stopping.load(ordering: .relaxed) {
            let c = accept(fd, nil, nil)
            if c < 0 { if errno == EINTR { continue }; return }
            if let body = Self.readRequest(c) {
                let at = clock.wallNow()
                bodies.withLock { $0.append((at, body)) }
            }
            let reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            _ = reply.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            close(c)
        }
    }

    /// The body of one request (Content-Length), or nil.
    private static func readRequest(_ c: Int32) -> [UInt8]? {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            data += buf[0..<n]
            guard let end = find(data, Array("\r\n\r\n".utf8)) else { continue }
            let head = String(decoding: data[..<end], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int(String($0.dropFirst("content-length:".count).filter { $0 != " " })) } ?? 0
            if data.count - end - 4 >= length { return Array(data[(end + 4)..<(end + 4 + length)]) }
        }
    }

    private static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }

    /// Bodies received since the last call, with when they arrived (wall clock).
    func take() -> [(at: Double, body: [UInt8])] { bodies.withLock { b in defer { b.removeAll() }; return b } }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        thread.withLock { $0?.join(); $0 = nil }
    }
}
