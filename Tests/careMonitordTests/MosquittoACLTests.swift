import CareSupport
import Foundation
import Testing
import TestSupport

/// The example mosquitto ACL on a real broker: sensors cannot answer for anyone, and only the daemon and the
/// circle's devices read what names Linda and her alerts.
@Suite("example mosquitto ACL")
struct MosquittoACLTests {
    static let users = ["caremonitord", "zigbee2mqtt", "tv-linda", "phone-anna", "dashboard"]

    @Test func sensorsCannotAnswerAndOnlyTheCircleReadsHerTopics() async throws {
        let dir = try CLI.temporaryDirectory()
        let example = try String(contentsOf: CLI.repository.appendingPathComponent("examples/mosquitto-acl.conf"), encoding: .utf8)
        // The test's own probe topic, outside caremonitord/, so that its subscribers can tell they are subscribed.
        let acl = try CLI.write(example + "\npattern readwrite caremonitord-test/#\n", "acl", in: dir)
        let broker = try TestBroker(TestBroker.Options(users: Dictionary(uniqueKeysWithValues: Self.users.map { ($0, "pw-\($0)") }),
                                                       extraConfiguration: ["acl_file \(acl)"]))
        defer { broker.stop() }

        let daemon = try broker.subscribe("#", qos: 1, username: "caremonitord", password: "pw-caremonitord")
        defer { daemon.stop() }
        let sensor = try broker.subscribe("caremonitord/#", qos: 1, username: "zigbee2mqtt", password: "pw-zigbee2mqtt")
        defer { sensor.stop() }
        let tv = try broker.subscribe("caremonitord/linda/#", qos: 1, username: "tv-linda", password: "pw-tv-linda")
        defer { tv.stop() }
        for s in [daemon, sensor, tv] { try await s.waitUntilSubscribed() }

        let ack = "caremonitord/linda/incidents/linda-20261123-140200/ack"
        try broker.publish(topic: ack, message: #"{"member":"anna","action":"resolve"}"#, qos: 1, username: "zigbee2mqtt", password: "pw-zigbee2mqtt")
        try broker.publish(topic: ack, message: #"{"member":"anna","action":"claim"}"#, qos: 1, username: "dashboard", password: "pw-dashboard")
        try broker.publish(topic: "zigbee2mqtt/hallway", message: #"{"occupancy":true}"#, qos: 1, username: "zigbee2mqtt", password: "pw-zigbee2mqtt")
        try broker.publish(topic: ack, message: #"{"member":"anna","action":"decline"}"#, qos: 1, username: "phone-anna", password: "pw-phone-anna")
        try broker.publish(topic: "caremonitord/linda/dashboard/ack", message: #"{"incident":"x"}"#, qos: 1, username: "dashboard", password: "pw-dashboard")
        try broker.publish(topic: "caremonitord/linda/events", message: #"{"type":"incident"}"#, qos: 1, username: "caremonitord", password: "pw-caremonitord")

        #expect(await daemon.waitForMessage { $0.topic == "caremonitord/linda/events" } != nil, "the daemon's own message never came back")
        #expect(await tv.waitForMessage(timeout: .seconds(3)) { $0.topic == "caremonitord/linda/events" } != nil, "Linda's TV cannot read her events")
        let seen = daemon.messages
        #expect(seen.contains { $0.topic == "zigbee2mqtt/hallway" }, "the daemon cannot read the sensors")
        #expect(seen.contains { $0.topic == ack && $0.payload.contains("decline") }, "Anna's phone cannot answer")
        #expect(seen.contains { $0.topic == "caremonitord/linda/dashboard/ack" }, "the dashboard cannot use its answer topic")
        #expect(!seen.contains { $0.topic == ack && $0.payload.contains("resolve") }, "a sensor answered for Anna")
        #expect(!seen.contains { $0.topic == ack && $0.payload.contains("claim") }, "the dashboard published on the ack topic")
        #expect(sensor.messages.isEmpty, "a sensor read Linda's topics: \(sensor.messages)")
    }
}
