#if canImport(Glibc)
import Glibc
#endif

/// Buffered output to a file descriptor with plain `write(2)` (no stdio, no Foundation): event lines on stdout,
/// messages on stderr. Not thread-safe: one writer per instance.
public final class FileOutput: @unchecked Sendable {
    // @unchecked Sendable: used by one thread at a time (documented); the process-wide instances below are used by
    // the main thread of a command, or guarded by their caller.
    public let fd: Int32
    private var buffer: [UInt8] = []
    private let limit: Int

    public init(fd: Int32, bufferSize: Int = 1 << 16) {
        self.fd = fd
        limit = bufferSize
        buffer.reserveCapacity(bufferSize)
    }

    public static let standardOutput = FileOutput(fd: 1)
    public static let standardError = FileOutput(fd: 2, bufferSize: 0)

    /// True when the descriptor is a terminal (progress lines are shown only then).
    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= limit { flush() }
    }

    public func writeLine(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        if buffer.count >= limit { flush() }
    }

    public func flush() {
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { if errno == EINTR { continue }; break }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
