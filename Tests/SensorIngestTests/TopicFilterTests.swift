import SensorIngest
import Testing

@Suite("Topic filters")
struct TopicFilterTests {
    func filter(_ s: String) throws -> TopicFilter { try TopicFilter(s) }

    @Test(arguments: ["", "a/#/b", "a/b#", "a/+b/c", "#/a", "sport+", "$share/g", "$share//a/b", "$share/g+/a", "a\u{0}b"])
    func invalidFiltersAreRejectedWithTheRule(_ text: String) {
        #expect(throws: TopicFilterError.self) { try TopicFilter(text) }
        do { _ = try TopicFilter(text) } catch { #expect(!error.message.isEmpty) }   // typed throws: a TopicFilterError
    }

    @Test(arguments: ["#", "+", "a/b/c", "a/+/c", "a/#", "+/+", "/", "/+", "a//b", "$SYS/#", "$share/group/a/+", "dining room/ac power"])
    func validFiltersAreAccepted(_ text: String) throws {
        #expect(try TopicFilter(text).text == text)
    }

    @Test func singleLevelWildcardMatchesExactlyOneLevelAndCapturesIt() throws {
        let f = try filter("wearable/+/accel")
        #expect(f.captures("wearable/band1/accel") == ["band1"])
        #expect(f.captures("wearable//accel") == [""], "an empty level is a level")
        #expect(f.captures("wearable/a/b/accel") == nil)
        #expect(f.captures("wearable/accel") == nil)
        #expect(try filter("+/+").captures("a/b") == ["a", "b"])
        #expect(try filter("/+").matches("/finance"))
        #expect(!(try filter("+").matches("/finance")))
    }

    @Test func multiLevelWildcardMatchesTheParentAndEverythingBelow() throws {
        let f = try filter("zigbee2mqtt/#")
        #expect(f.captures("zigbee2mqtt/dining room/ac power") == ["dining room/ac power"])
        #expect(f.captures("zigbee2mqtt") == [""])
        #expect(f.matches("zigbee2mqtt/"))
        #expect(!f.matches("zigbee2mqttx/a"))
        #expect(try filter("#").captures("a/b/c") == ["a/b/c"])
        #expect(try filter("a/+/#").captures("a/b/c/d") == ["b", "c/d"])
    }

    @Test func wildcardsAtTheStartDoNotMatchDollarTopics() throws {
        #expect(!(try filter("#").matches("$SYS/broker/uptime")))
        #expect(!(try filter("+/broker/uptime").matches("$SYS/broker/uptime")))
        #expect(try filter("$SYS/#").matches("$SYS/broker/uptime"))
    }

    @Test func matchingIsCaseSensitiveAndLiteral() throws {
        #expect(!(try filter("tele/+/SENSOR").matches("tele/x/sensor")))
        #expect(try filter("a b/c").matches("a b/c"))
    }

    @Test func sharedSubscriptionsMatchTheirFilter() throws {
        let f = try filter("$share/care/zigbee2mqtt/+")
        #expect(f.captures("zigbee2mqtt/hall") == ["hall"])
        #expect(f.text == "$share/care/zigbee2mqtt/+")
    }

    @Test func longTopicsMatchInLinearTime() throws {
        let topic = Array(repeating: "level", count: 10_000).joined(separator: "/")
        #expect(try filter("#").captures(topic)?.first?.count == topic.count)
        #expect(try filter("level/+/#").matches(topic))
    }
}
