import CareSupport
import Synchronization

/// `matrix`: `PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` with a bearer access token. The
/// transaction id is the notification key, so the homeserver drops a redelivery: exactly once.
///
/// A contact's address is either a room id (`!abc:example.org`, or `!abc` from room version 12 on), where the page
/// goes and nothing reads answers; or the member's own user id (`@anna:example.org`): her page goes to the
/// instance's `room`, mentioning her and saying how to answer, and what she writes there is read back as her answer
/// (`pollReplies`, through `/sync` on that room). Every sender is passed on: the engine counts a reply only from the
/// member whose address is that user id.
public struct MatrixNotifier: Notifier {
    public struct Configuration: NotifierConfiguration {
        public var kind: String { "matrix" }
        public var homeserver: String
        public var accessToken: Secret
        /// Where members addressed by user id are paged and answer.
        public var room: String?
        public var retry: RetryPolicy
        public func validate(address: String) -> String? {
            if MatrixNotifier.isRoomID(address) { return nil }
            if MatrixNotifier.isUserID(address) {
                return room == nil ? "a user id as matrix address needs the instance's room, where the member is paged and answers" : nil
            }
            return "the matrix address is a room id (\"!abcdef:matrix.org\", or \"!abcdef\" in room version 12) "
                + "or the member's user id (\"@anna:matrix.org\"), which needs the instance's room"
        }
        /// Replies are read only from members addressed by their user id (a room id says nothing of who answers).
        public func answerPath(for address: String) -> AnswerPath { MatrixNotifier.isUserID(address) ? .reply : .none }
        public func makeNotifier(name: String, context: NotifierContext) -> any Notifier {
            MatrixNotifier(name: name, homeserver: homeserver, accessToken: accessToken, room: room, retry: retry)
        }
    }

    public static let kind = NotifierKind(name: "matrix", summary: "Matrix room message (client-server API); replies read as answers") { _, o, p, r in
        r.allowOnly(o, ["kind", "homeserver", "accessToken", "room", "attempts", "attemptTimeoutSeconds", "deadlineSeconds"], p)
        let hs = r.url(o, "homeserver", p)
        let token = r.secret(o, "accessToken", p, required: true)
        let room = r.string(o, "room", p)
        if let room, !isRoomID(room) {
            r.fail(ConfigReader.join(p, "room"), "expected a room id (\"!abcdef:matrix.org\", or \"!abcdef\" in room version 12), found \"\(room)\"")
        }
        let retry = r.retryPolicy(o, p)
        r.refuseCleartext(url: hs, key: "homeserver", carrying: token, p)
        guard let hs, let token else { return nil }
        return Configuration(homeserver: hs, accessToken: token, room: room, retry: retry)
    }

    public let name: String
    let homeserver: String
    let accessToken: Secret
    let room: String?
    public let retry: RetryPolicy
    let http: HTTPClient
    let cursor: SyncCursor

    /// Where the room was last read up to (`/sync`'s `next_batch`), and the bot's own user id, whose messages (the
    /// pages) are not answers.
    final class SyncCursor: Sendable {
        struct State {
            var since: String?
            var lastPoll: ContinuousClock.Instant?
            var polling = false
            var bot: String?
        }
        let state = Mutex(State())
        /// Messages older than this are not answers (the first sync returns the room's recent history).
        let notBefore: WallTime
        init(notBefore: WallTime) { self.notBefore = notBefore }
    }

    /// Answers are fetched no more often than this.
    public static let minimumPollInterval = Duration.seconds(2)
    /// Messages one sync returns at most; more in one interval than this and the oldest are not read.
    static let syncLimit = 50

    public init(name: String, homeserver: String, accessToken: Secret, room: String? = nil, retry: RetryPolicy = RetryPolicy(),
                since: WallTime? = nil) {
        self.name = name; self.homeserver = HTTPClient.trimSlash(homeserver); self.accessToken = accessToken; self.room = room
        self.retry = retry
        cursor = SyncCursor(notBefore: since ?? WallTime(milliseconds: Int64(SystemClock().wallNow() * 1000)))
        http = HTTPClient(notifier: name, secrets: [accessToken], urls: [homeserver])
    }

    /// `!opaque:server`, or `!opaque` (room version 12 drops the server).
    public static func isRoomID(_ s: String) -> Bool { s.hasPrefix("!") && s.count > 1 && plain(s) }

    /// `@localpart:server`.
    public static func isUserID(_ s: String) -> Bool {
        guard s.hasPrefix("@"), let colon = s.firstIndex(of: ":") else { return false }
        return colon > s.index(after: s.startIndex) && s.index(after: colon) < s.endIndex && plain(s)
    }

    static func plain(_ s: String) -> Bool { s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7f && $0 != "/" } }

    /// The room a notification goes to: the contact's room, or the instance's room for a member addressed by user id.
    func room(for n: OutgoingNotification) -> String? { Self.isUserID(n.address) ? room : n.address }

    /// The request path for a notification (the txnId is the key).
    public static func path(room: String, key: String) -> String {
        "/_matrix/client/v3/rooms/\(HTTPClient.percentEncode(room))/send/m.room.message/\(HTTPClient.percentEncode(key))"
    }

    /// The message: title and text, and for a member addressed by user id, how to answer, in the words
    /// `SMSNotifier.action(fromReply:)` reads.
    public func body(_ n: OutgoingNotification) -> JSONValue {
        var text = "\(n.title)\n\(n.text)"
        var o: JSONObject = ["msgtype": "m.text"]
        if Self.isUserID(n.address) {
            var words: [String] = []
            if n.actions.contains(.claim) { words.append("1 if you are going (\"1 15\": there in 15 minutes)") }
            if n.actions.contains(.decline) { words.append("2 if you can't") }
            if n.actions.contains(.arrived) { words.append("3 when you are there") }
            if n.actions.contains(.resolve) { words.append("4 when it is resolved") }
            if !words.isEmpty { text += "\n\(n.address), reply here: " + words.joined(separator: ", ") + "." }
            o["m.mentions"] = ["user_ids": [.string(n.address)]]
        }
        o["body"] = .string(text)
        return .object(o)
    }

    var authorization: (String, String) { ("Authorization", "Bearer \(accessToken.reveal())") }

    public func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        guard let target = room(for: n) else {
            throw NotifierError(notifier: name, disposition: .permanent,
                                message: "a member addressed by user id is paged in the instance's room, and this instance has none")
        }
        let r = try await http.send("PUT", homeserver + Self.path(room: target, key: n.key),
                                    headers: [("Content-Type", "application/json"), authorization],
                                    body: Array(JSONWriter.serialize(body(n)).utf8), timeout: timeout)
        return DeliveryReceipt(reference: (try? JSONParser.parse(r.body))?["event_id"]?.stringValue)
    }

    /// Only the room's text messages, and nothing else of the account.
    var syncFilter: String {
        let none: JSONValue = ["types": []]
        let filter: JSONValue = [
            "room": ["rooms": [.string(room ?? "")], "timeline": ["types": ["m.room.message"], "limit": .number(Double(Self.syncLimit))],
                     "state": none, "ephemeral": none, "account_data": none],
            "presence": none, "account_data": none,
        ]
        return JSONWriter.serialize(filter)
    }

    /// The room's new messages since the last call, at most every `minimumPollInterval`, each once, within `timeout`
    /// in all: (sender, text) as written, less a quoted reply fallback. The bot's own messages are left out.
    public func pollReplies(now: ContinuousClock.Instant = .now, timeout: Duration = .seconds(5)) async -> [(from: String, text: String)] {
        guard room != nil else { return [] }
        let start: (since: String?, bot: String?)? = cursor.state.withLock { s in
            if s.polling { return nil }
            if let last = s.lastPoll, last.duration(to: now) < Self.minimumPollInterval { return nil }
            s.polling = true
            s.lastPoll = now
            return (s.since, s.bot)
        }
        guard let start else { return [] }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let (replies, next, bot) = await sync(since: start.since, bot: start.bot, deadline: deadline)
        cursor.state.withLock { s in
            s.polling = false
            if let next { s.since = next }
            if let bot { s.bot = bot }
        }
        return replies
    }

    func sync(since: String?, bot known: String?, deadline: ContinuousClock.Instant) async
        -> (replies: [(from: String, text: String)], next: String?, bot: String?) {
        var bot = known
        if bot == nil {
            let r = try? await http.send("GET", homeserver + "/_matrix/client/v3/account/whoami", headers: [authorization],
                                         timeout: ContinuousClock.now.duration(to: deadline))
            bot = r.flatMap { (try? JSONParser.parse($0.body))?["user_id"]?.stringValue }
            guard bot != nil else { return ([], nil, nil) }
        }
        var url = homeserver + "/_matrix/client/v3/sync?timeout=0&filter=" + HTTPClient.percentEncode(syncFilter)
        if let since { url += "&since=" + HTTPClient.percentEncode(since) }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero, let r = try? await http.send("GET", url, headers: [authorization], timeout: left),
              let reply = Self.replies(fromSync: r.body, room: room ?? "", bot: bot, firstSync: since == nil,
                                       notBefore: cursor.notBefore) else { return ([], nil, bot) }
        return (reply.replies, reply.next, bot)
    }

    /// A `/sync` answer: the room's messages from others than `bot` (less quoted fallbacks) and `next_batch`; nil
    /// when it is not JSON or has no `next_batch`.
    public static func replies(fromSync body: [UInt8], room: String, bot: String?, firstSync: Bool, notBefore: WallTime)
        -> (replies: [(from: String, text: String)], next: String)? {
        guard let v = try? JSONParser.parse(body), let next = v["next_batch"]?.stringValue else { return nil }
        var replies: [(from: String, text: String)] = []
        for e in v["rooms"]?["join"]?[room]?["timeline"]?["events"]?.arrayValue ?? [] {
            guard e["type"]?.stringValue == "m.room.message", let sender = e["sender"]?.stringValue, sender != bot,
                  let text = e["content"]?["body"]?.stringValue else { continue }
            // The first sync returns history: what was written before the daemon started is no answer to it.
            if firstSync, let ts = e["origin_server_ts"]?.doubleValue, ts < Double(notBefore.milliseconds) { continue }
            replies.append((sender, Self.withoutQuote(text)))
        }
        return (replies, next)
    }

    /// A client's reply carries the message it answers as "> …" lines, then a blank line, before the answer.
    static func withoutQuote(_ body: String) -> String {
        var lines = body.split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard lines.first?.hasPrefix(">") == true else { return body }
        while let l = lines.first, l.hasPrefix(">") || l.isEmpty { lines = lines.dropFirst() }
        return lines.joined(separator: "\n")
    }
}
