#if canImport(Glibc)
import Glibc
#endif
import CareSupport

/// `sms`: writes smstools3 spool files (`To: 447700900123`, a blank line, the text) into its `outgoing`
/// directory, so texts go out through the gateway's own GSM modem with no Internet. Each file is written beside the
/// spool, fsynced and renamed in (smstools never sees half a file); its name comes from the key, so a redelivery
/// rewrites the same file instead of queueing a second one while smstools has not taken it yet. Replies ("1" =
/// going, "2" = can't) are read from the `incoming` directory with `readReplies`.
public struct SMSNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "sms" }
        public var spool: String
        public func validate(address: String) -> String? {
            SMSNotifier.number(address) == nil ? "the sms address is a phone number in international form, e.g. +447700900123" : nil
        }
        public func answerPath(for address: String) -> AnswerPath { .reply }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier { SMSNotifier(name: name, spool: spool) }
    }

    public static let kind = NotifierKind(name: "sms", summary: "SMS through the smstools3 spool (works without Internet)") { _, o, p, r in
        r.allowOnly(o, ["kind", "spool"], p)
        return Configuration(spool: r.string(o, "spool", p) ?? "/var/spool/sms")
    }

    public let name: String
    let spool: String
    public let retry = RetryPolicy(attempts: 3, attemptTimeout: .seconds(5), deadline: .seconds(20))

    public init(name: String, spool: String = "/var/spool/sms") { self.name = name; self.spool = spool }

    /// Digits only, as smstools wants them ("+44 7700 900123" → "447700900123"); nil when it is not a number.
    public static func number(_ s: String) -> String? {
        let digits = s.filter { $0.isASCII && $0.isNumber }
        let allowed = s.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "+" || $0 == " " || $0 == "-" }
        return allowed && digits.count >= 6 && digits.count <= 15 ? digits : nil
    }

    public func fileName(_ n: OutgoingNotification) -> String {
        "caremonitord-" + n.key.map { $0.isLetter || $0.isNumber || $0 == "-" ? String($0) : "_" }.joined()
    }

    public func content(_ n: OutgoingNotification) -> String {
        var text = n.text
        if n.actions.contains(.claim) { text += " Reply 1 if you are going, 2 if you can't." }
        return "To: \(Self.number(n.address) ?? n.address)\n\n\(text)\n"
    }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        guard Self.number(n.address) != nil else {
            throw NotifierError(notifier: name, disposition: .permanent, message: "\"\(n.address)\" is not a phone number")
        }
        let tmp = "\(spool)/.\(fileName(n)).tmp"
        let dest = "\(spool)/outgoing/\(fileName(n))"
        let bytes = Array(content(n).utf8)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw fileError("create \(tmp)", errno) }
        var off = 0
        while off < bytes.count {
            let w = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
            if w < 0 { if errno == EINTR { continue }; let e = errno; close(fd); throw fileError("write \(tmp)", e) }
            off += w
        }
        fsync(fd)
        close(fd)
        guard rename(tmp, dest) == 0 else { let e = errno; unlink(tmp); throw fileError("move it into \(spool)/outgoing", e) }
        return DeliveryReceipt(reference: dest)
    }

    func fileError(_ what: String, _ e: Int32) -> NotifierError {
        let retryable = e == ENOSPC || e == EAGAIN || e == EINTR || e == EIO
        return NotifierError(notifier: name, disposition: retryable ? .retryable : .permanent,
                             message: "cannot \(what): \(String(cString: strerror(e))); check that smstools3's spool exists and the service may write it")
    }

    /// A text received by smstools3.
    public struct Reply: Sendable, Equatable {
        public var from: String
        public var text: String
        public var file: String
    }

    /// Reads (and, unless `keep`, deletes) the received messages in `spool/incoming`.
    public func readReplies(keep: Bool = false) -> [Reply] {
        let dir = "\(spool)/incoming"
        guard let d = opendir(dir) else { return [] }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        closedir(d)
        var out: [Reply] = []
        for name in names.sorted() {
            let path = "\(dir)/\(name)"
            guard let bytes = DurableFile.read(path, limit: 64 * 1024), let reply = Self.reply(fromFile: bytes, path: path) else { continue }
            out.append(reply)
            if !keep { unlink(path) }
        }
        return out
    }

    /// One smstools3 received file: headers (`From: 447700900123`), a blank line, the text; nil without a sender.
    public static func reply(fromFile bytes: [UInt8], path: String) -> Reply? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.firstRange(of: "\n\n") else { return nil }
        var from: String?
        for line in text[..<split.lowerBound].split(separator: "\n") where line.hasPrefix("From:") {
            from = line.dropFirst(5).trimmingSpaces
        }
        guard let from else { return nil }
        return Reply(from: from, text: String(text[split.upperBound...]).trimmingSpaces, file: path)
    }

    /// "1" (optionally followed by minutes: "1 15") is a claim, "2" a decline; also yes/no and a few words.
    public static func action(fromReply text: String) -> (Ack.Action, Int?)? {
        let words = text.lowercased().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," }).map(String.init)
        guard let first = words.first else { return nil }
        let eta = words.dropFirst().first.flatMap { Int($0) }
        switch first {
        case "1", "yes", "y", "going", "ok": return (.claim, eta)
        case "2", "no", "n", "cant", "can't": return (.decline, nil)
        case "3", "here", "arrived": return (.arrived, nil)
        case "4", "resolved", "done": return (.resolve, nil)
        default: return nil
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\r" || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\r" || l == "\t" { s.removeLast() }
        return String(s)
    }
}
