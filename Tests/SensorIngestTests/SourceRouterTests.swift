import CareSupport
import SensorIngest
import Testing

@Suite("Source router")
struct SourceRouterTests {
    func router(_ json: String) throws -> SourceRouter {
        try SourceRouter(json: try JSONParser.parse(json))
    }

    func issues(_ json: String) -> [SourceConfigurationError.Issue] {
        do {
            _ = try SourceRouter(json: try JSONParser.parse(json))
            return []
        } catch let e as SourceConfigurationError {
            return e.issues
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    @Test func unknownPresetAndFormatAreReportedTogetherWithPathsAndKnownNames() {
        let found = issues(#"[{"preset":"zigbee2mqtt"},{"preset":"zwave-magic"},{"topic":"w/+/a","format":"acel"}]"#)
        #expect(found.map(\.path) == ["sources[1].preset", "sources[2].format"])
        #expect(found[0].code == .unknownPreset && found[0].message.contains("zwave-magic") && found[0].message.contains("tasmota"))
        #expect(found[1].code == .unknownFormat && found[1].message.contains("vitals") && found[1].message.contains("did you mean \"accel\""))
    }

    @Test func everyKindOfSourceMistakeIsNamed() {
        let found = issues(#"""
            [{"preset":"shelly","format":"accel"},
             {"topic":"a/#/b","format":"accel"},
             {"topic":"a/+"},
             {"preset":"esphome","topic":"x"},
             {"topc":"x","format":"senml"},
             {"topic":"w/+","format":"accel","placement":"wirst","qos":3},
             {"preset":"shelly"},
             42]
            """#)
        let byPath = Dictionary(found.map { ($0.path, $0.code) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["sources[0].format"] == .conflictingKeys)
        #expect(byPath["sources[1].topic"] == .invalidFilter)
        #expect(byPath["sources[2].format"] == .missingKey)
        #expect(byPath["sources[3]"] == .conflictingKeys)
        #expect(byPath["sources[4].topc"] == .unknownKey)
        #expect(byPath["sources[5].placement"] == .unknownPlacement)
        #expect(byPath["sources[5].qos"] == .outOfRange)
        #expect(byPath["sources[6]"] == .duplicate)
        #expect(byPath["sources[7]"] == .wrongType)
        #expect(found.first { $0.path == "sources[4].topc" }?.message.contains("did you mean \"topic\"") == true)
        #expect(issues("{}").first?.code == .wrongType)
        #expect(issues("[]").first?.code == .missingKey)
    }

    @Test func subscriptionsUseEachSourcesQoSDefaults() throws {
        let r = try router(#"[{"preset":"tasmota"},{"topic":"wearable/+/accel","format":"accel"},{"topic":"home/vitals/+","format":"vitals"},{"topic":"m/#","format":"senml","qos":2}]"#)
        let subs = r.subscriptions.map { "\($0.filter) \($0.qos)" }
        #expect(subs == ["tele/+/+ 1", "stat/+/+ 1", "wearable/+/accel 0", "home/vitals/+ 1", "m/# 2"])
    }

    @Test func aFilterListedTwiceIsSubscribedOnceAtTheHighestQoS() throws {
        let r = try SourceRouter(sources: [SourceConfiguration(topic: "a/+", format: "accel"),
                                           SourceConfiguration(topic: "a/+", format: "vitals", qos: 2)])
        #expect(r.subscriptions.map(\.filter) == ["a/+"])
        #expect(r.subscriptions.first?.qos == 2)
    }

    @Test func presetsNameDevicesFromTheirTopicGrammar() throws {
        let r = try router(#"[{"preset":"zigbee2mqtt"},{"preset":"homeassistant"},{"preset":"tasmota"},{"preset":"shelly"},{"preset":"esphome"},{"preset":"owntracks"}]"#)
        let cases: [(String, String, String)] = [
            ("zigbee2mqtt/dining room/ac power", "zigbee2mqtt", "dining room/ac power"),
            ("zigbee2mqtt/livingroom/window/availability", "zigbee2mqtt", "livingroom/window"),
            ("zigbee2mqtt/bridge/state", "zigbee2mqtt", "bridge"),
            ("homeassistant/sensor/linda_heart_rate/state", "homeassistant", "sensor.linda_heart_rate"),
            ("homeassistant/light/master_bedroom_dimmer/brightness", "homeassistant", "light.master_bedroom_dimmer"),
            ("homeassistant/binary_sensor/garden/state", "homeassistant", "binary_sensor.garden"),
            ("tele/tasmota_A1B2C3/SENSOR", "tasmota", "tasmota_A1B2C3"),
            ("stat/pow1/STATUS8", "tasmota", "pow1"),
            ("shellies/shelly1/online", "shelly", "shelly1"),
            ("shellies/plus1pm/events/rpc", "shelly", "plus1pm"),
            ("shellyplus1pm-4417939341dc/status/switch:0", "shelly", "shellyplus1pm-4417939341dc"),
            ("shellyplus1pm-4417939341dc/events/rpc", "shelly", "shellyplus1pm-4417939341dc"),
            ("shellies/shellyem3/emeter/0/power", "shelly", "shellyem3"),
            ("livingroom_node/binary_sensor/hall/state", "esphome", "livingroom_node"),
            ("livingroom_node/status", "esphome", "livingroom_node"),
            ("owntracks/jane/nokia", "owntracks", "jane/nokia"),
            ("owntracks/jane/nokia/event", "owntracks", "jane/nokia"),
        ]
        for (topic, source, device) in cases {
            let route = try #require(r.route(topic: topic), "\(topic) not routed")
            #expect(route.sourceName == source, "\(topic)")
            #expect(route.device == device, "\(topic)")
        }
        #expect(r.route(topic: "some/other/topic") == nil)
    }

    @Test func topicSourcesNameDevicesFromTheirWildcards() throws {
        let r = try router(#"[{"topic":"wearable/+/accel","format":"accel","placement":"wrist"},{"topic":"home/+/+/vitals","format":"vitals"},{"topic":"watch/linda","format":"vitals","name":"linda-watch"},{"topic":"plain/topic","format":"vitals"}]"#)
        let band = try #require(r.route(topic: "wearable/band1/accel"))
        #expect(band.device == "band1" && band.sourceName == "wearable/+/accel" && band.format == "accel" && band.placement == .wrist)
        #expect(r.route(topic: "home/linda/bedroom/vitals")?.device == "linda/bedroom")
        let named = try #require(r.route(topic: "watch/linda"))
        #expect(named.device == "linda-watch" && named.sourceName == "linda-watch")
        #expect(r.route(topic: "plain/topic")?.device == "topic")
    }

    @Test func theMostSpecificFilterWinsThenConfigOrder() throws {
        // esphome's `+/binary_sensor/+/state` also matches Home Assistant's discovery state topics.
        let r = try router(#"[{"preset":"esphome"},{"preset":"homeassistant"},{"topic":"home/#","format":"homeassistant"},{"topic":"home/watch/vitals","format":"vitals"}]"#)
        #expect(r.route(topic: "homeassistant/binary_sensor/garden/state")?.sourceName == "homeassistant")
        #expect(r.route(topic: "node1/binary_sensor/garden/state")?.sourceName == "esphome")
        #expect(r.route(topic: "home/watch/vitals")?.format == "vitals")
        #expect(r.route(topic: "home/watch/other")?.format == "homeassistant")
        // Equally specific (the same filter twice, which a config file refuses but code may build): config order.
        let tie = try SourceRouter(sources: [SourceConfiguration(topic: "x/+", format: "vitals", name: "first"),
                                             SourceConfiguration(topic: "x/+", format: "senml", name: "second")])
        #expect(tie.route(topic: "x/y")?.sourceName == "first")
    }

    @Test func routeDecodesWithTheSourcesDecoder() throws {
        let r = try router(#"[{"preset":"zigbee2mqtt"}]"#)
        let payload = Array(#"{"contact":false}"#.utf8)
        let decoded = try payload.withUnsafeBytes { b in try r.decode(topic: "zigbee2mqtt/front door", payload: b) }
        let (route, message) = try #require(decoded)
        #expect(route.device == "front door")
        #expect(message.readings.first?.value == .bool(false))
    }
}
