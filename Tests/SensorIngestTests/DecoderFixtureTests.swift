import Anomaly
import CareSupport
import SensorIngest
import TestSupport
import Testing

/// Every fixture of the six stacks and of `highrate/` decodes to the readings a careful reader of the payload expects.
/// The table below was written by reading each payload and its source; a fixture added to the index without an
/// entry here fails `everyFixtureOfTheStacksHasExpectations`.
@Suite("Decoder fixtures")
struct DecoderFixtureTests {
    struct Expected {
        var device: String
        /// (signal, value) pairs, in any order; empty = a recognised message without reading.
        var readings: [(SignalKind, ReadingValue)]
        /// The message time, when the payload carries a trustworthy one; nil = none expected.
        var time: Double? = nil
        /// Channels expected on the readings (in any order), when the message carries several sensors of one kind.
        var channels: [String]? = nil
        var sampleTimes: [Double]? = nil
    }

    static func n(_ s: SignalKind, _ v: Double) -> (SignalKind, ReadingValue) { (s, .number(v)) }
    static func b(_ s: SignalKind, _ v: Bool) -> (SignalKind, ReadingValue) { (s, .bool(v)) }
    static func t(_ s: SignalKind, _ v: String) -> (SignalKind, ReadingValue) { (s, .text(v)) }

    static let g = 9.80665

    static let expectations: [String: Expected] = [
        // ESPHome
        "esphome/binary_sensor_on.txt": Expected(device: "livingroom_node", readings: [b(.state, true)], channels: ["hall"]),
        "esphome/status_offline.txt": Expected(device: "livingroom_node", readings: [b(.availability, false)]),
        // High-rate formats
        "highrate/edgeimpulse_acquisition_accel.json": Expected(
            device: "band1",
            readings: [(.acceleration, .series([-9.81 / g, -9.83 / g, -9.12 / g, -9.14 / g])),
                       (.acceleration, .series([0.03 / g, 0.04 / g, 0.03 / g, 0.01 / g])),
                       (.acceleration, .series([1.21 / g, 1.27 / g, 1.23 / g, 1.25 / g]))],
            time: 1_564_128_599, sampleTimes: [1_564_128_599, 1_564_128_599.01, 1_564_128_599.02, 1_564_128_599.03]),
        "highrate/senml_rfc8428_multiple_measurements.json": Expected(
            device: "meter1",
            readings: [n(.voltage, 120.1), n(.current, 1.2), n(.current, 1.3), n(.current, 1.4), n(.current, 1.5),
                       n(.current, 1.6), n(.current, 1.7)],
            time: 1.276020076001e+09),
        // Home Assistant
        "homeassistant/availability_online.txt": Expected(device: "window/availability", readings: [b(.availability, true)]),
        // A window's contact in Home Assistant: ON = open, so our contact (true = closed) is false.
        "homeassistant/binary_sensor_json_state_on.json": Expected(device: "window/contact", readings: [b(.contact, false)]),
        // The entity id `garden` says nothing of its device class: a boolean state.
        "homeassistant/discovery_binary_sensor_motion_state.txt": Expected(device: "binary_sensor.garden", readings: [b(.state, true)]),
        "homeassistant/discovery_sensor_common_state.json": Expected(device: "sensor.sensorBedroom",
                                                                     readings: [n(.temperature, 23.2), n(.humidity, 43.7)]),
        "homeassistant/discovery_switch_abbreviated_config.json": Expected(device: "switch.irrigation", readings: []),
        "homeassistant/statestream_attr_bool.json": Expected(device: "fake/entity/bool", readings: [b(.state, false)], channels: ["bool"]),
        "homeassistant/statestream_attr_string.json": Expected(device: "fake/entity/testing", readings: [t(.state, "YES")], channels: ["testing"]),
        "homeassistant/statestream_last_changed.txt": Expected(device: "light.master_bedroom_dimmer", readings: []),
        "homeassistant/z2m_discovery_sensor_temperature_config.json": Expected(device: "sensor.0x0017880104e45522/temperature", readings: []),
        // OwnTracks
        "owntracks/location_android.json": Expected(device: "jane/nokia",
                                                    readings: [n(.latitude, 48.856826), n(.longitude, 2.292713), n(.battery, 53)],
                                                    time: 1_706_856_298),
        // batt -1 = unknown: no battery reading.
        "owntracks/location_batt_minus1.json": Expected(device: "linda/phone", readings: [n(.latitude, 48.85833), n(.longitude, 2.29513)],
                                                        time: 1_441_984_413),
        "owntracks/transition_enter_region.json": Expected(
            device: "linda/phone",
            readings: [t(.region, "enter:My favorite coffee shop (Delaville)"), n(.latitude, 48.87069), n(.longitude, 2.34916)],
            time: 1_707_057_574),
        // A region being defined, not a movement: its centre and radius under the region's name; tst is its creation.
        "owntracks/waypoint_string_typed.json": Expected(
            device: "jane/phone", readings: [n(.latitude, 48.87069), n(.longitude, 2.34916), n(.measurement, 50)],
            channels: ["My favorite coffee shop (Delaville)", "My favorite coffee shop (Delaville)", "My favorite coffee shop (Delaville)"]),
        // Shelly
        "shelly/gen1_announce.json": Expected(device: "shellies", readings: []),
        "shelly/gen1_emeter_power.txt": Expected(device: "shellies/shellyem3", readings: [n(.power, 0)], channels: ["emeter:0"]),
        "shelly/gen1_motion_status.json": Expected(device: "shellymotionsensor-60A423976594",
                                                   readings: [b(.motion, true), b(.vibration, true), n(.illuminance, 303), n(.battery, 87)]),
        "shelly/gen1_online_true.txt": Expected(device: "shelly1", readings: [b(.availability, true)]),
        // aenergy.total is in Wh.
        "shelly/gen2_notifystatus_aenergy.json": Expected(device: "plus1pm", readings: [n(.energy, 0)], time: 1_661_517_421.44,
                                                          channels: ["switch:0"]),
        // ts 1.61 counts seconds since boot (before SNTP sync): not a time.
        "shelly/gen2_notifystatus_mqtt_connected.json": Expected(device: "plus1pm", readings: []),
        "shelly/gen2_notifystatus_voltage.json": Expected(device: "plus1pm", readings: [n(.voltage, 232.7)], time: 1_661_517_385.44),
        "shelly/gen2_status_switch0.json": Expected(
            device: "plus1pm",
            readings: [b(.applianceOn, true), n(.power, 0), n(.voltage, 232.6), n(.current, 0), n(.energy, 0)]),
        // Tasmota
        "tasmota/lwt_offline.txt": Expected(device: "tasmota_A1B2C3", readings: [b(.availability, false)]),
        "tasmota/lwt_online.txt": Expected(device: "tasmota_A1B2C3", readings: [b(.availability, true)]),
        "tasmota/stat_result_power_on.json": Expected(device: "tasmota_switch", readings: [b(.applianceOn, true)]),
        // Total is the energy counter in kWh; Today/Yesterday, apparent and reactive power, factor give nothing.
        "tasmota/stat_status8_energy.json": Expected(
            device: "pow1", readings: [n(.energy, 6.404), n(.power, 2629), n(.voltage, 226), n(.current, 11.677)]),
        // Time is device-local without a zone: no message time.
        "tasmota/tele_sensor_ds18b20.json": Expected(device: "ds1820", readings: [n(.temperature, 20.9)]),
        "tasmota/tele_sensor_ds18x20_multi.json": Expected(
            device: "tasmota_hall", readings: [n(.temperature, 13.3), n(.temperature, 1.2), n(.temperature, 22.5)],
            channels: ["DS18B20-1", "DS18B20-2", "DS18B20-3"]),
        // A detached input (PIR or reed, the payload does not say which): a boolean state.
        "tasmota/tele_sensor_switch1_on.json": Expected(device: "tasmota", readings: [b(.state, true)], channels: ["Switch1"]),
        // Wifi.RSSI is a 0–100 % quality.
        "tasmota/tele_state.json": Expected(device: "tasmota", readings: [b(.applianceOn, false), n(.linkQuality, 100)]),
        // ZbReceived Power is the relay state, not watts.
        "tasmota/zigbee_zbreceived_plug_power_int.json": Expected(device: "tasmota_hall", readings: [b(.applianceOn, true), n(.linkQuality, 229)],
                                                                  channels: ["SHP15", "SHP15"]),
        "tasmota/zigbee_zbreceived_power_bool.json": Expected(device: "tasmota", readings: [b(.applianceOn, true), n(.linkQuality, 52)],
                                                              channels: ["0x4773", "0x4773"]),
        "tasmota/zigbee_zbreceived_vibration_accel.json": Expected(device: "tasmota_hall", readings: [b(.vibration, true), n(.linkQuality, 158)]),
        // Zigbee2MQTT
        "zigbee2mqtt/availability_legacy_online.txt": Expected(device: "livingroom/window", readings: [b(.availability, true)]),
        "zigbee2mqtt/availability_offline.json": Expected(device: "bulb_color", readings: [b(.availability, false)]),
        "zigbee2mqtt/bridge_event_device_leave.json": Expected(device: "bridge", readings: []),
        "zigbee2mqtt/bridge_state_offline_lwt.json": Expected(device: "bridge", readings: [b(.availability, false)]),
        "zigbee2mqtt/button_WXKG11LM_single.json": Expected(device: "button", readings: [t(.button, "single"), n(.linkQuality, 10)]),
        // voltage is the battery in mV; device_temperature and power_outage_count are diagnostics and noise;
        // last_seen (stamped by the bridge's clock, with its zone) is the message time.
        "zigbee2mqtt/button_double_capture.json": Expected(
            device: "AZ_SWITCH01", readings: [t(.button, "single_right"), n(.battery, 100), n(.linkQuality, 76), n(.batteryVoltage, 3.055)],
            time: 1_704_838_885),
        "zigbee2mqtt/contact_MCCGQ01LM_closed_weak_lqi.json": Expected(
            device: "dining room/ac power", readings: [n(.battery, 100), b(.contact, true), n(.linkQuality, 12), n(.batteryVoltage, 3.025)],
            time: 1_652_703_278),
        // contact: false = open.
        "zigbee2mqtt/contact_MCCGQ01LM_open.json": Expected(
            device: "livingroom/ac power", readings: [n(.battery, 100), b(.contact, false), n(.linkQuality, 87), n(.batteryVoltage, 3.035)],
            time: 1_652_706_321),
        "zigbee2mqtt/docs_occupancy_RTCGQ01LM.json": Expected(device: "hall_sensor", readings: [b(.motion, true)]),
        // Zigbee2MQTT 1.x: illuminance_lux is the lux value, illuminance a raw one.
        "zigbee2mqtt/illuminance_capture.json": Expected(
            device: "OUT_BRIGHTNESS01", readings: [n(.battery, 100), n(.illuminance, 136), n(.linkQuality, 65), n(.batteryVoltage, 3.3)],
            time: 1_704_813_587),
        // 2.x: illuminance is lux.
        "zigbee2mqtt/motion_RTCGQ11LM_basic_report.json": Expected(
            device: "occupancy_sensor", readings: [n(.battery, 100), n(.illuminance, 381), n(.batteryVoltage, 3.045)]),
        "zigbee2mqtt/motion_capture_occupancy_true.json": Expected(
            device: "AZ_MOTION01",
            readings: [n(.battery, 100), n(.illuminance, 21), n(.linkQuality, 86), b(.motion, true), n(.batteryVoltage, 3.025)],
            time: 1_704_842_542),
        "zigbee2mqtt/sos_TS0215A_emergency.json": Expected(device: "hall_sensor", readings: [b(.sos, true)]),
        "zigbee2mqtt/temp_humidity_WSDCGQ01LM.json": Expected(
            device: "livingroom/temp_humidity",
            readings: [n(.battery, 100), n(.humidity, 65.59), n(.linkQuality, 90), n(.temperature, 25.84), n(.batteryVoltage, 3.035)],
            time: 1_652_704_674),
        "zigbee2mqtt/temp_humidity_pressure_capture.json": Expected(
            device: "AZ_TEMP",
            readings: [n(.battery, 83), n(.humidity, 76.55), n(.linkQuality, 99), n(.pressure, 1008.8), n(.temperature, 20.76),
                       n(.batteryVoltage, 2.975)], time: 1_704_842_238),
        "zigbee2mqtt/temperature_only_report.json": Expected(device: "hall_sensor", readings: [n(.temperature, -0.85)]),
        // action "vibration" beside vibration: true is one vibration, not two; angles and strength give nothing.
        "zigbee2mqtt/vibration_capture_action.json": Expected(
            device: "EG_GRID01", readings: [n(.battery, 100), n(.linkQuality, 70), b(.vibration, true), n(.batteryVoltage, 3.155)],
            time: 1_704_910_566),
        "zigbee2mqtt/water_leak_capture.json": Expected(
            device: "BAD_LEAK01",
            readings: [n(.battery, 100), n(.linkQuality, 73), b(.tamper, false), n(.batteryVoltage, 3.015), b(.waterLeak, true)],
            time: 1_704_912_168),
    ]

    static func stackEntries() throws -> [Fixtures.Entry] {
        try Fixtures.index().filter { DecoderTestConfig.stacks.contains($0.stack) }
    }

    @Test func everyFixtureOfTheStacksHasExpectations() throws {
        let entries = try Self.stackEntries()
        #expect(entries.count >= 50, "the fixture index looks truncated: \(entries.count) entries")
        let missing = entries.map(\.file).filter { Self.expectations[$0] == nil }
        #expect(missing.isEmpty, "fixtures without expectations in DecoderFixtureTests.expectations: \(missing)")
        let stale = Set(Self.expectations.keys).subtracting(entries.map(\.file))
        #expect(stale.isEmpty, "expectations for fixtures that are not in the index: \(stale.sorted())")
    }

    @Test(arguments: try DecoderFixtureTests.stackEntries())
    func fixtureDecodesToTheExpectedReadings(_ entry: Fixtures.Entry) throws {
        let expected = try #require(Self.expectations[entry.file], "no expectations for \(entry.file)")
        let router = try DecoderTestConfig.router()
        let topic = Fixtures.concreteTopic(entry)
        let bytes = try Fixtures.payload(entry.file)
        let (route, result) = try #require(router.decode(topic: topic, bytes: bytes), "no source routes \(topic)")
        let expectedFormat = entry.stack == "highrate" ? (entry.file.contains("senml") ? "senml" : "accel")
            : entry.stack
        #expect(route.format == expectedFormat, "\(entry.file): routed to \(route.format)")
        #expect(route.device == expected.device, "\(entry.file): device")
        let message: DecodedMessage
        switch result {
        case .success(let m): message = m
        case .failure(let e):
            Issue.record("\(entry.file) on \(topic): \(e)")
            return
        }
        expectReadings(message.readings, expected.readings, entry.file)
        if let time = expected.time {
            #expect(message.time.map { abs($0 - time) < 1e-6 } == true, "\(entry.file): time \(String(describing: message.time)), expected \(time)")
        } else if entry.stack != "highrate" {
            #expect(message.time == nil, "\(entry.file): a time was taken from an untrustworthy field")
        }
        if let channels = expected.channels {
            #expect(message.readings.compactMap(\.channel).sorted() == channels.sorted(), "\(entry.file): channels")
        }
        if let times = expected.sampleTimes {
            let got = try #require(message.sampleTimes)
            #expect(got.count == times.count && zip(got, times).allSatisfy { abs($0 - $1) < 1e-6 }, "\(entry.file): sample times \(got)")
        }
        // The stack's own words are kept: every reading names a field and keeps a raw value.
        for r in message.readings {
            if case .null = r.raw { Issue.record("\(entry.file): reading \(r.signal) has a null raw value") }
        }
    }

    @Test func rawValuesAreThePayloadsOwnValues() throws {
        let router = try DecoderTestConfig.router()
        let (_, r1) = try #require(router.decode(topic: "shellies/shellies/shellyem3/emeter/0/power", bytes: Array("0.00".utf8)))
        let power = try #require(try r1.get().readings.first)
        #expect(power.raw == .number(JSONNumber(0, text: "0.00")))
        if case .number(let n) = power.raw { #expect(n.text == "0.00") }
        #expect(power.field == "")
        let (_, r2) = try #require(router.decode(topic: "stat/pow1/STATUS8", bytes: try Fixtures.payload("tasmota/stat_status8_energy.json")))
        let fields = try r2.get().readings.map(\.field)
        #expect(fields.contains("StatusSNS.ENERGY.Power"))
        let (_, r3) = try #require(router.decode(topic: "shellies/plus1pm/events/rpc", bytes: try Fixtures.payload("shelly/gen2_notifystatus_voltage.json")))
        #expect(try r3.get().readings.map(\.field) == ["params.switch:0.voltage"])
        let (_, r4) = try #require(router.decode(topic: "tele/ds1820/SENSOR", bytes: try Fixtures.payload("tasmota/tele_sensor_ds18b20.json")))
        let temperature = try #require(try r4.get().readings.first)
        #expect(temperature.field == "DS18B20.Temperature" && temperature.unit == "°C" && temperature.channel == nil)
    }
}
