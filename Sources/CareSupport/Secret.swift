#if canImport(Glibc)
import Glibc
#endif

/// Why a secret file could not be used. Names the file and the rule; never contains the file's contents.
public struct SecretError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The file could not be opened or read (`errno` says why).
        case unreadable
        /// The file is empty (or only a newline).
        case empty
        /// The file is larger than `Secret.maximumFileSize`: probably the wrong file.
        case tooLarge
        /// The contents are not UTF-8 text.
        case notText
    }

    public var code: Code
    /// The file.
    public var path: String
    /// The `errno` of the failed call, for `.unreadable`.
    public var errno: Int32?
    /// What went wrong and what to check.
    public var message: String

    public var description: String { message }
}

/// A value that must never be printed or logged: a password, a token, a webhook URL with a key in it.
///
/// `description`, `debugDescription`, string interpolation and `dump` all show `<secret>`. The value is reached only
/// through `reveal()` or `withValue`, so that every place that uses it is easy to find. `origin` says where the
/// value came from ("file /run/credentials/caremonitord.service/mqtt-password") so that error messages can point a
/// person at the right file without showing the value.
///
/// With systemd, `LoadCredential=mqtt-password:/etc/caremonitord/mqtt-password` puts the file under
/// `$CREDENTIALS_DIRECTORY`; read it with `Secret(contentsOfFile:)`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable,
    ExpressibleByStringLiteral {
    /// Files larger than this are refused: a secret is short, a large file is a wrong path.
    public static let maximumFileSize = 64 * 1024

    private let value: String
    /// Where the value came from, safe to show: `"file <path>"`, or nil for a value given in code or config.
    public let origin: String?

    /// A secret given as a value (from a config field or a test).
    public init(_ value: String, origin: String? = nil) {
        self.value = value
        self.origin = origin
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// Reads a secret from a file (a systemd credential, a `0600` file). One trailing newline (`\n` or `\r\n`) is
    /// removed, as editors and `echo` add one; anything else is kept as written.
    ///
    /// - Throws: `SecretError` naming the file: unreadable (with `errno`'s text), empty, too large, or not UTF-8.
    public init(contentsOfFile path: String) throws(SecretError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Secret.unreadable(path, errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Secret.unreadable(path, errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > Secret.maximumFileSize {
                throw SecretError(code: .tooLarge, path: path, errno: nil,
                                  message: "secret file '\(path)' is larger than \(Secret.maximumFileSize / 1024) KiB;"
                                      + " a secret is short — check that the path names the right file")
            }
        }
        // Wipe the read buffer: it held (part of) the secret.
        chunk.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) }
        defer { bytes.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) } }
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        guard !bytes.isEmpty else {
            throw SecretError(code: .empty, path: path, errno: nil,
                              message: "secret file '\(path)' is empty — write the secret into it (without quotes)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SecretError(code: .notText, path: path, errno: nil,
                              message: "secret file '\(path)' is not UTF-8 text — check that the path names the right file")
        }
        self.init(text, origin: "file \(path)")
    }

    /// The value itself. Every call is a place where the secret leaves this type: keep it out of logs and errors.
    public func reveal() -> String { value }

    /// Calls `body` with the value: the preferred way, as it keeps the value's use in one visible scope.
    public func withValue<R, E: Error>(_ body: (String) throws(E) -> R) throws(E) -> R {
        try body(value)
    }

    /// Two secrets are equal when their values are (wherever they came from).
    public static func == (a: Secret, b: Secret) -> Bool { a.value == b.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }

    /// Whether the value is empty (safe to ask).
    public var isEmpty: Bool { value.isEmpty }

    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    private static func unreadable(_ path: String, _ e: Int32) -> SecretError {
        let hint = switch e {
        case ENOENT: "check the path (with systemd LoadCredential=, the file is under $CREDENTIALS_DIRECTORY)"
        case EACCES, EPERM: "check the file's owner and mode: the daemon's user must be able to read it"
        case EISDIR: "the path is a directory: name the file inside it"
        default: "check the file"
        }
        return SecretError(code: .unreadable, path: path, errno: e,
                           message: "cannot read secret file '\(path)': \(String(cString: strerror(e))) (errno \(e)) — \(hint)")
    }
}
