#if canImport(Glibc)
import Glibc
#endif
import CareSupport

/// Why the answer key could not be loaded or made.
public struct AnswerKeyError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// The secret behind answer tokens. A page carries a token for its member and incident; an answer from outside
/// (the ack topic, an ntfy button) counts only when it carries that token, so nobody who can merely publish on the
/// ack topic can claim or resolve for someone else.
///
/// The key is 32 random bytes in `<state>/answer.key` (mode 0600), made once and never journaled: tokens stay valid
/// across a restart, and `careMonitord ack` on the gateway derives them the same way.
public struct AnswerKey: Sendable {
    public static let fileName = "answer.key"
    let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// A key that lives as long as the process (a test, a command with no state directory).
    public static func ephemeral() -> AnswerKey { AnswerKey(bytes: RandomBytes.make(32) ?? []) }

    public static func path(stateDirectory: String) -> String { "\(stateDirectory)/\(fileName)" }

    /// Reads the key; with `create`, makes it when there is none.
    public static func load(stateDirectory: String, create: Bool) throws(AnswerKeyError) -> AnswerKey {
        let path = path(stateDirectory: stateDirectory)
        if let bytes = DurableFile.read(path, limit: 4096) {
            guard bytes.count == 32 else {
                throw AnswerKeyError(path: path, message: "is \(bytes.count) bytes, not 32; delete it to make a new key (answers to pages already sent will then be refused)")
            }
            return AnswerKey(bytes: bytes)
        }
        guard errno == ENOENT else {
            throw AnswerKeyError(path: path, message: "cannot be read: \(String(cString: strerror(errno))); check the state directory's owner")
        }
        guard create else {
            throw AnswerKeyError(path: path, message: "does not exist: start the daemon once with this state directory (it makes the key)")
        }
        guard let bytes = RandomBytes.make(32) else {
            throw AnswerKeyError(path: path, message: "the kernel's random generator failed: \(String(cString: strerror(errno)))")
        }
        // Written beside it and linked in: two processes making the key at once (the daemon and `test-alert`) end
        // up with the same one, and a crash never leaves a short key.
        let temporary = "\(path).\(getpid()).new"
        do { try DurableFile.write(bytes, to: temporary, mode: 0o600) } catch {
            throw AnswerKeyError(path: path, message: error.reason)
        }
        let linked = link(temporary, path) == 0 ? 0 : errno
        unlink(temporary)
        if linked != 0 && linked != EEXIST {
            throw AnswerKeyError(path: path, message: "cannot be made: \(String(cString: strerror(linked))); check that the state directory is writable")
        }
        return try load(stateDirectory: stateDirectory, create: false)
    }

    /// The token for one member (or the person) and one incident or test: 96 bits, hex.
    public func token(person: String, incident: String, member: String) -> String {
        let message = Array("caremonitord-answer\u{0}\(person)\u{0}\(incident)\u{0}\(member)".utf8)
        return Array(HMAC.sha256(key: bytes, message: message).prefix(12)).hex
    }

    public func verify(_ token: String, person: String, incident: String, member: String) -> Bool {
        HMAC.equal(Array(token.utf8), Array(self.token(person: person, incident: incident, member: member).utf8))
    }
}

/// How an engine treats answers from outside.
public enum AnswerCheck: Sendable {
    /// Live: pages carry tokens and an answer from outside must carry the right one.
    case tokens(AnswerKey)
    /// Replay of a recording: recorded acks carry no token and are taken as they were.
    case recorded
}
