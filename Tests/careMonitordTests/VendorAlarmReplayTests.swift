import CareSupport
import Foundation
import Testing

/// Vendor alarms through `replay`, as a capture of the real payloads would be scored: fall radars that name their
/// state `fall_status`, and a legacy Zigbee2MQTT button the config marks as her SOS button.
@Suite("vendor alarms through replay")
struct VendorAlarmReplayTests {
    static let config = """
    { "person": { "id": "linda", "timezone": "Europe/London" },
      "sources": [ { "preset": "zigbee2mqtt" } ],
      "detectors": { "alarms": { "sosButtons": ["bedside button"] },
                     "fall": { "enabled": false }, "routine": { "enabled": false },
                     "thresholds": { "enabled": false }, "health": { "enabled": false } } }
    """

    static func line(_ time: String, _ topic: String, _ payload: String) -> String {
        HomeTests.line("2026-11-23T" + time + ".000000", topic, payload)
    }

    static func detections(_ capture: [String]) throws -> [JSONValue] {
        let dir = try CLI.temporaryDirectory()
        let config = try CLI.write(Self.config, "c.json", in: dir)
        let path = try CLI.write(capture.joined(separator: "\n") + "\n", "c.ndjson", in: dir)
        let r = try CLI.run(["replay", "--config", config, path])
        #expect(r.code == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
            .filter { $0["kind"] != nil && $0["state"] != nil }
    }

    @Test func everyFallStatusWordRaisesAFallNamingTheRadarAndNormalClearsIt() throws {
        let radar = "zigbee2mqtt/bathroom radar"
        let events = try Self.detections([
            Self.line("10:00:00", radar, #"{"presence":true,"fall_status":"normal"}"#),
            Self.line("10:01:00", radar, #"{"presence":true,"fall_status":"falling"}"#),
            Self.line("10:02:00", radar, #"{"presence":true,"fall_status":"normal"}"#),
            Self.line("10:03:00", radar, #"{"presence":true,"fall_status":"fall"}"#),
        ])
        let falls = events.filter { $0["kind"]?.stringValue == "fall" }
        #expect(falls.map { $0["state"]?.stringValue ?? "" } == ["raised", "cleared", "raised"], "\(events)")
        #expect(falls.allSatisfy { $0["device"]?.stringValue == "bathroom radar" })
        #expect(falls.first?["time"]?.stringValue == "2026-11-23T10:01:00.000Z")
    }

    @Test func aPressOfTheMarkedButtonRaisesSOSWithThePressKindAndOtherButtonsDoNot() throws {
        let events = try Self.detections([
            Self.line("09:00:00", "zigbee2mqtt/kitchen button", #"{"linkquality":131,"click":"single"}"#),
            Self.line("09:10:00", "zigbee2mqtt/bedside button", #"{"linkquality":131,"click":""}"#),
            Self.line("09:20:00", "zigbee2mqtt/bedside button", #"{"linkquality":131,"click":"long"}"#),
            Self.line("09:20:02", "zigbee2mqtt/bedside button", #"{"action":"release"}"#),
            Self.line("09:30:00", "zigbee2mqtt/bedside button", #"{"action":"double"}"#),
            Self.line("09:30:00", "zigbee2mqtt/bedside button", #"{"action":"hold_release"}"#),
        ])
        let sos = events.filter { $0["kind"]?.stringValue == "sos" }
        #expect(sos.count == 2, "\(events)")
        #expect(sos.allSatisfy { $0["device"]?.stringValue == "bedside button" && $0["state"]?.stringValue == "raised" })
        #expect(sos.map { $0["detail"]?["press"]?.stringValue ?? "" } == ["long", "double"])
        #expect(sos.first?["time"]?.stringValue == "2026-11-23T09:20:00.000Z")
    }

    /// A long press of her SOS button while her own self-check is open is her "I'm fine": the fall incident is
    /// cancelled by her and no SOS incident opens; a short press still raises SOS and pages the circle.
    @Test func aLongPressOfHerSOSButtonAnswersHerOwnSelfCheck() throws {
        let config = """
        { "person": { "id": "linda", "name": "Linda", "timezone": "Europe/London",
                      "contacts": [{"notifier": "tv", "address": "caremonitord/linda/tv"}] },
          "sources": [ { "preset": "zigbee2mqtt" } ],
          "detectors": { "alarms": { "sosButtons": ["bedside button"] } },
          "notifiers": {"tv": {"kind": "mqtt"}, "phones": {"kind": "mqtt"}},
          "circle": {"members": [{"id": "anna", "name": "Anna", "role": "family", "consent": true,
                                  "contacts": [{"notifier": "phones", "address": "phones/anna"}]}]},
          "policies": [{"kind": "fall", "selfCancelSeconds": 60, "tiers": [{"members": ["anna"]}]},
                       {"kind": "sos", "tiers": [{"members": ["anna"]}]}] }
        """
        let dir = try CLI.temporaryDirectory()
        let configPath = try CLI.write(config, "c.json", in: dir)
        let capture = [
            Self.line("10:00:00", "zigbee2mqtt/hallway radar", #"{"presence":true,"fall_down_status":"fall"}"#),
            Self.line("10:00:20", "zigbee2mqtt/bedside button", #"{"linkquality":131,"click":"long"}"#),
            Self.line("10:30:00", "zigbee2mqtt/bedside button", #"{"linkquality":131,"click":"single"}"#),
        ]
        let path = try CLI.write(capture.joined(separator: "\n") + "\n", "c.ndjson", in: dir)
        let r = try CLI.run(["replay", "--config", configPath, path])
        #expect(r.code == 0, "\(r.stderr)")
        let events = r.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        let incidents = events.filter { $0["type"]?.stringValue == "incident" }
        let fall = incidents.filter { $0["kind"]?.stringValue == "fall" }.map { $0["state"]?.stringValue ?? "" }
        #expect(fall.contains("cancelled"), "\(incidents)")
        #expect(!events.contains { $0["type"]?.stringValue == "notification" && $0["member"]?.stringValue == "anna"
                                   && ($0["time"]?.stringValue ?? "") < "2026-11-23T10:30" }, "Anna was paged though Linda said she is fine")
        let sos = incidents.filter { $0["kind"]?.stringValue == "sos" }
        #expect(sos.first?["time"]?.stringValue == "2026-11-23T10:30:00.000Z", "the short press did not raise SOS: \(incidents)")
        #expect(events.contains { $0["type"]?.stringValue == "notification" && $0["member"]?.stringValue == "anna"
                                  && ($0["text"]?.stringValue ?? "").contains("pressed their help button") })
    }
}
