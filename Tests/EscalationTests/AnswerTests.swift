import CareSupport
@testable import Escalation
import Foundation
import Synchronization
import Testing

/// Only the member named can answer, and odd or hostile answers never crash the engine or make it lie.
@Suite("Answers: tokens, limits, wording")
struct AnswerTests {
    /// A live engine: answers must carry their page's token.
    struct Live {
        let key = AnswerKey.ephemeral()
        let setup: EngineTests.Setup
        var engine: EscalationEngine { setup.engine }
        var notifier: InMemoryNotifier { setup.notifier }
        var logs: LogRecorder { setup.logs }

        init(config: EscalationConfig = Fixture.config, notifiers: [String: any Notifier] = [:]) {
            setup = EngineTests.Setup(config: config, answers: .tokens(key), notifiers: notifiers)
        }

        /// Opens a fall and lets the self-check run out, so that Anna is paged.
        func annaPaged() async throws -> String {
            await engine.receive(Fixture.fall())
            await setup.advance(60)
            return try #require(await engine.openIncidents.first?.id)
        }
    }

    @Test func sha256AndHMACMatchTheirPublishedVectors() {
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash([]).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hash(twoBlocks).hex == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // RFC 4231, test cases 2 and 6 (a key longer than a block).
        #expect(HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)).hex
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMAC.sha256(key: [UInt8](repeating: 0xaa, count: 131),
                            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)).hex
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    /// Pages carry a token per member and incident; an answer with no token, another member's, or a made-up one
    /// is refused, counted and logged (without the token); the member's own is taken.
    @Test func onlyTheMembersOwnTokenAnswersForThem() async throws {
        let s = Live()
        let id = try await s.annaPaged()
        let pages = s.notifier.delivered.filter { $0.member == "anna" }
        let token = try #require(pages.first?.token)
        #expect(token == s.key.token(person: "linda", incident: id, member: "anna"))
        #expect(pages.first?.json["token"]?.stringValue == token)
        let tv = try #require(s.notifier.delivered.first { $0.member == "linda" }?.token)
        #expect(tv != token)

        await s.engine.receive(Ack(incident: id, member: "anna", action: .resolve))
        await s.engine.receive(Ack(incident: id, member: "anna", action: .resolve, proof: .token(tv)))
        await s.engine.receive(Ack(incident: id, member: "anna", action: .resolve, proof: .token(String(repeating: "0", count: 24))))
        await s.engine.receive(Ack(incident: id, member: "anna", action: .resolve,
                                   proof: .token(s.key.token(person: "linda", incident: "linda-other", member: "anna"))))
        #expect(await s.engine.refusedAnswers == 4)
        #expect(await s.engine.openIncidents.first?.state == .escalating)
        #expect(s.logs.entries.filter { $0.message.contains("refused") }.count == 4)
        #expect(!s.logs.entries.contains { $0.message.contains(token) || $0.message.contains(tv) })

        await s.engine.receive(Ack(incident: id, member: "anna", action: .claim, etaMinutes: 12, proof: .token(token)))
        #expect(await s.engine.openIncidents.first?.state == .claimed)
        #expect(await s.engine.refusedAnswers == 4)
    }

    /// The key is made once in the state directory (mode 0600) and read back the same, so tokens survive a restart.
    @Test func theAnswerKeyOutlivesARestart() throws {
        let dir = temporaryDirectory("answer-key")
        #expect(throws: AnswerKeyError.self) { try AnswerKey.load(stateDirectory: dir, create: false) }
        let made = try AnswerKey.load(stateDirectory: dir, create: true)
        let again = try AnswerKey.load(stateDirectory: dir, create: true)
        #expect(made.token(person: "linda", incident: "i", member: "anna") == again.token(person: "linda", incident: "i", member: "anna"))
        var st = stat()
        #expect(stat(AnswerKey.path(stateDirectory: dir), &st) == 0 && st.st_mode & 0o777 == 0o600)
        try Data("short".utf8).write(to: URL(fileURLWithPath: AnswerKey.path(stateDirectory: dir)))
        #expect(throws: AnswerKeyError.self) { try AnswerKey.load(stateDirectory: dir, create: true) }
    }

    /// Any number in an SMS reply: no crash, no ETA in the past or beyond a day (the claim takes the policy's
    /// default ETA instead).
    @Test(arguments: ["1 999999999999999999", "1 -30", "1 99999999999999999999999", "1 1440", "yes -1"])
    func anSMSReplyWithAnyNumberNeverCrashesOrClaimsInThePast(reply: String) async throws {
        var c = Fixture.config
        c.notifiers["sms"] = SMSNotifier.Configuration(spool: "/nonexistent")
        c.members[0].contacts = [Contact(notifier: "sms", address: "+447700900123", answers: .reply)]
        let s = Live(config: c)
        _ = try await s.annaPaged()
        let ack = await s.engine.receive(reply: reply, fromAddress: "447700900123", notifier: "sms")
        #expect(ack?.action == .claim && ack?.etaMinutes == nil)
        let inc = try #require(await s.engine.openIncidents.first)
        #expect(inc.state == .claimed)
        #expect(inc.responses["anna"]?.kind == .claimed(etaMinutes: inc.context.policy.defaultEtaMinutes))
    }

    @Test func ackPayloadLimitsHoldOnTheAckTopic() {
        for bad in [#"{"member":"anna","action":"claim","eta":-30}"#, #"{"member":"anna","action":"claim","eta":1e300}"#,
                    #"{"member":"anna","action":"claim","token":5}"#] {
            guard case .failure = Ack.decode(incident: "i", payload: Array(bad.utf8)) else {
                Issue.record("accepted \(bad)"); continue
            }
        }
        let ok = try? Ack.decode(incident: "i", payload: Array(#"{"member":"anna","action":"claim","eta":12,"token":"abc"}"#.utf8)).get()
        #expect(ok?.proof == .token("abc") && ok?.etaMinutes == 12)
        #expect(Ack(incident: "i", member: "m", action: .claim, etaMinutes: Int.max).etaMinutes == nil)
    }

    /// A hand-edited or damaged journal with absurd numbers is read without a crash.
    @Test func journalNumbersOutOfRangeAreSkippedNotTrapped() async throws {
        let dir = temporaryDirectory("journal-numbers")
        let s1 = EscalationEngine(config: Fixture.config, clock: ManualClock(wall: Fixture.start), notifiers: ["mqtt": InMemoryNotifier()],
                                  stateDirectory: dir, bootID: "b")
        _ = try await s1.recover()
        await s1.receive(Fixture.fall())
        await s1.waitForDeliveries()
        let path = dir + "/" + IncidentJournal.fileName(person: "linda")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let damaged = text.replacingOccurrences(of: #""mono":"#, with: #""mono":1e300,"was":"#)
            .replacingOccurrences(of: #""tier":"#, with: #""tier":-1e300,"was":"#)
        try damaged.write(toFile: path, atomically: true, encoding: .utf8)
        let s2 = EscalationEngine(config: Fixture.config, clock: ManualClock(wall: Fixture.start), notifiers: ["mqtt": InMemoryNotifier()],
                                  stateDirectory: dir, bootID: "b")
        _ = try await s2.recover()
    }

    @Test func aLogLineCannotBeForgedByAnAnswer() async throws {
        let s = Live()
        let id = try await s.annaPaged()
        await s.engine.receive(Ack(incident: id, member: "a\n<3>err: forged", action: .claim, via: "mqtt\r\u{1b}[2J"))
        let line = try #require(s.logs.entries.first { $0.message.contains("refused") }?.message)
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1b}"))
        #expect(line.contains(#"a\n<3>err: forged"#) && line.contains(#"mqtt\r\u{1b}[2J"#))
    }

    /// Members are told how to answer on the channel they were paged on: a channel nobody reads sends them to one
    /// of theirs that is read, or says that no answer is read.
    @Test func everyPageSaysTruthfullyHowToAnswer() {
        let email = Contact(notifier: "mail", address: "anna@example.org", answers: .none)
        let sms = Contact(notifier: "sms", address: "+447700900123", answers: .reply)
        let app = Contact(notifier: "tv", address: "phones/anna", answers: .buttons)
        let pushover = Contact(notifier: "pushover", address: "u123", answers: .acknowledge)
        func m(_ c: [Contact]) -> Member { Member(id: "anna", name: "Anna", role: .family, contacts: c) }
        #expect(Messages.howToAnswer(m([email, sms]), on: email, severity: .critical, purpose: .page)
                == "Answers to this message are not read: reply 1 (going) or 2 (can't) to the sms message instead.")
        #expect(Messages.howToAnswer(m([email]), on: email, severity: .critical, purpose: .page).contains("are not read: phone the others"))
        #expect(Messages.howToAnswer(m([app]), on: app, severity: .critical, purpose: .page) == "")
        #expect(Messages.howToAnswer(m([pushover]), on: pushover, severity: .critical, purpose: .page) == "Acknowledge this alert if you are going.")
        // A warning on Pushover is not an emergency: nothing to acknowledge there.
        #expect(Messages.howToAnswer(m([pushover, app]), on: pushover, severity: .warning, purpose: .page).contains("buttons in tv"))
        #expect(!Messages.testPage(Fixture.config.person).contains("reply 1"))
    }

    /// The words come from the kind's wording: the advice (do not go in) and the person's pronoun.
    @Test func smokePagesSayCallTheFireBrigadeAndDoNotGoIn() {
        var c = Fixture.config
        c.person.pronouns = .she
        let alert = Alert(person: "linda", kind: "smoke", severity: .critical, time: Fixture.start, device: "kitchen",
                          wording: KindWording(headline: "Smoke alarm", question: "Are you safe?",
                                               advice: "If you cannot reach {name} at once, call the fire brigade. Do not go in."))
        var h = Harness(config: c, alert: alert)
        h.run(for: 120)
        let page = h.pages(to: "anna").first?.text ?? ""
        #expect(page.contains("Smoke alarm at 14:02 (kitchen). If you cannot reach Linda at once, call the fire brigade. Do not go in."), "\(page)")
        let sos = Alert(person: "linda", kind: "sos", severity: .critical, time: Fixture.start,
                        wording: KindWording(headline: "{name} pressed {their} help button", question: "Do you need help?"))
        var h2 = Harness(config: c, alert: sos)
        h2.run(for: 120)
        #expect(h2.pages(to: "anna").first?.text.hasPrefix("Linda pressed her help button at 14:02.") == true, "\(h2.sends.map(\.text))")
        #expect(h2.pages(to: "anna").first?.title == "Linda pressed her help button — can you go?")
    }

    /// ntfy, end to end against a server that speaks its protocol: the page's button body carries Anna's token;
    /// pressing it publishes that body to the reply topic, the engine polls it and takes the claim. A POST to the
    /// reply topic by anyone else (no token) is refused and counted.
    @Test func anNtfyButtonAnswersOnlyWithTheTokenOfItsPage() async throws {
        let replies = Mutex<[String]>([])
        let server = TestHTTPServer { req in
            if req.method == "POST", req.path == "/linda-acks" {
                replies.withLock { $0.append(req.body) }
                return .init(200, #"{"id":"r"}"#)
            }
            if req.method == "GET", req.path.hasPrefix("/linda-acks/json?poll=1") {
                let lines = replies.withLock { list in
                    list.enumerated().map { JSONWriter.serialize(["id": .string("r\($0.offset)"), "event": "message",
                                                                  "topic": "linda-acks", "message": .string($0.element)]) }
                }
                return .init(200, lines.joined(separator: "\n") + "\n")
            }
            return .init(200, #"{"id":"p"}"#)
        }
        defer { server.stop() }
        var c = Fixture.config
        c.notifiers["push"] = NtfyNotifier.Configuration(url: server.baseURL, token: nil, replyTopic: "linda-acks", retry: RetryPolicy())
        c.members[0].contacts = [Contact(notifier: "push", address: "linda-care-anna", answers: .buttons)]
        let s = Live(config: c, notifiers: ["push": NtfyNotifier(name: "push", url: server.baseURL, replyTopic: "linda-acks", since: Fixture.start)])
        let id = try await s.annaPaged()
        let page = try #require(server.requests.first { $0.method == "POST" && $0.path == "/" && $0.body.contains("linda-care-anna") })
        let button = try #require(JSONParser.parse(page.body)["actions"]?.arrayValue?.first)
        #expect(button["label"] == "I'm going")
        // Someone who knows the reply topic posts a claim for Anna, then Anna presses her button.
        _ = try await curlPost(server.baseURL + "/linda-acks", #"{"incident":"\#(id)","member":"anna","action":"claim"}"#)
        _ = try await curlPost(try #require(button["url"]?.stringValue), try #require(button["body"]?.stringValue))
        await s.engine.pollNotifiers()
        #expect(await s.engine.refusedAnswers == 1)
        #expect(await s.engine.openIncidents.first?.state == .claimed)
        #expect(await s.engine.openIncidents.first?.responses["anna"] != nil)
    }

    func curlPost(_ url: String, _ body: String) async throws -> Int32 {
        let r = try ChildProcess.run(executable: "/usr/bin/env", arguments: ["curl", "-sS", "-o", "/dev/null", "-X", "POST", "--data-binary", body, url],
                                     outputLimit: 1 << 16, timeout: .seconds(10))
        return r.status == .exited(0) ? 0 : 1
    }

    /// Every tier paged, every re-page run out, nobody going: the last step keeps acting, paging everyone and the
    /// monitoring centre again every ackTimeoutSeconds until someone answers, and says so as a warning.
    @Test func whenEveryTierIsExhaustedEveryoneIsPagedAgainUntilSomeoneAnswers() {
        var h = Harness()
        h.run(for: 60 + 600 + 2 * 120 + 5)   // self-check, the three tiers, their re-pages
        let warning = h.actions.first { if case .log(.warning, let m) = $0 { m.contains("nobody is going") } else { false } }
        #expect(warning != nil, "\(h.logs)")
        let before = h.pages(to: "anna").count
        let centreBefore = h.pages(to: "centre").count
        h.run(for: 3 * 120)
        #expect(h.pages(to: "anna").count >= before + 2, "Anna not paged again: \(h.pages(to: "anna").map(\.time))")
        #expect(h.pages(to: "centre").count >= centreBefore + 2)
        #expect(h.pages(to: "dave").isEmpty, "Dave withdrew consent")
        h.ack("ben", .claim, eta: 10)
        let after = h.sends.count
        h.run(for: 5 * 120)
        #expect(!h.sends.dropFirst(after).contains { $0.purpose == .page }, "paging went on after Ben claimed")
    }
}
