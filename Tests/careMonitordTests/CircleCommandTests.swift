import CareSupport
import Escalation
import Foundation
import Testing
import TestSupport

func circleConfig(port: Int) -> String {
    """
    {"person": {"id": "linda", "name": "Linda", "timezone": "Europe/London",
                "contacts": [{"notifier": "tv", "address": "caremonitord/linda/tv"}]},
     "broker": {"host": "127.0.0.1", "port": \(port)},
     "sources": [{"preset": "zigbee2mqtt"}],
     "notifiers": {"tv": {"kind": "mqtt"}, "phones": {"kind": "mqtt"}},
     "circle": {"members": [
       {"id": "anna", "name": "Anna", "role": "family", "relationship": "daughter", "consent": true,
        "contacts": [{"notifier": "phones", "address": "phones/anna"}]},
       {"id": "ben", "name": "Ben", "role": "neighbour", "consent": true,
        "contacts": [{"notifier": "phones", "address": "phones/ben"}]},
       {"id": "dan", "name": "Dan", "role": "volunteer", "consent": false,
        "contacts": [{"notifier": "phones", "address": "phones/dan"}]}]},
     "policies": [{"kind": "fall", "selfCancelSeconds": 60,
                   "tiers": [{"members": ["anna"], "after": 0}, {"members": ["ben"], "after": 300}]}]}
    """
}

@Suite("Circle commands")
struct CircleCommandTests {
    /// test-alert pages Anna on her real notifier (MQTT here); forged answers (no token, Ben's token, a made-up
    /// one) are refused; she answers with `careMonitord ack`, which derives her token from the state directory's
    /// key as the TV app copies it from the page; test-alert sees the answer and exits 0.
    @Test func testAlertIsAnsweredThroughTheAckTopicOnlyWithTheMembersToken() async throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        let state = dir.appendingPathComponent("state").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let config = try CLI.write(circleConfig(port: broker.port), "c.json", in: dir)
        let phone = try broker.subscribe("phones/anna", qos: 1)
        defer { phone.stop() }
        try await phone.waitUntilSubscribed()
        let errFile = dir.appendingPathComponent("test-alert.err").path
        let testAlert = try ChildProcess.spawn(executable: CLI.executable,
                                               arguments: ["test-alert", "--config", config, "--member", "anna", "--timeout", "30",
                                                           "--state-dir", state],
                                               stdout: .null, stderr: .file(errFile))
        let page = try #require(await phone.waitForMessage(timeout: .seconds(20)) { $0.topic == "phones/anna" }, "no page reached Anna's phone")
        let sent = try #require(try JSONParser.parse(page.payload).objectValue)
        #expect(sent["purpose"] == "test")
        #expect(sent["text"]?.stringValue?.contains("TEST ONLY") == true)
        let id = try #require(sent["incident"]?.stringValue)
        let token = try #require(sent["token"]?.stringValue, "the page carries no answer token")
        let key = try AnswerKey.load(stateDirectory: state, create: false)
        #expect(token == key.token(person: "linda", incident: id, member: "anna"))
        let topic = AckTopic.topic(person: "linda", incident: id)
        for forged in [#"{"member":"anna","action":"claim"}"#,
                       #"{"member":"anna","action":"claim","token":"\#(key.token(person: "linda", incident: id, member: "ben"))"}"#,
                       #"{"member":"anna","action":"claim","token":"000000000000000000000000"}"#] {
            try broker.publish(topic: topic, message: forged, qos: 1)
        }
        try await Task.sleep(for: .seconds(1.5))
        #expect(testAlert.exitStatus == nil, "test-alert finished on a forged answer: \((try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "")")
        let ack = try CLI.run(["ack", "--config", config, "--incident", id, "--member", "anna", "--action", "claim", "--state-dir", state])
        #expect(ack.code == 0, "\(ack.stderr)")
        let status = try #require(testAlert.wait(timeout: .seconds(30)), "test-alert did not finish")
        let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        #expect(status == .exited(0), "\(err)")
        #expect(err.contains("anna answered"))
    }

    /// A member who withdrew consent is not paged, the person's own channel can be tested, and a timeout that is
    /// not a sane number of seconds is a usage error.
    @Test func testAlertHonoursConsentTestsThePersonsTVAndChecksItsTimeout() async throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(circleConfig(port: broker.port), "c.json", in: dir)
        let watch = try broker.subscribe("#", qos: 1)
        defer { watch.stop() }
        try await watch.waitUntilSubscribed()
        let dan = try CLI.run(["test-alert", "--config", config, "--member", "dan", "--timeout", "1"])
        #expect(dan.code == 78, "\(dan.stderr)")
        #expect(dan.stderr.contains("consent"))
        for bad in ["nan", "inf", "1e300", "-5", "0"] {
            let r = try CLI.run(["test-alert", "--config", config, "--member", "anna", "--timeout", bad])
            #expect(r.code == 64, "--timeout \(bad): \(r.code) \(r.stderr)")
        }
        let tv = try CLI.run(["test-alert", "--config", config, "--member", "linda", "--timeout", "1"])
        #expect(tv.code == 75, "\(tv.stderr)")
        let tvPage = await watch.waitForMessage(timeout: .seconds(5)) { $0.topic == "caremonitord/linda/tv" }
        #expect(tvPage?.payload.contains("TEST ONLY") == true, "no test page on Linda's TV")
        #expect(!watch.messages.contains { $0.topic == "phones/dan" }, "Dan was paged without consent")
    }

    @Test func testAlertExitsSeventyFiveWhenNobodyAnswers() throws {
        let broker = try TestBroker()
        defer { broker.stop() }
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(circleConfig(port: broker.port), "c.json", in: dir)
        let r = try CLI.run(["test-alert", "--config", config, "--member", "ben", "--timeout", "1"])
        #expect(r.code == 75)
        #expect(r.stderr.contains("no answer from ben"))
    }

    /// An incident driven through a journal shows up in `incidents` with its response times, in `disclosures`
    /// (who was told what), and is gone after `forget`.
    @Test func journalCommandsShowResponseTimesAndDisclosuresAndForget() async throws {
        let dir = try CLI.temporaryDirectory()
        let state = dir.appendingPathComponent("state").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let configPath = try CLI.write(circleConfig(port: 1883), "c.json", in: dir)
        let id = try await Self.journalOneAnsweredFall(config: configPath, state: state)
        let r = try CLI.run(["incidents", "--config", configPath, "--state-dir", state, "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let report = try #require(try JSONParser.parse(String(r.stdout.split(separator: "\n").first ?? "")).objectValue)
        #expect(report["incident"] == .string(id))
        #expect(report["state"] == "resolved")
        #expect(report["firstAckSeconds"] == 30)
        #expect(report["answeredWithinTarget"] == true)
        #expect(report["arrivalSeconds"] == 1290)
        #expect(report["attendedWithinTarget"] == true)
        let d = try CLI.run(["disclosures", "--config", configPath, "--state-dir", state])
        #expect(d.code == 0)
        #expect(d.stdout.contains("to Anna (anna) by phones"))
        #expect(d.stdout.contains("to you by tv"))
        let f = try CLI.run(["forget", "--config", configPath, "--state-dir", state, "--before", "2030-01-01"])
        #expect(f.code == 0, "\(f.stderr)")
        let after = try CLI.run(["incidents", "--config", configPath, "--state-dir", state, "--json"])
        #expect(after.stdout.isEmpty, "forgotten incidents still listed: \(after.stdout)")
    }

    /// A fall at Linda's journaled by an engine: Anna paged at +60 s, claims 30 s later (ETA 20), arrives at +21.5 min
    /// and resolves 10 min after. Returns the incident id.
    @discardableResult
    static func journalOneAnsweredFall(config configPath: String, state: String) async throws -> String {
        let root = try JSONParser.parse(String(contentsOfFile: configPath, encoding: .utf8))
        var own = JSONObject()
        for k in ["person", "circle", "policies", "notifiers"] { own[k] = root[k] }
        let esc = try EscalationConfig.decode(.object(own)).get()
        let start = 1_795_442_523.125
        let clock = ManualClock(wall: start)
        struct Quiet: Notifier {
            let name: String
            var retry: RetryPolicy { RetryPolicy(attempts: 1) }
            func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt { DeliveryReceipt() }
        }
        let engine = EscalationEngine(config: esc, clock: clock, notifiers: ["tv": Quiet(name: "tv"), "phones": Quiet(name: "phones")],
                                      stateDirectory: state)
        await engine.receive(Alert(person: "linda", kind: "fall", severity: .critical,
                                   time: WallTime(milliseconds: Int64(start * 1000)), device: "hallway"))
        await engine.waitForDeliveries()
        clock.advance(by: 60); await engine.tick(); await engine.waitForDeliveries()        // Anna paged at +60 s
        let id = try #require(await engine.openIncidents.first?.id)
        clock.advance(by: 30); await engine.receive(Ack(incident: id, member: "anna", action: .claim, etaMinutes: 20))
        await engine.waitForDeliveries()
        clock.advance(by: 1200); await engine.receive(Ack(incident: id, member: "anna", action: .arrived))
        await engine.waitForDeliveries()
        clock.advance(by: 600); await engine.receive(Ack(incident: id, member: "anna", action: .resolve))
        await engine.waitForDeliveries()

        return id
    }
}
