#if canImport(Glibc)
import Glibc
#endif

// CareSupport has no Secret yet: this lives here until the lead moves it there (see the issue 5 report).

/// A token or password. Prints as `<secret>` everywhere (description, debugDescription, string interpolation,
/// `dump`), so that it cannot end up in a log line or an error by accident. Read it with `reveal()` at the one place
/// that puts it on the wire.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String
    public init(_ value: String) { self.value = value }
    public func reveal() -> String { value }
    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
    public var customMirror: Mirror { Mirror(reflecting: "<secret>") }

    /// Reads a secret from a file (systemd `LoadCredential=` puts them in `$CREDENTIALS_DIRECTORY`), dropping one
    /// trailing newline.
    public static func fromFile(_ path: String) -> Result<Secret, SecretFileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(SecretFileError(path: path, errno: errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n < 0 { if errno == EINTR { continue }; return .failure(SecretFileError(path: path, errno: errno)) }
            if n == 0 { break }
            bytes += buf[0..<n]
            if bytes.count > 65536 { break }
        }
        while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
        return .success(Secret(String(decoding: bytes, as: UTF8.self)))
    }
}

public struct SecretFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String {
        "cannot read the secret file \(path): \(String(cString: strerror(errno))); check the path and that the service "
            + "may read it (LoadCredential= puts it under $CREDENTIALS_DIRECTORY)"
    }
}
