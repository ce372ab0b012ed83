import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 and a port the kernel picked (bind to 0), for testing HTTP notifiers
/// against the exact bytes they send. One thread accepts and serves connections one at a time; each response
/// closes the connection.
final class TestHTTPServer: Sendable {
    struct Request: Sendable, Equatable {
        var method: String
        var path: String
        var headers: [String: String]
        var body: String
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    struct Response: Sendable {
        var status: Int
        var body: String
        init(_ status: Int, _ body: String = "{}") { self.status = status; self.body = body }
    }

    /// nil: never answer (the connection stays open until the server stops).
    typealias Behaviour = @Sendable (Request) -> Response?

    let port: Int
    private let listener: Int32
    private let state: Mutex<(requests: [Request], behaviour: Behaviour, stopped: Bool, held: [Int32])>

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { state.withLock { $0.requests } }

    init(_ behaviour: @escaping Behaviour = { _ in Response(200) }) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 16)
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: bound.sin_port))
        listener = fd
        state = Mutex(([], behaviour, false, []))
        let t = Thread { [self] in self.acceptLoop() }
        t.start()
    }

    func setBehaviour(_ b: @escaping Behaviour) { state.withLock { $0.behaviour = b } }

    /// Idempotent: `defer { server.stop() }` and then `deinit` must not close (or shut down) the descriptor twice,
    /// since by the second time it may be another server's listener.
    func stop() {
        let held = state.withLock { s -> [Int32]? in
            if s.stopped { return nil }
            s.stopped = true
            return s.held
        }
        guard let held else { return }
        for fd in held { close(fd) }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            if state.withLock({ $0.stopped }) { close(c); return }
            serve(c)
        }
    }

    private func serve(_ c: Int32) {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        var headerEnd: Int?
        var sentContinue = false
        var request: Request?
        while request == nil {
            let n = buf.withUnsafeMutableBytes { read(c, $0.baseAddress, 8192) }
            if n <= 0 { close(c); return }
            data += buf[0..<n]
            if headerEnd == nil, let r = find(data, [13, 10, 13, 10]) { headerEnd = r }
            guard let he = headerEnd else { continue }
            let head = String(decoding: data[0..<he], as: UTF8.self).components(separatedBy: "\r\n")
            let first = head[0].split(separator: " ")
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            if headers["expect"]?.lowercased() == "100-continue" && !sentContinue {
                sentContinue = true
                send(c, "HTTP/1.1 100 Continue\r\n\r\n")
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            if data.count - (he + 4) >= length {
                let body = String(decoding: data[(he + 4)..<(he + 4 + length)], as: UTF8.self)
                request = Request(method: String(first[0]), path: String(first[1]), headers: headers, body: body)
            }
        }
        let behaviour = state.withLock { s -> Behaviour in s.requests.append(request!); return s.behaviour }
        guard let response = behaviour(request!) else {
            state.withLock { $0.held.append(c) }
            return
        }
        send(c, "HTTP/1.1 \(response.status) X\r\nContent-Type: application/json\r\nContent-Length: \(response.body.utf8.count)\r\nConnection: close\r\n\r\n\(response.body)")
        close(c)
    }

    private func send(_ c: Int32, _ s: String) {
        let b = Array(s.utf8)
        var off = 0
        while off < b.count {
            let n = b.withUnsafeBytes { write(c, $0.baseAddress! + off, b.count - off) }
            if n <= 0 { return }
            off += n
        }
    }

    private func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
