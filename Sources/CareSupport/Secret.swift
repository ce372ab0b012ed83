#if canImport(Glibc)
import Glibc
#endif

/// Why a secret file or systemd credential could not be used. Names the file (or credential) and the rule; never
/// contains the file's contents.
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
        /// A credential was asked for but `$CREDENTIALS_DIRECTORY` is not set: not running under systemd, or the
        /// unit has no `LoadCredential=`.
        case noCredentialsDirectory
        /// The credential's name cannot be a file name in `$CREDENTIALS_DIRECTORY` (empty, `.`, `..`, a `/`…).
        case invalidCredentialName
    }

    public var code: Code
    /// The file; for a credential, the file in `$CREDENTIALS_DIRECTORY`, or "" when there is none.
    public var path: String
    /// The credential's name, when the secret was asked for by name.
    public var credential: String? = nil
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
/// `$CREDENTIALS_DIRECTORY`; read it with `Secret(credential: "mqtt-password")`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable,
    ExpressibleByStringLiteral {
    /// Files larger than this are refused: a secret is short, a large file is a wrong path.
    public static let maximumFileSize = 64 * 1024

    private let value: String
    /// Where the value came from, safe to show: `"file <path>"`, `"credential <name>"`, or nil for a value given in
    /// code or config.
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
        self.init(try Secret.text(ofFile: path), origin: "file \(path)")
    }

    /// The directory where systemd puts the unit's credentials (`$CREDENTIALS_DIRECTORY`), nil when not set.
    public static func credentialsDirectory() -> String? {
        guard let p = getenv("CREDENTIALS_DIRECTORY") else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }

    /// Reads the systemd credential `name` (`LoadCredential=name:…`) from `directory/name`, with the same rules as
    /// `init(contentsOfFile:)`.
    ///
    /// - Parameter directory: where the credentials are; `$CREDENTIALS_DIRECTORY` by default.
    /// - Throws: `SecretError` naming the credential: an invalid name, no credentials directory (not running under
    ///   systemd), a credential the unit was not given, or a file `init(contentsOfFile:)` refuses.
    public init(credential name: String, directory: String? = Secret.credentialsDirectory()) throws(SecretError) {
        guard Secret.isValidCredentialName(name) else {
            throw SecretError(code: .invalidCredentialName, path: "", credential: name,
                              message: "\"\(name)\" is not a credential name: it names a file in $CREDENTIALS_DIRECTORY"
                                  + " (not empty, not '.' or '..', printable ASCII without '/' or ':', at most 255 bytes)")
        }
        guard let directory else {
            throw SecretError(code: .noCredentialsDirectory, path: "", credential: name,
                              message: "cannot read credential '\(name)': $CREDENTIALS_DIRECTORY is not set — careMonitord is"
                                  + " not running under systemd with LoadCredential=\(name):…; use {\"file\": PATH} outside systemd")
        }
        let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        let text: String
        do {
            text = try Secret.text(ofFile: path)
        } catch var e {
            e.credential = name
            if e.code == .unreadable && e.errno == ENOENT {
                e.message = "systemd passed no credential '\(name)' (not in \(directory)): give the unit"
                    + " LoadCredential=\(name):… and check that its source file exists"
            }
            throw e
        }
        self.init(text, origin: "credential \(name)")
    }

    /// Whether systemd can pass a credential of this name: a file name (no '/', not '.' or '..') and an
    /// `$LISTEN_FDNAMES` name (printable ASCII, no ':'), as `LoadCredential=` requires.
    public static func isValidCredentialName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count <= 255 && name != "." && name != ".."
            && bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
    }

    /// A file's contents as a secret's text: at most `maximumFileSize`, one trailing newline removed, UTF-8.
    private static func text(ofFile path: String) throws(SecretError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Secret.unreadable(path, errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // Wipe the buffers: they held (part of) the secret.
        defer {
            chunk.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) }
            bytes.withUnsafeMutableBytes { if let b = $0.baseAddress { _ = memset(b, 0, $0.count) } }
        }
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
        return text
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

extension Secret {
    /// Why a config's `{"file": PATH}` or `{"credential": NAME}` gave no secret: the member at fault (`"file"`,
    /// `"credential"`, or nil for the object itself) and what to do.
    public struct ReferenceError: Error, Sendable, Equatable {
        public var member: String?
        public var message: String
    }

    /// A secret that a config names by where it is, read now: `{"file": PATH}`, or `{"credential": NAME}` read from
    /// `credentialsDirectory/NAME` (systemd `LoadCredential=NAME:…`).
    public init(reference: JSONObject, credentialsDirectory: String? = Secret.credentialsDirectory()) throws(ReferenceError) {
        let forms = "{\"file\": PATH} or {\"credential\": NAME}"
        if let other = reference.keys.first(where: { $0 != "file" && $0 != "credential" }) {
            throw ReferenceError(member: other, message: "unknown field; a secret is \(forms)")
        }
        let given = reference.keys
        guard given.count == 1, let member = given.first, let value = reference[member] else {
            throw ReferenceError(member: nil, message: given.isEmpty ? "expected \(forms), found an empty object"
                                                                      : "give either file or credential, not both")
        }
        guard let text = value.stringValue, !text.isEmpty else {
            let found = value.stringValue == nil ? value.typeName : "an empty string"
            throw ReferenceError(member: member, message: "expected \(member == "file" ? "a path" : "a credential name"), found \(found)")
        }
        do {
            self = member == "file" ? try Secret(contentsOfFile: text) : try Secret(credential: text, directory: credentialsDirectory)
        } catch {
            throw ReferenceError(member: member, message: error.message)
        }
    }
}
