import CareSupport
@testable import Escalation
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The exact requests each service documents, checked on a real loopback HTTP server.
@Suite("Notifier requests")
struct NotifierRequestTests {
    static let token = "tk_AbCdEf123456"

    func json(_ s: String) throws -> JSONValue { try JSONParser.parse(s) }

    @Test func ntfyPublishesJSONWithPriorityTagsAndAnswerButtons() async throws {
        let server = TestHTTPServer { _ in .init(200, #"{"id":"m1"}"#) }
        let n = NtfyNotifier(name: "ntfy", url: server.baseURL, token: Secret(Self.token), replyTopic: "linda-acks")
        var note = sampleNotification(address: "linda-care-anna")
        note.token = "0123456789abcdef01234567"
        let outcome = await n.deliver(note)
        #expect(outcome == .delivered(DeliveryReceipt(reference: "m1"), attempts: 1))
        let r = try #require(server.requests.first)
        #expect(r.method == "POST" && r.path == "/")
        #expect(r.header("Authorization") == "Bearer \(Self.token)")
        #expect(r.header("Content-Type") == "application/json")
        let b = try json(r.body)
        #expect(b["topic"] == "linda-care-anna")
        #expect(b["title"] == "Linda: fall — can you go?")
        #expect(b["message"] == .string(note.text))
        #expect(b["priority"] == 5)
        #expect(b["tags"] == ["rotating_light", "fall"])
        let actions = try #require(b["actions"]?.arrayValue)
        #expect(actions.count == 2)
        #expect(actions[0]["action"] == "http" && actions[0]["label"] == "I'm going" && actions[0]["method"] == "POST")
        #expect(actions[0]["url"] == .string("\(server.baseURL)/linda-acks"))
        // What the button publishes comes back on the reply topic's JSON stream as an ack.
        let published = try #require(actions[0]["body"]?.stringValue)
        let streamLine = JSONWriter.serialize(["event": "message", "topic": "linda-acks", "message": .string(published)])
        #expect(NtfyNotifier.ack(fromStreamLine: streamLine)
                == Ack(incident: note.incident, member: "anna", action: .claim, via: "ntfy", proof: .token("0123456789abcdef01234567")))
        #expect(NtfyNotifier.ack(fromStreamLine: #"{"event":"keepalive"}"#) == nil)
    }

    @Test func ntfyRepliesAreFetchedFromTheReplyTopicSinceTheLastMessage() async throws {
        let answer = JSONWriter.serialize(["incident": "linda-20261123-140200", "member": "ben", "action": "claim", "eta": 7])
        let server = TestHTTPServer { req in
            guard req.path.hasPrefix("/linda-acks/json?poll=1&since=") else { return .init(404) }
            return .init(200, [
                JSONWriter.serialize(["id": "m1", "event": "message", "topic": "linda-acks", "message": .string(answer)]),
                JSONWriter.serialize(["id": "m2", "event": "message", "topic": "linda-acks", "message": "hello"]),
            ].joined(separator: "\n") + "\n")
        }
        let n = NtfyNotifier(name: "ntfy", url: server.baseURL, token: Secret(Self.token), replyTopic: "linda-acks", since: Fixture.start)
        let t0 = ContinuousClock.now
        let acks = await n.poll(now: t0)
        #expect(acks == [.ack(Ack(incident: "linda-20261123-140200", member: "ben", action: .claim, etaMinutes: 7, via: "ntfy"))])
        #expect(server.requests.first?.path == "/linda-acks/json?poll=1&since=\(Fixture.start.milliseconds / 1000)")
        #expect(server.requests.first?.header("Authorization") == "Bearer \(Self.token)")
        #expect(await n.poll(now: t0.advanced(by: .seconds(1))).isEmpty)
        #expect(server.requests.count == 1, "not polled again within the minimum interval")
        _ = await n.poll(now: t0.advanced(by: .seconds(3)))
        #expect(server.requests.last?.path == "/linda-acks/json?poll=1&since=m2", "resumes after the last message seen")
    }

    @Test func ntfyOffersAtMostThreeButtonsAndNoneWithoutAReplyTopic() throws {
        var note = sampleNotification(address: "t")
        note.actions = [.claim, .decline, .arrived, .resolve]
        #expect(NtfyNotifier(name: "n", replyTopic: "r").body(note)["actions"]?.arrayValue?.count == 3)
        #expect(NtfyNotifier(name: "n").body(note)["actions"] == nil)
    }

    @Test func gotifyPostsMessageWithAppTokenHeader() async throws {
        let server = TestHTTPServer { _ in .init(200, #"{"id":12}"#) }
        let n = GotifyNotifier(name: "gotify", url: server.baseURL + "/", token: Secret(Self.token))
        _ = await n.deliver(sampleNotification(address: ""))
        let r = try #require(server.requests.first)
        #expect(r.method == "POST" && r.path == "/message")
        #expect(r.header("X-Gotify-Key") == Self.token)
        let b = try json(r.body)
        #expect(b["title"] == "Linda: fall — can you go?" && b["priority"] == 10)
        #expect(b["extras"]?["client::display"]?["contentType"] == "text/plain")
        #expect(b["extras"]?["caremonitord::incident"]?["key"] == "linda-20261123-140200/3")
    }

    @Test func matrixPutsRoomMessageWithTheKeyAsTransactionId() async throws {
        let server = TestHTTPServer { _ in .init(200, #"{"event_id":"$abc"}"#) }
        let n = MatrixNotifier(name: "matrix", homeserver: server.baseURL, accessToken: Secret(Self.token))
        let outcome = await n.deliver(sampleNotification(address: "!room:example.org"))
        #expect(outcome == .delivered(DeliveryReceipt(reference: "$abc"), attempts: 1))
        let r = try #require(server.requests.first)
        #expect(r.method == "PUT")
        #expect(r.path == "/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/linda-20261123-140200%2F3")
        #expect(r.header("Authorization") == "Bearer \(Self.token)")
        #expect(try json(r.body) == ["msgtype": "m.text", "body": "Linda: fall — can you go?\nLinda: Fall detected at 14:02 (hallway). Can you go?"])
    }

    @Test func matrixPagesAMemberAddressedByUserIdInTheInstancesRoomSayingHowToAnswer() async throws {
        let server = TestHTTPServer { _ in .init(200, #"{"event_id":"$abc"}"#) }
        let room = "!Vrvtn9MXmHBOEXnHUZC0YvWJDR7FedCGS5aWsHF2aBc"
        let n = MatrixNotifier(name: "matrix", homeserver: server.baseURL, accessToken: Secret(Self.token), room: room)
        _ = await n.deliver(sampleNotification(address: "@anna:example.org"))
        var update = sampleNotification(address: "@anna:example.org", purpose: .update)
        update.actions = [.arrived, .resolve]
        _ = await n.deliver(update)
        _ = await n.deliver(sampleNotification(address: "!centre:example.org"))
        let r = server.requests
        #expect(r.map(\.path) == [String](repeating: "/_matrix/client/v3/rooms/\(HTTPClient.percentEncode(room))/send/m.room.message/linda-20261123-140200%2F3", count: 2)
                + ["/_matrix/client/v3/rooms/%21centre%3Aexample.org/send/m.room.message/linda-20261123-140200%2F3"])
        #expect(try json(r[0].body) == ["msgtype": "m.text", "m.mentions": ["user_ids": ["@anna:example.org"]],
                                        "body": "Linda: fall — can you go?\nLinda: Fall detected at 14:02 (hallway). Can you go?\n@anna:example.org, reply here: 1 if you are going (\"1 15\": there in 15 minutes), 2 if you can't."])
        #expect(try json(r[1].body)["body"]?.stringValue?.hasSuffix("@anna:example.org, reply here: 3 when you are there, 4 when it is resolved.") == true)
        // Nothing reads a room contact's answers, so its page asks for none.
        #expect(try json(r[2].body) == ["msgtype": "m.text", "body": "Linda: fall — can you go?\nLinda: Fall detected at 14:02 (hallway). Can you go?"])
    }

    @Test func matrixRepliesAreReadFromTheRoomsSyncOnceEachAtMostEveryInterval() async throws {
        let room = "!r00m"
        let sync = { @Sendable (since: String, events: [JSONValue]) -> String in
            var join = JSONObject()
            join[room] = ["timeline": ["events": .array(events)]]
            return JSONWriter.serialize(["next_batch": .string(since), "rooms": ["join": .object(join)]])
        }
        @Sendable func message(_ sender: String, _ body: String, ts: Double = 1_795_442_600_000) -> JSONValue {
            ["type": "m.room.message", "sender": .string(sender), "origin_server_ts": .number(ts), "content": ["msgtype": "m.text", "body": .string(body)]]
        }
        let server = TestHTTPServer { req in
            if req.path == "/_matrix/client/v3/account/whoami" { return .init(200, #"{"user_id":"@bot:example.org"}"#) }
            guard req.path.hasPrefix("/_matrix/client/v3/sync?timeout=0&filter=") else { return .init(404) }
            if !req.path.contains("&since=") {
                return .init(200, sync("s1", [message("@anna:example.org", "2", ts: 1_795_442_000_000),   // before the start
                                              message("@bot:example.org", "Linda: fall"), message("@eve:example.org", "1"),
                                              message("@anna:example.org", "> <@bot:example.org> Linda: fall\n\n1 10")]))
            }
            return .init(200, sync("s2", req.path.hasSuffix("&since=s1") ? [message("@anna:example.org", "3")] : []))
        }
        let n = MatrixNotifier(name: "matrix", homeserver: server.baseURL, accessToken: Secret(Self.token), room: room,
                               since: RFC3339.parse("2026-11-23T14:02:00Z"))
        let t0 = ContinuousClock.now
        #expect(await n.poll(now: t0) == [PolledAnswer.reply(from: "@eve:example.org", text: "1"), .reply(from: "@anna:example.org", text: "1 10")])
        let filter = try #require(server.requests.last?.path.split(separator: "filter=").last.map(String.init)?.removingPercentEncoding)
        #expect(try json(filter)["room"]?["rooms"] == [.string(room)])
        #expect(server.requests.allSatisfy { $0.header("Authorization") == "Bearer \(Self.token)" })
        #expect(await n.poll(now: t0.advanced(by: .seconds(1))).isEmpty)
        #expect(server.requests.count == 2, "not polled again within the minimum interval")
        #expect(await n.poll(now: t0.advanced(by: .seconds(3))) == [PolledAnswer.reply(from: "@anna:example.org", text: "3")])
        #expect(await n.poll(now: t0.advanced(by: .seconds(6))).isEmpty, "each answer once")
        #expect(server.requests.filter { $0.path.contains("whoami") }.count == 1)
    }

    @Test func matrixPollingGivesUpWithinItsTimeoutWhenTheHomeserverHangs() async throws {
        let server = TestHTTPServer { _ in nil }
        defer { server.stop() }
        let n = MatrixNotifier(name: "matrix", homeserver: server.baseURL, accessToken: Secret(Self.token), room: "!r")
        let start = ContinuousClock.now
        #expect(await n.pollReplies(now: start, timeout: .seconds(1)).isEmpty)
        #expect(start.duration(to: .now) < .seconds(4))
    }

    @Test func gotifySendsEachMembersPageWithTheApplicationTokenItsAddressNames() async throws {
        let server = TestHTTPServer { _ in .init(200, #"{"id":12}"#) }
        let config = try EscalationConfig.decode(text: #"""
            {"notifiers": {"gotify": {"url": "\#(server.baseURL)", "tokens": {"anna": "tk_anna1", "ben": "tk_ben22"}}},
             "circle": {"members": [{"id": "anna", "role": "family", "consent": true, "contacts": [{"notifier": "gotify", "address": "anna"}]},
                                    {"id": "ben", "role": "neighbour", "consent": true, "contacts": [{"notifier": "gotify", "address": "ben"}]}]}}
            """#).get()
        let n = try #require(NotifierRegistry.instantiate(config.notifiers, context: NotifierContext())["gotify"])
        for m in config.members { _ = await n.deliver(sampleNotification(address: m.contacts[0].address)) }
        #expect(server.requests.map { $0.header("X-Gotify-Key") } == ["tk_anna1", "tk_ben22"])
        guard case .failed(let e, _) = await n.deliver(sampleNotification(address: "carol")) else { Issue.record("should fail"); return }
        #expect(e.disposition == .permanent && e.message.contains("no application token named \"carol\""))
    }

    /// A Home Assistant webhook id is the whole credential: a failure names the host, never the path.
    @Test func aWebhookURLsPathNeverReachesAnError() async {
        let server = TestHTTPServer { _ in .init(500, "the id linda-secret-webhook-7f3a is wrong") }
        defer { server.stop() }
        let n = WebhookNotifier(name: "ha", url: server.baseURL + "/api/webhook/linda-secret-webhook-7f3a",
                                retry: RetryPolicy(attempts: 1, attemptTimeout: .seconds(5), deadline: .seconds(5)))
        guard case .failed(let e, _) = await n.deliver(sampleNotification()) else { Issue.record("should fail"); return }
        #expect(!e.message.contains("linda-secret-webhook-7f3a"), "\(e.message)")
        #expect(e.message.contains("127.0.0.1"), "\(e.message)")
    }

    @Test func webhookSendsAlertmanagerVersion4ShapeWithOurIncident() async throws {
        let server = TestHTTPServer()
        let n = WebhookNotifier(name: "ha", url: server.baseURL + "/api/webhook/care", bearerToken: Secret(Self.token))
        _ = await n.deliver(sampleNotification())
        var clear = sampleNotification(purpose: .allClear)
        clear.key = "linda-20261123-140200/9"
        _ = await n.deliver(clear)
        let r = server.requests
        #expect(r.count == 2)
        #expect(r[0].method == "POST" && r[0].path == "/api/webhook/care")
        #expect(r[0].header("Idempotency-Key") == "linda-20261123-140200/3")
        #expect(r[0].header("Authorization") == "Bearer \(Self.token)")
        let b = try json(r[0].body)
        #expect(b["version"] == "4" && b["status"] == "firing" && b["receiver"] == "ha" && b["truncatedAlerts"] == 0)
        #expect(b["groupKey"] == #"{}:{incident="linda-20261123-140200"}"#)
        let alert = try #require(b["alerts"]?.arrayValue?.first)
        #expect(alert["labels"]?["alertname"] == "fall" && alert["labels"]?["severity"] == "critical")
        #expect(alert["startsAt"] == "2026-11-23T14:03:00.125Z" && alert["endsAt"] == "0001-01-01T00:00:00Z")
        #expect(alert["fingerprint"] == "linda-20261123-140200/3")
        #expect(b["incident"]?["member"] == "anna")
        #expect(try json(r[1].body)["status"] == "resolved")
    }

    @Test func pushoverSendsEmergencyPriorityPollsTheReceiptAndCancelsOnAllClear() async throws {
        let acknowledged = SharedCounter()
        let server = TestHTTPServer { req in
            if req.path == "/1/messages.json" { return .init(200, #"{"status":1,"request":"q","receipt":"rcpt123"}"#) }
            if req.path.hasPrefix("/1/receipts/rcpt123.json") {
                return .init(200, acknowledged.value > 0 ? #"{"status":1,"acknowledged":1}"# : #"{"status":1,"acknowledged":0}"#)
            }
            return .init(200, #"{"status":1}"#)
        }
        let n = PushoverNotifier(name: "pushover", url: server.baseURL, token: Secret(Self.token), pollInterval: .seconds(1))
        _ = await n.deliver(sampleNotification(address: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"))
        let send = try #require(server.requests.first)
        #expect(send.method == "POST" && send.header("Content-Type") == "application/x-www-form-urlencoded")
        let form = Dictionary(uniqueKeysWithValues: send.body.split(separator: "&").map { p -> (String, String) in
            let kv = p.split(separator: "=", maxSplits: 1)
            return (String(kv[0]), String(kv[1]).removingPercentEncoding ?? "")
        })
        #expect(form["token"] == Self.token && form["user"] == "uQiRzpo4DXghDmr9QzzfQu27cmVRsG")
        #expect(form["priority"] == "2" && form["retry"] == "60" && form["expire"] == "3600")
        #expect(form["message"] == "Linda: Fall detected at 14:02 (hallway). Can you go?")

        let t0 = ContinuousClock.now
        #expect(await n.pollReceipts(now: t0).isEmpty)
        #expect(server.requests.last?.path == "/1/receipts/rcpt123.json?token=\(Self.token)")
        let polls = server.requests.count
        #expect(await n.pollReceipts(now: t0.advanced(by: .seconds(4))).isEmpty)
        #expect(server.requests.count == polls, "never polled more often than every 5 s")
        #expect(n.pendingReceipts == ["rcpt123"])

        _ = await n.deliver(sampleNotification(address: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", purpose: .allClear))
        #expect(server.requests.suffix(3).map(\.path) == ["/1/receipts/rcpt123/cancel.json",
                                                           "/1/receipts/cancel_by_tag/cm_linda_20261123_140200_anna.json", "/1/messages.json"])
        #expect(n.pendingReceipts.isEmpty)
        _ = acknowledged
    }

    @Test func pushoverAcknowledgedReceiptBecomesAClaim() async throws {
        let server = TestHTTPServer { req in
            req.path == "/1/messages.json" ? .init(200, #"{"status":1,"receipt":"r9"}"#) : .init(200, #"{"status":1,"acknowledged":1}"#)
        }
        let n = PushoverNotifier(name: "pushover", url: server.baseURL, token: Secret(Self.token))
        _ = await n.deliver(sampleNotification(address: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"))
        let acks = await n.pollReceipts()
        #expect(acks == [Ack(incident: "linda-20261123-140200", member: "anna", action: .claim, via: "pushover", proof: .channel)])
        #expect(n.pendingReceipts.isEmpty)
    }

    @Test func smsWritesAnSmstoolsSpoolFileAndRepliesBecomeAcks() async throws {
        let spool = temporaryDirectory("esc-sms")
        mkdir(spool + "/outgoing", 0o755)
        mkdir(spool + "/incoming", 0o755)
        let n = SMSNotifier(name: "sms", spool: spool)
        _ = await n.deliver(sampleNotification(address: "+44 7700 900123"))
        let file = spool + "/outgoing/caremonitord-linda-20261123-140200_3"
        #expect(try String(contentsOfFile: file, encoding: .utf8)
                == "To: 447700900123\n\nLinda: Fall detected at 14:02 (hallway). Can you go? Reply 1 if you are going, 2 if you can't.\n")
        try "From: 447700900123\nFrom_SMSC: 447785016005\nSent: 26-11-23 14:04:10\nReceived: 26-11-23 14:04:15\nSubject: GSM1\n\n1 15\n"
            .write(toFile: spool + "/incoming/GSM1.abc", atomically: true, encoding: .utf8)
        let replies = n.readReplies()
        #expect(replies.map(\.from) == ["447700900123"] && replies[0].text == "1 15")
        #expect(n.readReplies().isEmpty, "read replies are removed")
        #expect(SMSNotifier.action(fromReply: "1 15")! == (.claim, 15))
        #expect(SMSNotifier.action(fromReply: "2")! == (.decline, nil))
        #expect(SMSNotifier.action(fromReply: "what?") == nil)
    }

    @Test func smsReplyFromAMemberClaimsTheirOpenIncident() async throws {
        var c = Fixture.config
        c.notifiers["sms"] = SMSNotifier.Configuration(spool: "/nonexistent")
        c.members[0].contacts = [Contact(notifier: "sms", address: "+447700900123")]
        let clock = ManualClock(wall: Fixture.start)
        let engine = EscalationEngine(config: c, clock: clock, notifiers: ["mqtt": InMemoryNotifier()], stateDirectory: nil, bootID: "b")
        await engine.receive(Fixture.fall())
        clock.advance(by: .seconds(60))
        await engine.tick()
        let ack = await engine.receive(reply: "1 15", fromAddress: "447700900123", notifier: "sms")
        #expect(ack?.action == .claim && ack?.etaMinutes == 15 && ack?.member == "anna")
        #expect(await engine.openIncidents.first?.state == .claimed)
        #expect(await engine.receive(reply: "1", fromAddress: "447000000000", notifier: "sms") == nil)
    }

    @Test func commandGetsTheAlertJSONOnStdinAndTheKeyInItsEnvironment() async throws {
        let (dir, path) = try NotifierHarness.script("cat > $DIR/stdin; echo \"$CAREMONITORD_KEY $1\" > $DIR/env; exit 0\n")
        let n = CommandNotifier(name: "speaker", program: path, arguments: ["{member}"])
        let note = sampleNotification()
        #expect(await n.deliver(note) == .delivered(DeliveryReceipt(), attempts: 1))
        #expect(try JSONParser.parse(String(contentsOfFile: dir + "/stdin", encoding: .utf8)) == note.json)
        #expect(try String(contentsOfFile: dir + "/env", encoding: .utf8) == "linda-20261123-140200/3 anna\n")
    }

    @Test func commandOutputIsCappedAndAFailureQuotesItsStderr() async throws {
        let (_, path) = try NotifierHarness.script("cat >/dev/null; head -c 200000 /dev/zero | tr '\\\\0' x; echo 'quota exceeded' >&2; exit 3\n")
        let n = CommandNotifier(name: "c", program: path)
        guard case .failed(let e, let attempts) = await n.deliver(sampleNotification()) else { Issue.record("should fail"); return }
        #expect(attempts == 1 && e.disposition == .permanent && e.status == 3)
        #expect(e.message.hasSuffix("exited with 3: quota exceeded"))
        let r = try await ProgramRunner.run(path, arguments: [], environment: [:], input: [], timeout: .seconds(5), outputLimit: 1000)
        #expect(r.standardOutput.bytes.count == 1000 && r.standardOutput.truncated)
    }

    @Test func missingProgramIsAPermanentErrorNamingIt() async {
        let n = CommandNotifier(name: "c", program: "/nonexistent/notify")
        guard case .failed(let e, _) = await n.deliver(sampleNotification()) else { Issue.record("should fail"); return }
        #expect(e.disposition == .permanent)
        #expect(e.message.hasPrefix("cannot start '/nonexistent/notify'"))
    }

    @Test func emailIsAnRFC5322MessageWithTheKeyAsMessageIDInTheIncidentsThread() {
        let n = EmailNotifier(name: "email", from: "care@linda.example")
        let m = n.message(sampleNotification(address: "anna@example.org"))
        #expect(m.hasPrefix("From: care@linda.example\r\nTo: anna@example.org\r\nSubject: Linda: fall — can you go?\r\nMessage-ID: <linda-20261123-140200.3@caremonitord>\r\n"
                            + "Date: Mon, 23 Nov 2026 14:03:00 +0000\r\nIn-Reply-To: <linda-20261123-140200.1@caremonitord>\r\n"
                            + "References: <linda-20261123-140200.1@caremonitord>\r\nMIME-Version: 1.0\r\n"))
        #expect(m.hasSuffix("\r\n\r\nLinda: Fall detected at 14:02 (hallway). Can you go?\r\n"))
        var first = sampleNotification(address: "anna@example.org")
        first.key = "linda-20261123-140200/1"
        #expect(!n.message(first).contains("In-Reply-To") && !n.message(first).contains("References"))
    }

    @Test func mqttPublishesTheAlertJSONToTheContactsTopic() async {
        let p = FakePublisher(mode: .ok)
        let n = MQTTNotifier(name: "mqtt", publisher: p)
        _ = await n.deliver(sampleNotification(address: "caremonitord/{person}/tv"))
        #expect(p.published.first?.hasPrefix(#"caremonitord/linda/tv {"key":"linda-20261123-140200/3","incident":"linda-20261123-140200""#) == true)
        #expect(AckTopic.parse("caremonitord/linda/incidents/linda-20261123-140200/ack")! == ("linda", "linda-20261123-140200"))
        #expect(AckTopic.parse("caremonitord/linda/status") == nil)
        #expect(AckTopic.filter(person: "linda") == "caremonitord/linda/incidents/+/ack")
    }

    @Test func ackPayloadDecodingNamesWhatIsWrong() throws {
        #expect(try Ack.decode(incident: "i", payload: Array(#"{"member":"ben","action":"claim","eta":10}"#.utf8)).get()
                == Ack(incident: "i", member: "ben", action: .claim, etaMinutes: 10))
        guard case .failure(let e) = Ack.decode(incident: "i", payload: Array(#"{"member":"ben","action":"go"}"#.utf8)) else { Issue.record(); return }
        #expect(e.message.contains("claim, decline, arrived, resolve, cancel"))
    }

    @Test func redactionHidesURLCredentialsAndTokenParameters() {
        #expect(Redact.url("https://bob:pw@host/x?token=abc&room=1") == "https://<secret>@host/x?token=<secret>&room=1")
        #expect(Redact.text("failed with tk_1234 in it", secrets: [Secret("tk_1234")]) == "failed with <secret> in it")
        #expect("\(Secret("hunter2"))" == "<secret>" && String(reflecting: Secret("hunter2")) == "<secret>")
    }
}
