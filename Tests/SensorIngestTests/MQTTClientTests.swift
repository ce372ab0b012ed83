import CareSupport
import Foundation
@testable import SensorIngest
import Synchronization
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Broker-backed tests: each starts its own real mosquitto on a free loopback port. Waits poll with generous
// deadlines; nothing here asserts on how fast anything is.

private let wait: Duration = .seconds(15)

/// A client with a recording logger and message recorder, stopped at the end of the test.
private struct Harness {
    let client: MQTTClient
    let log = LogRecorder()
    let messages = MQTTMessageRecorder()

    init(_ configuration: MQTTConfiguration) throws {
        let log = self.log
        let messages = self.messages
        client = try MQTTClient(configuration: configuration, logger: log.logger(label: "mqtt"), onMessage: messages.handler)
    }

    func lines(atLeast level: LogLevel) -> [String] {
        log.entries.filter { $0.level >= level }.map(\.message)
    }

    var allLines: String { log.entries.map { "\($0.level): \($0.message)" }.joined(separator: "\n") }
}

@Suite struct MQTTClientTests {
    @Test func connectsSubscribesAndReceivesAMessage() async throws {
        let broker = try TestBroker()
        var config = broker.clientConfiguration(personID: "p-basic")
        config.subscriptions = [MQTTSubscription("home/+/temperature")]
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }

        let rejected = try await h.client.waitUntilSubscribed(timeout: wait)
        #expect(rejected.isEmpty)
        try broker.publish(topic: "home/kitchen/temperature", message: "21.5")
        let message = await h.messages.waitForMessage(timeout: wait) { $0.topic == "home/kitchen/temperature" }
        #expect(message?.text == "21.5")
        #expect(message?.retain == false)
        let status = h.client.status
        #expect(status.isConnected && status.isSubscribed)
        #expect(status.connects == 1)
        #expect(status.messagesReceived >= 1)
        #expect(h.lines(atLeast: .warning).isEmpty, "unexpected faults:\n\(h.allLines)")
    }

    @Test func subscriptionsSurviveABrokerRestart() async throws {
        let broker = try TestBroker()
        var config = broker.clientConfiguration(personID: "p-restart")
        config.subscriptions = [MQTTSubscription("home/#", qos: .atLeastOnce)]
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)

        try broker.restart()  // same port; subscriptions and retained messages are gone on the broker side
        #expect(await eventually(timeout: wait) { h.client.status.connects >= 2 && h.client.status.isSubscribed },
                "did not reconnect and resubscribe:\n\(h.allLines)")
        try broker.publish(topic: "home/hall/motion", message: "true")
        let message = await h.messages.waitForMessage(timeout: wait) { $0.topic == "home/hall/motion" }
        #expect(message?.text == "true")
        let status = h.client.status
        #expect(status.disconnects >= 1)
        #expect(status.lastFault?.code == .connectionLost || status.lastFault?.code == .unreachable)
        #expect(h.lines(atLeast: .warning).contains { $0.contains(broker.port.description) },
                "the lost connection was not logged as a warning:\n\(h.allLines)")
        #expect(h.log.entries.contains { $0.level == .notice && $0.message.contains("reconnected") })
    }

    /// An alarm counts as delivered only once the broker acknowledged it; while the broker is away nothing is
    /// queued, so that a caller retrying meanwhile does not leave a pile of copies to go out on reconnect.
    @Test func aConfirmedPublishWaitsForThePubackAndQueuesNothingWhileDisconnected() async throws {
        let broker = try TestBroker()
        let phone = try broker.subscribe("phones/anna", qos: 1)
        defer { phone.stop() }
        try await phone.waitUntilSubscribed()
        var config = broker.clientConfiguration(personID: "p-puback")
        config.reconnectDelay = .seconds(3)  // so that the test's subscriber is back before the client is
        config.reconnectDelayMaximum = .seconds(3)
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        try await h.client.publishConfirmed(topic: "phones/anna", payload: Array("page 1".utf8), timeout: .seconds(5))
        #expect(await phone.waitForMessage(timeout: wait) { $0.payload == "page 1" } != nil)

        broker.stop()
        #expect(await eventually(timeout: wait) { !h.client.status.isConnected })
        for _ in 0..<3 {
            do {
                try await h.client.publishConfirmed(topic: "phones/anna", payload: Array("page 2".utf8), timeout: .seconds(1))
                Issue.record("a publish without a broker was confirmed")
            } catch {
                #expect(error.code == .notConnected)
            }
        }
        try broker.start()
        let resubscribed = try broker.subscribe("phones/anna", qos: 1)
        defer { resubscribed.stop() }
        try await resubscribed.waitUntilSubscribed()
        #expect(!h.client.status.isConnected, "the client reconnected before the test's subscriber: the check below proves nothing")
        #expect(await eventually(timeout: wait) { h.client.status.isConnected && h.client.status.isSubscribed })
        try await h.client.publishConfirmed(topic: "phones/anna", payload: Array("page 3".utf8), timeout: .seconds(5))
        #expect(await resubscribed.waitForMessage(timeout: wait) { $0.payload == "page 3" } != nil)
        #expect(!resubscribed.messages.contains { $0.payload == "page 2" }, "copies queued while disconnected went out")
    }

    @Test func lastWillSaysOfflineWhenTheConnectionDiesAndOnlineReturnsAfterReconnect() async throws {
        let broker = try TestBroker()
        let watcher = try broker.subscribe("caremonitord/p-will/status")
        try await watcher.waitUntilSubscribed()
        let h = try Harness(broker.clientConfiguration(personID: "p-will"))
        try h.client.start()
        defer { h.client.stop() }

        #expect(await watcher.waitForMessage(timeout: wait) { $0.payload == "online" } != nil, "\(watcher.output)")
        // The socket closes without DISCONNECT, as when the daemon is killed or the network drops.
        h.client.simulateConnectionDropForTesting()
        #expect(await watcher.waitForMessage(timeout: wait) { $0.payload == "offline" } != nil,
                "the broker did not publish the will:\n\(watcher.output)\n\(broker.log)")
        // The client reconnects and says online again.
        #expect(await eventually(timeout: wait) { watcher.messages.map(\.payload) == ["online", "offline", "online"] },
                "\(watcher.messages)")
        #expect(watcher.messages.allSatisfy { $0.qos == 1 })
    }

    @Test func cleanStopLeavesARetainedOffline() async throws {
        let broker = try TestBroker()
        let h = try Harness(broker.clientConfiguration(personID: "p-stop"))
        try h.client.start()
        try await h.client.waitUntilSubscribed(timeout: wait)  // no subscriptions: connected is enough
        h.client.stop()
        h.client.stop()  // idempotent
        #expect(h.client.status.phase == .stopped)
        #expect(throws: MQTTError.self) { try h.client.start() }

        let late = try broker.subscribe("caremonitord/p-stop/status")
        let status = await late.waitForMessage(timeout: wait) { _ in true }
        #expect(status?.payload == "offline")
        #expect(status?.retained == true)
    }

    @Test func clientPublishesThroughTheBroker() async throws {
        let broker = try TestBroker()
        let watcher = try broker.subscribe("caremonitord/p-pub/test")
        try await watcher.waitUntilSubscribed()
        let h = try Harness(broker.clientConfiguration(personID: "p-pub"))
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        try h.client.publish(topic: "caremonitord/p-pub/test", payload: "hello from the gateway", qos: .atLeastOnce)
        let message = await watcher.waitForMessage(timeout: wait) { $0.topic == "caremonitord/p-pub/test" }
        #expect(message?.payload == "hello from the gateway")
    }

    @Test func qos1SubscriptionReceivesAtQoS1() async throws {
        let broker = try TestBroker()
        var config = broker.clientConfiguration(personID: "p-qos")
        config.subscriptions = [MQTTSubscription("alarm/#", qos: .atLeastOnce), MQTTSubscription("telemetry/#")]
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        try broker.publish(topic: "alarm/fall", message: "{\"fall\":true}", qos: 1)
        try broker.publish(topic: "telemetry/x", message: "1", qos: 1)
        let alarm = await h.messages.waitForMessage(timeout: wait) { $0.topic == "alarm/fall" }
        let telemetry = await h.messages.waitForMessage(timeout: wait) { $0.topic == "telemetry/x" }
        #expect(alarm?.qos == .atLeastOnce)
        #expect(alarm?.text == "{\"fall\":true}")
        #expect(telemetry?.qos == .atMostOnce, "a QoS 0 subscription downgrades delivery")
    }

    @Test func mqtt5ConnectsSubscribesAndReceives() async throws {
        let broker = try TestBroker()
        var config = broker.clientConfiguration(personID: "p-v5")
        config.protocolVersion = .v5
        config.subscriptions = [MQTTSubscription("v5/#", qos: .atLeastOnce)]
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        try broker.publish(topic: "v5/door", message: "open", qos: 1)
        #expect(await h.messages.waitForMessage(timeout: wait) { $0.topic == "v5/door" }?.text == "open")
        #expect(h.log.entries.contains { $0.message.contains("MQTT 5") })
    }

    @Test func addedSubscriptionIsMadeAtOnceAndConfirmed() async throws {
        let broker = try TestBroker()
        let h = try Harness(broker.clientConfiguration(personID: "p-add"))
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        try h.client.subscribe(MQTTSubscription("late/#"))
        try await h.client.waitUntilSubscribed(timeout: wait)
        // Confirmed means the broker has it: a message published now arrives.
        try broker.publish(topic: "late/one", message: "1")
        #expect(await h.messages.waitForMessage(timeout: wait) { $0.topic == "late/one" } != nil)
        #expect(throws: MQTTError.self) { try h.client.subscribe(MQTTSubscription("bad/#/filter")) }
    }

    // MARK: TLS

    @Test func tlsWithTheBrokersCAConnects() async throws {
        let broker = try TestBroker(.init(tls: .server))
        var config = broker.clientConfiguration(personID: "p-tls")
        config.subscriptions = [MQTTSubscription("secure/#")]
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        try broker.publish(topic: "secure/x", message: "tls ok")
        #expect(await h.messages.waitForMessage(timeout: wait) { $0.topic == "secure/x" }?.text == "tls ok")
        #expect(h.log.entries.contains { $0.message.contains("TLS") && $0.level == .info })
    }

    @Test func tlsWithAWrongCAFailsLoudlyAndNeverConnects() async throws {
        let broker = try TestBroker(.init(tls: .server))
        var config = broker.clientConfiguration(personID: "p-badca")
        config.tls?.caFile = try #require(broker.otherCAFile)
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }

        #expect(await eventually(timeout: wait) { h.client.status.lastFault?.code == .tls }, "\(h.allLines)")
        #expect(h.client.status.connects == 0)
        let errors = h.lines(atLeast: .error)
        #expect(errors.contains { $0.contains("TLS") && $0.contains(broker.otherCAFile!) && $0.contains(broker.port.description) },
                "no actionable TLS error:\n\(h.allLines)")
        // libmosquitto's own OpenSSL reason reaches the log too.
        #expect(errors.contains { $0.contains("libmosquitto") && $0.contains("certificate verify failed") }, "\(h.allLines)")
        await #expect(throws: MQTTError.self) { try await h.client.waitUntilSubscribed(timeout: .milliseconds(300)) }
        // Retries repeat the same OpenSSL error: shown once at error level, then at debug.
        #expect(await eventually(timeout: wait) { h.client.status.connectAttempts >= 3 })
        #expect(h.lines(atLeast: .error).filter { $0.contains("certificate verify failed") }.count == 1, "\(h.allLines)")
        #expect(h.lines(atLeast: .error).filter { $0.contains("TLS with the MQTT broker") }.count == 1, "\(h.allLines)")
    }

    @Test func mutualTLSWithAClientCertificateConnects() async throws {
        let broker = try TestBroker(.init(tls: .mutual))
        let h = try Harness(broker.clientConfiguration(personID: "p-mtls"))
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        #expect(h.client.status.connects == 1)
    }

    // MARK: Authentication

    @Test func rightPasswordFromAFileConnects() async throws {
        let broker = try TestBroker(.init(users: ["care": "correct-horse-42"]))
        let passwordFile = broker.directory + "/client-password"
        try "correct-horse-42\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        var config = broker.clientConfiguration(personID: "p-auth")
        config.credentials = MQTTCredentials(username: "care", password: try Secret(contentsOfFile: passwordFile))
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        try await h.client.waitUntilSubscribed(timeout: wait)
        #expect(h.client.status.connects == 1)
        #expect(!h.log.entries.contains { $0.message.contains("correct-horse-42") })
    }

    @Test(arguments: [MQTTProtocolVersion.v311, .v5])
    func wrongPasswordIsAnErrorNamingThePasswordFileButNeverThePassword(version: MQTTProtocolVersion) async throws {
        let broker = try TestBroker(.init(users: ["care": "correct-horse-42"]))
        let passwordFile = broker.directory + "/client-password"
        try "wrong-staple-9876\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        var config = broker.clientConfiguration(personID: "p-badpw")
        config.protocolVersion = version
        config.credentials = MQTTCredentials(username: "care", password: try Secret(contentsOfFile: passwordFile))
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }

        #expect(await eventually(timeout: wait) { h.client.status.lastFault?.code == .refused }, "\(h.allLines)")
        #expect(h.client.status.connects == 0)
        let errors = h.lines(atLeast: .error)
        #expect(errors.contains { $0.contains("refused the connection") && $0.contains(passwordFile) && $0.contains("'care'") },
                "no actionable refusal:\n\(h.allLines)")
        // Every line at every level, and the fault itself: never the password.
        #expect(!h.log.entries.contains { $0.message.contains("wrong-staple-9876") })
        #expect(h.client.status.lastFault.map { !"\($0)".contains("wrong-staple-9876") } == true)
        // Logged once at error level even though the client keeps retrying.
        #expect(await eventually(timeout: wait) { h.client.status.connectAttempts >= 3 })
        #expect(errors.filter { $0.contains("refused the connection") }.count == 1, "\(h.allLines)")
    }

    // MARK: Supervision

    @Test func missingCONNACKIsAFaultAndTheConnectionIsMadeAgain() async throws {
        let silent = try SilentListener()  // accepts TCP (in the kernel backlog) but never answers
        var config = MQTTConfiguration(personID: "p-noack")
        config.port = silent.port
        config.connackTimeout = .milliseconds(500)
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        #expect(await eventually(timeout: wait) {
            h.client.status.lastFault?.code == .connackTimeout && h.client.status.connectAttempts >= 2
        }, "\(h.allLines)")
        #expect(h.lines(atLeast: .warning).contains { $0.contains("no CONNACK") && $0.contains(String(silent.port)) }, "\(h.allLines)")
    }

    @Test func unreachableBrokerIsOneWarningThenQuietRetries() async throws {
        let port = try TestBroker.freeLoopbackPort()  // nothing listens there
        var config = MQTTConfiguration(personID: "p-down")
        config.port = port
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop() }
        #expect(await eventually(timeout: wait) { h.client.status.connectAttempts >= 3 }, "\(h.allLines)")
        let warnings = h.lines(atLeast: .warning)
        #expect(warnings.count == 1, "repeats of the same fault must not flood the log:\n\(h.allLines)")
        #expect(warnings.first?.contains("cannot connect to the MQTT broker at 127.0.0.1:\(port)") == true, "\(h.allLines)")
        #expect(h.client.status.lastFault?.code == .unreachable)
    }

    @Test func refusedSubscriptionIsAnErrorAndReported() async throws {
        let fake = try ScriptedBroker(subackCode: 0x80)
        var config = MQTTConfiguration(personID: "p-denied")
        config.port = fake.port
        let denied = MQTTSubscription("forbidden/#", qos: .atLeastOnce)
        config.subscriptions = [denied]
        let h = try Harness(config)
        try h.client.start()
        defer { h.client.stop(); fake.stop() }
        let rejected = try await h.client.waitUntilSubscribed(timeout: wait)
        #expect(rejected == [denied])
        #expect(h.client.status.rejectedSubscriptions == [denied])
        #expect(h.client.status.lastFault?.code == .subscriptionRejected)
        #expect(h.lines(atLeast: .error).contains { $0.contains("forbidden/#") && $0.contains("0x80") }, "\(h.allLines)")
    }

    @Test func invalidConfigurationListsEveryProblem() {
        var config = MQTTConfiguration(personID: "a/b")
        config.port = 0
        config.subscriptions = [MQTTSubscription("ok/+"), MQTTSubscription("bad/#/filter")]
        config.tls = MQTTTLSConfiguration(caFile: "/nonexistent/ca.crt", certificateFile: "/nonexistent/c.crt")
        config.reconnectDelayMaximum = .milliseconds(100)
        #expect {
            _ = try MQTTClient(configuration: config, logger: .silent, onMessage: { _ in })
        } throws: { error in
            guard let e = error as? MQTTError, e.code == .invalidConfiguration else { return false }
            return ["personID", "port 0", "subscriptions[1]", "tls.caFile '/nonexistent/ca.crt'", "tls.keyFile",
                    "reconnectDelayMaximum"].allSatisfy { e.message.contains($0) } && !e.message.contains("subscriptions[0]")
        }
    }

    @Test func droppingTheLastReferenceStopsTheClient() async throws {
        let broker = try TestBroker()
        let watcher = try broker.subscribe("caremonitord/p-drop/status")
        try await watcher.waitUntilSubscribed()
        do {
            let h = try Harness(broker.clientConfiguration(personID: "p-drop"))
            try h.client.start()
            try await h.client.waitUntilSubscribed(timeout: wait)
        }  // no stop(): deinit must disconnect cleanly
        #expect(await eventually(timeout: wait) { watcher.messages.map(\.payload) == ["online", "offline"] }, "\(watcher.messages)")
    }
}

/// The state machine alone: tables of events and what they should do.
@Suite struct MQTTSessionStateTests {
    private func at(_ seconds: Double) -> MonotonicInstant { MonotonicInstant(nanoseconds: Int64(seconds * 1e9)) }
    private let lost = MQTTError(code: .connectionLost, message: "lost")
    private func machine(_ subscriptions: [MQTTSubscription] = []) -> MQTTSessionState {
        MQTTSessionState(subscriptions: subscriptions, initialDelay: .milliseconds(500), maximumDelay: .seconds(4),
                         connackTimeout: .seconds(10), faultRepeatInterval: .seconds(60))
    }

    @Test func backoffDoublesFromHalfASecondToTheCeilingAndResetsOnCONNACK() {
        var s = machine()
        var delays: [Duration] = []
        for i in 0..<6 {
            s.attemptStarted(at: at(Double(i)))
            delays.append(s.connectionEnded(fault: lost, at: at(Double(i))))
        }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)])
        #expect(s.failedAttempts == 6)
        s.attemptStarted(at: at(10))
        #expect(s.connackReceived(code: 0, at: at(10)) == .sessionUp(subscribe: [], reconnected: false, failedAttempts: 6))
        #expect(s.connectionEnded(fault: lost, at: at(20)) == .milliseconds(500))
        #expect(s.disconnects == 1)
    }

    @Test func connackWatchdogFiresOnlyWhileWaitingPastTheTimeout() {
        var s = machine()
        #expect(!s.connackOverdue(at: at(100)), "idle is not overdue")
        s.attemptStarted(at: at(0))
        #expect(!s.connackOverdue(at: at(9.9)))
        #expect(s.connackOverdue(at: at(10)))
        _ = s.connackReceived(code: 0, at: at(10.5))
        #expect(!s.connackOverdue(at: at(100)), "connected is not overdue")
    }

    @Test func refusedCONNACKIsRememberedAndDoesNotConnect() {
        var s = machine()
        s.attemptStarted(at: at(0))
        #expect(s.connackReceived(code: 5, at: at(0.1)) == .refused(code: 5))
        #expect(s.refusalCode == 5)
        #expect(!s.isConnected)
        _ = s.connectionEnded(fault: lost, at: at(0.2))
        s.attemptStarted(at: at(1))
        #expect(s.refusalCode == nil, "each attempt starts without a refusal")
        #expect(s.disconnects == 0, "a refused attempt was never connected")
    }

    @Test func subscribedOnlyWhenEverySUBACKHasArrivedAndFailuresAreReported() {
        let a = MQTTSubscription("a/#"), b = MQTTSubscription("b/#", qos: .atLeastOnce)
        var s = machine([a, b])
        s.attemptStarted(at: at(0))
        #expect(s.connackReceived(code: 0, at: at(0)) == .sessionUp(subscribe: [0, 1], reconnected: false, failedAttempts: 0))
        #expect(!s.isSubscribed)
        #expect(s.subscribeSent(mid: 1, indices: [0]) == .init())
        #expect(s.subscribeSent(mid: 2, indices: [1]) == .init())
        #expect(s.subackReceived(mid: 1, granted: [0]) == .init())
        #expect(!s.isSubscribed)
        let outcome = s.subackReceived(mid: 2, granted: [0x80])
        #expect(outcome.becameSubscribed)
        #expect(outcome.rejected.map(\.subscription) == [b])
        #expect(s.isSubscribed)
        #expect(s.rejected == [b])
        // A reconnect starts over: nothing confirmed until the new SUBACKs.
        _ = s.connectionEnded(fault: lost, at: at(1))
        #expect(!s.isSubscribed)
        s.attemptStarted(at: at(2))
        #expect(s.connackReceived(code: 0, at: at(2)) == .sessionUp(subscribe: [0, 1], reconnected: true, failedAttempts: 1))
        #expect(s.rejected.isEmpty)
    }

    @Test func subackArrivingBeforeItsMessageIdIsRecordedStillCounts() {
        var s = machine([MQTTSubscription("a/#")])
        s.attemptStarted(at: at(0))
        _ = s.connackReceived(code: 0, at: at(0))
        _ = s.subscribeSent(mid: 1, indices: [0])
        _ = s.subackReceived(mid: 1, granted: [0])
        #expect(s.isSubscribed)
        let added = s.subscriptionAdded(MQTTSubscription("late/#"))
        #expect(added == (index: 1, sendNow: true))
        #expect(!s.isSubscribed, "an added subscription is unconfirmed until its SUBACK")
        #expect(s.subackReceived(mid: 7, granted: [1]) == .init(), "unknown mid: kept for later")
        #expect(s.subscribeSent(mid: 7, indices: [1]).becameSubscribed)
        #expect(s.isSubscribed)
    }

    @Test func sameFaultIsReportedOncePerIntervalButANewFaultAtOnce() {
        var s = machine()
        let refused = MQTTError(code: .refused, message: "refused")
        let table: [(MQTTError, Double, Bool)] = [
            (lost, 0, true), (lost, 1, false), (lost, 59, false), (refused, 60, true), (lost, 61, true), (lost, 130, true),
        ]
        for (fault, time, expected) in table {
            #expect(s.shouldReport(fault, at: at(time)) == expected, "\(fault.message) at \(time) s")
        }
    }

    @Test func addingASubscriptionWhileDisconnectedWaitsForTheNextConnect() {
        var s = machine()
        #expect(s.subscriptionAdded(MQTTSubscription("x")) == (index: 0, sendNow: false))
        s.attemptStarted(at: at(0))
        #expect(s.connackReceived(code: 0, at: at(0)) == .sessionUp(subscribe: [0], reconnected: false, failedAttempts: 0))
    }
}

// MARK: Scripted peers

/// A TCP listener on 127.0.0.1 that never accepts: the kernel completes the handshake, nobody ever answers.
private final class SilentListener: Sendable {
    let port: Int
    let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0 && listen(fd, 16) == 0
        guard ok else { close(fd); throw TestBrokerError("cannot listen on 127.0.0.1") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// Just enough of an MQTT 3.1.1 broker to answer CONNECT with success and every SUBSCRIBE with `subackCode` —
/// mosquitto 2.0 grants every subscription, so a refused SUBACK needs a scripted peer.
private final class ScriptedBroker: Sendable {
    let port: Int
    private let listener: SilentListener
    private let client = Atomic<Int32>(-1)
    private let thread: Mutex<OSThread?> = Mutex(nil)

    init(subackCode: UInt8) throws {
        listener = try SilentListener()
        port = listener.port
        let fd = listener.fd
        thread.withLock { $0 = OSThread(name: "scripted-broker") { [self] in serve(listenFD: fd, subackCode: subackCode) } }
    }

    func stop() {
        shutdown(listener.fd, Int32(SHUT_RDWR))
        let c = client.load(ordering: .acquiring)
        if c >= 0 { shutdown(c, Int32(SHUT_RDWR)) }
        thread.withLock { $0 }?.join()
    }

    private func serve(listenFD: Int32, subackCode: UInt8) {
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 { return }
            client.store(c, ordering: .releasing)
            while let (type, body) = readPacket(c) {
                switch type >> 4 {
                case 1: send(c, [0x20, 0x02, 0x00, 0x00])  // CONNECT → CONNACK accepted
                case 8:  // SUBSCRIBE → SUBACK, one code per filter
                    var filters = 0
                    var i = 2
                    while i + 2 <= body.count {
                        i += 2 + (Int(body[i]) << 8 | Int(body[i + 1])) + 1
                        filters += 1
                    }
                    send(c, [0x90, UInt8(2 + filters), body[0], body[1]] + Array(repeating: subackCode, count: filters))
                case 3 where (type >> 1) & 3 == 1:  // PUBLISH QoS 1 → PUBACK
                    let topicLength = Int(body[0]) << 8 | Int(body[1])
                    send(c, [0x40, 0x02, body[2 + topicLength], body[3 + topicLength]])
                case 12: send(c, [0xD0, 0x00])  // PINGREQ → PINGRESP
                default: break
                }
            }
            client.store(-1, ordering: .releasing)
            close(c)
        }
    }

    private func readPacket(_ fd: Int32) -> (UInt8, [UInt8])? {
        guard let header = readExactly(fd, 1) else { return nil }
        var length = 0, shift = 0
        while true {
            guard let b = readExactly(fd, 1) else { return nil }
            length |= Int(b[0] & 0x7f) << shift
            shift += 7
            if b[0] & 0x80 == 0 { break }
        }
        guard let body = readExactly(fd, length) else { return nil }
        return (header[0], body)
    }

    private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, count - got) }
            if n <= 0 { return nil }
            got += n
        }
        return buffer
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
