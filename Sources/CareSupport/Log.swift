#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// How much a log line matters. `warning` means a person must act; per-sample events are never logged.
public enum LogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case debug = 7, info = 6, notice = 5, warning = 4, error = 3, critical = 2

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue > b.rawValue }

    public var description: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }
}

/// The daemon's log: one line per event on a sink (stderr by default, with the `<N>` syslog priority prefix that
/// systemd's journal understands when `SyslogLevelPrefix=` is on), tagged with a component label.
///
/// Thread-safe: lines are written with one `write(2)` each, so lines from threads never interleave.
public struct Logger: Sendable {
    public typealias Sink = @Sendable (LogLevel, String) -> Void

    public let label: String
    public let minimumLevel: LogLevel
    private let sink: Sink

    public init(label: String, minimumLevel: LogLevel = .info, sink: @escaping Sink = Logger.standardError) {
        self.label = label
        self.minimumLevel = minimumLevel
        self.sink = sink
    }

    /// A logger for a sub-component, sharing the sink and level.
    public func child(_ label: String) -> Logger {
        Logger(label: self.label.isEmpty ? label : "\(self.label).\(label)", minimumLevel: minimumLevel, sink: sink)
    }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level >= minimumLevel else { return }
        let text = Self.escapingControlCharacters(message())
        sink(level, label.isEmpty ? text : "\(label): \(text)")
    }

    /// One message is one line: a newline or escape sequence inside it (an ack's member id `a\nb`, a payload)
    /// is written as `\n`, `\u{1b}`…, so nobody can forge a log line or a journal priority by sending one.
    public static func escapingControlCharacters(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(u): out += "\\u{\(String(u.value, radix: 16))}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || u.value == 0x7f || (0x80...0x9f).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func notice(_ message: @autoclosure () -> String) { log(.notice, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }

    /// Writes `<N>level: message` to stderr in one write.
    public static let standardError: Sink = { level, message in
        var line = "<\(level.rawValue)>\(level): \(message)\n"
        line.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = write(2, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }

    /// A logger that drops everything (replay's quiet mode, benchmarks).
    public static let silent = Logger(label: "", minimumLevel: .critical, sink: { _, _ in })
}

/// Collects log lines in memory: for tests that check what was (and was not) logged.
public final class LogRecorder: Sendable {
    private let lines = Mutex<[(LogLevel, String)]>([])
    public init() {}
    public var sink: Logger.Sink { { [self] level, message in lines.withLock { $0.append((level, message)) } } }
    public var entries: [(level: LogLevel, message: String)] { lines.withLock { $0.map { ($0.0, $0.1) } } }
    public func logger(label: String = "", minimumLevel: LogLevel = .debug) -> Logger {
        Logger(label: label, minimumLevel: minimumLevel, sink: sink)
    }
}
