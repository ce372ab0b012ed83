import Anomaly
import CareSupport
import SensorIngest
import TestSupport
import Testing

/// Hostile and broken payloads: truncated at every byte, bytes flipped, wrong JSON types per field, huge and deeply
/// nested payloads. Every decoder gives a typed error or a result, never a crash or a hang.
@Suite("Decoder robustness")
struct DecoderRobustnessTests {
    /// Every fixture of every stack (Espruino Hub's too, routed to the Home Assistant topic decoder), with its topic.
    static func allFixtures() throws -> [(entry: Fixtures.Entry, topic: String, bytes: [UInt8])] {
        try Fixtures.index().map { entry in
            var topic = Fixtures.concreteTopic(entry)
            if entry.stack == "espruinohub" { topic = "home-assistant" + topic }
            return (entry, topic, try Fixtures.payload(entry.file))
        }
    }

    /// Topics that are recognised from the topic alone (their payload is not read).
    static func recognisedByTopic(_ topic: String) -> Bool {
        topic.hasSuffix("/config") || topic == "shellies/announce" || topic.hasPrefix("zigbee2mqtt/bridge/event")
            || topic.hasSuffix("/last_changed")
    }

    @Test func everyFixtureTruncatedAtEveryByteGivesATypedErrorOrAShorterValidMessage() throws {
        let router = try DecoderTestConfig.router()
        var checked = 0
        for (entry, topic, bytes) in try Self.allFixtures() {
            guard router.route(topic: topic) != nil else { continue }
            let isJSONDocument = bytes.first == UInt8(ascii: "{") || bytes.first == UInt8(ascii: "[")
            for cut in 0..<bytes.count {
                let prefix = Array(bytes[0..<cut])
                guard let (_, result) = router.decode(topic: topic, bytes: prefix) else { continue }
                checked += 1
                switch result {
                case .failure(let error):
                    #expect(!error.message.isEmpty)
                case .success(let message):
                    // A JSON object or array cut short is never valid JSON: only topic-recognised messages may pass.
                    // An empty payload may be the deletion of a retained message.
                    if isJSONDocument && !Self.recognisedByTopic(topic) && !(cut == 0 && message.readings.isEmpty) {
                        Issue.record("\(entry.file) cut at \(cut) bytes decoded to \(message.readings.count) readings")
                    }
                }
            }
        }
        #expect(checked > 3000)
    }

    @Test func flippedBytesNeverCrash() throws {
        let router = try DecoderTestConfig.router()
        let replacements: [UInt8] = [0x00, 0xFF, 0x22, 0x7B, 0x5D, 0x2C, 0x30, 0x2D, 0x5C, 0xC3]
        for (_, topic, bytes) in try Self.allFixtures() {
            guard router.route(topic: topic) != nil else { continue }
            for i in bytes.indices {
                var mutated = bytes
                mutated[i] ^= 0xFF
                _ = router.decode(topic: topic, bytes: mutated)
                for r in replacements {
                    mutated[i] = r
                    if case .failure(let e)? = router.decode(topic: topic, bytes: mutated)?.result { #expect(!e.message.isEmpty) }
                }
            }
        }
    }

    /// Replacing a field that gave a reading with a value of a type the field never takes is a typed error, not a
    /// silently wrong reading. (Checked for the decoders whose fields have one type; Home Assistant and ESPHome
    /// states are text whose meaning depends on the entity, Tasmota accepts 0/1/ON/true for a state.)
    @Test func wrongTypesPerFieldAreTypedErrors() throws {
        let router = try DecoderTestConfig.router()
        let typed: Set<String> = ["zigbee2mqtt", "owntracks", "shelly"]
        var checked = 0
        for (entry, topic, bytes) in try Self.allFixtures() where typed.contains(entry.stack) {
            guard let (_, result) = router.decode(topic: topic, bytes: bytes), case .success(let original) = result,
                  case .object(let object)? = try? JSONParser.parse(bytes) else { continue }
            let fields = Set(original.readings.map { $0.field.split(separator: ".").first.map(String.init) ?? "" })
            for member in object.members where fields.contains(member.key) {
                let wrong: [JSONValue]
                switch member.value {
                case .number: wrong = [.string("not a number"), .bool(true), .array([1]), .object(["a": 1])]
                case .bool: wrong = [.string("maybe"), .number(7), .array([true]), .object(["a": true])]
                case .string(let s):
                    // A number written as a string (OwnTracks' "rad":"50") may be sent as a number too.
                    let numeric = s.allSatisfy { $0.isNumber || $0 == "." || $0 == "-" }
                    wrong = (numeric ? [] : [JSONValue.number(12.5)]) + [.bool(true), .array(["x"]), .object(["a": "b"])]
                case .object: wrong = [.number(1), .string("x"), .array([1])]
                default: continue
                }
                for value in wrong {
                    var mutated = object
                    mutated[member.key] = value
                    let text = JSONWriter.serialize(.object(mutated))
                    guard let (_, r) = router.decode(topic: topic, bytes: Array(text.utf8)) else { continue }
                    checked += 1
                    switch r {
                    case .failure(let e):
                        #expect([.wrongType, .outOfRange, .missingField].contains(e.code), "\(entry.file) \(member.key)=\(value): \(e)")
                        #expect(e.message.contains(member.key), "the error names the field: \(e.message)")
                    case .success(let m):
                        // Only free-text fields whose unknown words are simply not sensor words may pass (Z2M `state`).
                        let stillRead = m.readings.contains { $0.field == member.key }
                        #expect(!stillRead, "\(entry.file): \(member.key) = \(value) was read as \(m.readings.filter { $0.field == member.key })")
                    }
                }
            }
        }
        #expect(checked > 100)
    }

    @Test func everyDecoderRejectsATenMegabytePayloadAsTooLarge() throws {
        let huge = [UInt8](repeating: UInt8(ascii: "["), count: 10 << 20)
        for entry in DecoderRegistry.entries {
            let decoder = entry.make(DecoderOptions())
            for topic in ["zigbee2mqtt/x", "tele/x/SENSOR", "shellies/x/status", "x/sensor/t/state", "owntracks/a/b",
                          "homeassistant/sensor/x/state", "wearable/x/accel"] {
                let result: Result<DecodedMessage, DecodeError> = huge.withUnsafeBytes { b in
                    Result { () throws(DecodeError) in try decoder.decode(topic: topic, device: "x", payload: b) }
                }
                switch result {
                case .failure(let e): #expect(e.code == .tooLarge, "\(entry.name) on \(topic): \(e)")
                case .success(let m): #expect(m.readings.isEmpty, "\(entry.name) on \(topic) read a 10 MB payload")
                }
            }
        }
    }

    @Test func theSizeLimitIsConfigurable() throws {
        let router = try DecoderTestConfig.router(options: DecoderOptions(maxPayloadBytes: 16))
        let (_, small) = try #require(router.decode(topic: "zigbee2mqtt/a", bytes: Array(#"{"contact":true}"#.utf8)))
        #expect(try small.get().readings.count == 1)
        let (_, big) = try #require(router.decode(topic: "zigbee2mqtt/a", bytes: Array(#"{"contact": true}"#.utf8)))
        #expect(throws: DecodeError.self) { try big.get() }
        if case .failure(let e) = big { #expect(e.code == .tooLarge && e.message.contains("16")) }
    }

    @Test func deepNestingAndLongArraysGiveTypedErrors() throws {
        let router = try DecoderTestConfig.router()
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let deepObject = String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        let long = "[" + Array(repeating: "1", count: 300_000).joined(separator: ",") + "]"
        for topic in ["zigbee2mqtt/a", "tele/a/SENSOR", "shellies/a/events/rpc", "owntracks/a/b", "wearable/a/accel",
                      "senml/a", "homeassistant/sensor/a/state", "a/event/b/state"] {
            for payload in [deep, deepObject, long] {
                let (_, result) = try #require(router.decode(topic: topic, bytes: Array(payload.utf8)))
                if case .success(let m) = result { #expect(m.readings.isEmpty, "\(topic): read \(m.readings.count) readings") }
            }
        }
    }

    @Test func garbageGivesTypedErrorsFromEveryDecoder() throws {
        var generator = SplitMix64(seed: 0xC0FFEE)
        let topics = ["zigbee2mqtt/a", "zigbee2mqtt/a/availability", "tele/a/LWT", "tele/a/SENSOR", "stat/a/RESULT",
                      "shellies/a/relay/0", "shellies/a/events/rpc", "a/status/switch:0", "a/status", "a/sensor/t/state",
                      "owntracks/a/b", "homeassistant/sensor/a/state", "pub/a/b/c"]
        for entry in DecoderRegistry.entries {
            let decoder = entry.make(DecoderOptions())
            for _ in 0..<300 {
                let count = Int(generator.next() % 64)
                let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                for topic in topics {
                    let result: Result<DecodedMessage, DecodeError> = bytes.withUnsafeBytes { b in
                        Result { () throws(DecodeError) in try decoder.decode(topic: topic, device: "a", payload: b) }
                    }
                    if case .failure(let e) = result { #expect(!e.message.isEmpty) }
                }
            }
        }
    }

    @Test func emptyPayloadsAreErrorsOrRecognisedDeletions() throws {
        let router = try DecoderTestConfig.router()
        for topic in ["zigbee2mqtt/a", "tele/a/SENSOR", "shellies/a/events/rpc", "wearable/a/accel", "senml/a"] {
            let (_, r) = try #require(router.decode(topic: topic, bytes: []))
            #expect(throws: DecodeError.self, "\(topic)") { try r.get() }
        }
        // A retained OwnTracks location or a discovery config is deleted with an empty payload.
        for topic in ["owntracks/a/b", "homeassistant/sensor/a/config"] {
            let (_, r) = try #require(router.decode(topic: topic, bytes: []))
            #expect(try r.get().readings.isEmpty)
        }
    }
}
