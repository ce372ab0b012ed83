import Anomaly
import CareSupport
import SensorIngest
import TestSupport
import Testing

/// The project's own alarm-class fixtures (`Tests/Fixtures/vendor`: fall radars, buttons, smoke, CO, leaks, doors,
/// each with its source in the index) decode to what a careful reader of the payload expects, alarm meaning included.
@Suite("Vendor alarm fixtures")
struct VendorAlarmFixtureTests {
    typealias Expected = DecoderFixtureTests.Expected
    static func n(_ s: SignalKind, _ v: Double) -> (SignalKind, ReadingValue) { (s, .number(v)) }
    static func b(_ s: SignalKind, _ v: Bool) -> (SignalKind, ReadingValue) { (s, .bool(v)) }
    static func t(_ s: SignalKind, _ v: String) -> (SignalKind, ReadingValue) { (s, .text(v)) }

    static let expectations: [String: Expected] = [
        // Legacy `click` is a button press, like `action`.
        "zigbee2mqtt/legacy_click_single_capture.json": Expected(device: "hall_sensor", readings: [t(.button, "single"), n(.linkQuality, 131)]),
        // The reset after a press is no press.
        "zigbee2mqtt/legacy_click_reset_capture.json": Expected(device: "hall_sensor", readings: [n(.linkQuality, 131)]),
        "zigbee2mqtt/legacy_click_WXKG02LM_left_capture.json": Expected(
            device: "hall_sensor", readings: [t(.button, "left"), n(.linkQuality, 47), n(.battery, 100), n(.batteryVoltage, 3.055)]),
        "zigbee2mqtt/smoke_HS1SA_alarm_capture.json": Expected(
            device: "hall_sensor", readings: [n(.battery, 96.5), n(.linkQuality, 92), b(.smoke, true)]),
        // Unknown (null) battery, smoke and level give nothing; the CO alarm is clear.
        "zigbee2mqtt/co_smoke_TS0601_clear_capture.json": Expected(
            device: "hall_sensor", readings: [b(.carbonMonoxide, false), n(.linkQuality, 48)]),
        "zigbee2mqtt/water_leak_legacy_string_battery_capture.json": Expected(
            device: "hall_sensor", readings: [n(.battery, 100), n(.batteryVoltage, 3.045), n(.linkQuality, 99), b(.waterLeak, false)]),
        "zigbee2mqtt/contact_legacy_capture.json": Expected(device: "hall_sensor", readings: [b(.contact, true), n(.linkQuality, 128)]),
        // open: our contact (true = closed) is false.
        "shelly/gen1_dw_sensor_state_open.txt": Expected(device: "shellydw-F03134", readings: [b(.contact, false)]),
        "shelly/gen1_flood_sensor_flood.txt": Expected(device: "shellyflood-A1B2C3", readings: [b(.waterLeak, true)]),
        // A text sensor under `sensor/`: text, not a malformed number.
        "esphome/text_sensor_on_sensor_topic.txt": Expected(device: "livingroom_node", readings: [t(.state, "Hello World")],
                                                            channels: ["hall"]),
        // mmWave presence radar (TuYa ZY-M100): presence is the person being there, moving or not; null distance gives nothing.
        "zigbee2mqtt/presence_ZY-M100_present_capture.json": Expected(
            device: "hall_sensor", readings: [n(.illuminance, 369), n(.linkQuality, 98), b(.motion, true)]),
        "zigbee2mqtt/presence_ZY-M100_absent_capture.json": Expected(
            device: "hall_sensor", readings: [n(.illuminance, 53), n(.linkQuality, 255), b(.motion, false)]),
        // Tasmota Zigbee bridge: Contact 0 is closed (our contact true), 1 open; the channel is the trimmed Name.
        "tasmota/zigbee_contact_MCCGQ12LM_closed_capture.json": Expected(
            device: "tasmota_hall", readings: [b(.contact, true), n(.linkQuality, 157)], channels: ["door_sensor", "door_sensor"]),
        "tasmota/zigbee_contact_MCCGQ12LM_open_capture.json": Expected(
            device: "tasmota_hall", readings: [b(.contact, false), n(.linkQuality, 157)], channels: ["door_sensor", "door_sensor"]),
        "tasmota/zigbee_occupancy_RTCGQ12LM_capture.json": Expected(
            device: "tasmota_hall", readings: [b(.motion, true), n(.linkQuality, 105)], channels: ["motion_sensor", "motion_sensor"]),
        // Home Assistant opening class: OFF is closed, our contact true.
        "homeassistant/binary_sensor_window_contact_json_off.json": Expected(device: "window/contact", readings: [b(.contact, true)]),
        "tasmota/zigbee_water_leak_SJCGQ11LM_dry_capture.json": Expected(
            device: "tasmota_hall", readings: [n(.batteryVoltage, 3), n(.battery, 100), b(.waterLeak, false), n(.linkQuality, 155)]),
    ]

    static func entries() throws -> [Fixtures.Entry] { try Fixtures.index(set: "vendor") }

    @Test func everyVendorFixtureHasExpectations() throws {
        let files = try Self.entries().map(\.file)
        #expect(Set(files) == Set(Self.expectations.keys), "index and expectations differ")
    }

    @Test(arguments: try VendorAlarmFixtureTests.entries())
    func vendorFixtureDecodesToItsAlarmMeaning(_ entry: Fixtures.Entry) throws {
        let expected = try #require(Self.expectations[entry.file])
        let topic = Fixtures.concreteTopic(entry)
        let (route, result) = try #require(try DecoderTestConfig.router().decode(topic: topic, bytes: try Fixtures.payload(entry.file, set: "vendor")),
                                           "no source routes \(topic)")
        #expect(route.format == entry.stack)
        #expect(route.device == expected.device)
        let message = try result.get()
        expectReadings(message.readings, expected.readings, entry.file)
        if let channels = expected.channels { #expect(message.readings.compactMap(\.channel) == channels) }
    }

    /// mmWave fall radars that name their state `fall_status`: every fall word is a fall, the normal word is none.
    @Test(arguments: [("normal", false), ("fall", true), ("falling", true), ("fallen", true), ("none", false)])
    func fallStatusWordsAreFallStates(_ word: String, _ fall: Bool) throws {
        let readings = try Zigbee2MQTTDecoder().readings(topic: "zigbee2mqtt/radar", #"{"presence":true,"fall_status":"\#(word)"}"#)
        #expect(readings.filter { $0.signal == .fall }.map(\.value) == [.bool(fall)])
        let esphome = try ESPHomeDecoder().readings(topic: "radar/sensor/fall_status/state", word)
        #expect(esphome.map(\.signal) == [.fall] && esphome.first?.value == .bool(fall))
    }

    @Test func clickBesideActionIsOnePress() throws {
        let readings = try Zigbee2MQTTDecoder().readings(topic: "zigbee2mqtt/b", #"{"action":"long","click":"long"}"#)
        #expect(readings.map(\.value) == [.text("long")])
    }
}
