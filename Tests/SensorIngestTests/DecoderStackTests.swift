import Anomaly
import CareSupport
import SensorIngest
import Testing

/// Stack semantics beyond the fixtures: unit conversions, inverted booleans, untrusted times, null values.
@Suite("Decoder stack semantics")
struct DecoderStackTests {
    func pairs(_ readings: [Reading]) -> [String] { readings.map { "\($0.signal)=\($0.value)" } }

    @Test func zigbee2mqttSkipsNullsAndTellsMainsVoltageFromBatteryMillivolts() throws {
        let d = Zigbee2MQTTDecoder()
        let plug = try d.readings(topic: "zigbee2mqtt/kettle plug", #"{"state":"ON","power":1843.5,"voltage":231.4,"current":8.1,"energy":12.7,"battery":null,"update":{"state":"idle"}}"#)
        #expect(pairs(plug) == ["appliance_on=bool(true)", "power=number(1843.5)", "voltage=number(231.4)", "current=number(8.1)", "energy=number(12.7)"])
        let sensor = try d.readings(topic: "zigbee2mqtt/door", #"{"contact":null,"voltage":2985,"action":""}"#)
        #expect(pairs(sensor) == ["battery_voltage=number(2.985)"])
        let cover = try d.readings(topic: "zigbee2mqtt/blind", #"{"state":"OPEN","position":40}"#)
        #expect(cover.isEmpty, "a cover's OPEN is not an appliance being on")
    }

    @Test func zigbee2mqttVendorFallAndSOSActions() throws {
        let d = Zigbee2MQTTDecoder()
        #expect(pairs(try d.readings(topic: "zigbee2mqtt/radar", #"{"presence":true,"fall_down_status":"fall"}"#))
                == ["motion=bool(true)", "fall=bool(true)"])
        #expect(pairs(try d.readings(topic: "zigbee2mqtt/radar", #"{"fall_down_status":"none"}"#)) == ["fall=bool(false)"])
        #expect(pairs(try d.readings(topic: "zigbee2mqtt/pendant", #"{"action":"sos","battery":90}"#)) == ["sos=bool(true)", "battery=number(90.0)"])
        #expect(pairs(try d.readings(topic: "zigbee2mqtt/smoke", #"{"smoke":true,"carbon_monoxide":false}"#))
                == ["smoke=bool(true)", "carbon_monoxide=bool(false)"])
    }

    @Test func zigbee2mqttAttributeOutputAndIgnoredTopics() throws {
        let d = Zigbee2MQTTDecoder()
        #expect(pairs(try d.readings(topic: "zigbee2mqtt/hall/occupancy", "true")) == ["motion=bool(true)"])
        #expect(try d.readings(topic: "zigbee2mqtt/hall/set", #"{"state":"ON"}"#).isEmpty, "a command is not a state")
        #expect(try d.readings(topic: "zigbee2mqtt/bridge/devices", "[not even json").isEmpty)
        if case .failure(let e) = d.result(topic: "zigbee2mqtt/hall", "42") { #expect(e.code == .wrongType) } else { Issue.record("a bare number on a device topic decoded") }
    }

    @Test func tasmotaConvertsFahrenheitAndNamesSeveralSensors() throws {
        let d = TasmotaDecoder()
        let r = try d.readings(topic: "tele/attic/SENSOR", #"{"Time":"2024-01-01T00:00:00","AM2301":{"Temperature":68.0,"Humidity":40.1},"DS18B20":{"Temperature":32},"TempUnit":"F"}"#)
        #expect(r.count == 3)
        #expect(approximatelyEqual(r[0].value, .number(20)) && r[0].channel == "AM2301")
        #expect(approximatelyEqual(r[2].value, .number(0)) && r[2].channel == "DS18B20")
        #expect(r[1].channel == nil, "one humidity sensor: no channel")
        #expect(r[0].raw == .number(68), "raw keeps the device's Fahrenheit")
        let zoned = try d.result(topic: "tele/attic/SENSOR", #"{"Time":"2024-01-01T01:00:00+01:00","DS18B20":{"Temperature":20}}"#).get()
        #expect(zoned.time == 1_704_067_200, "a Time with a zone is epoch time")
    }

    @Test func tasmotaButtonsPowerTopicsAndZigbeeContacts() throws {
        let d = TasmotaDecoder()
        #expect(pairs(try d.readings(topic: "stat/hall/RESULT", #"{"Button1":{"Action":"DOUBLE"}}"#)) == ["button=text(\"double\")"])
        let power = try d.readings(topic: "stat/plug/POWER2", "OFF")
        #expect(pairs(power) == ["appliance_on=bool(false)"] && power.first?.channel == "POWER2")
        #expect(pairs(try d.readings(topic: "tele/zb/SENSOR", #"{"ZbReceived":{"0x662E":{"Name":"door","Contact":1}}}"#))
                == ["contact=bool(false)"], "Tasmota Contact 1 = open")
        #expect(try d.readings(topic: "tele/hall/INFO1", #"{"Module":"Sonoff"}"#).isEmpty)
        #expect(try d.readings(topic: "cmnd/hall/POWER", "ON").isEmpty, "a command is not a state")
    }

    @Test func shellyGen1UnitsAndEvents() throws {
        let d = ShellyDecoder()
        let energy = try d.readings(topic: "shellies/plug/relay/0/energy", "60000")
        #expect(pairs(energy) == ["energy=number(1.0)"], "watt-minutes to kWh")
        #expect(pairs(try d.readings(topic: "shellies/dw/sensor/state", "open")) == ["contact=bool(false)"])
        #expect(pairs(try d.readings(topic: "shellies/flood/sensor/flood", "true")) == ["water_leak=bool(true)"])
        let button = try d.readings(topic: "shellies/i3/input_event/1", #"{"event":"SS","event_cnt":4}"#)
        #expect(pairs(button) == ["button=text(\"double\")"] && button.first?.channel == "input:1")
        #expect(pairs(try d.readings(topic: "shellies/sw/relay/0", "overpower")) == ["appliance_on=bool(false)"])
    }

    @Test func shellyGen2EventsAndTrustedTime() throws {
        let d = ShellyDecoder()
        let push = try d.result(topic: "shellyi4-1/events/rpc", #"{"src":"shellyi4-1","method":"NotifyEvent","params":{"ts":1700000000.5,"events":[{"component":"input:2","id":2,"event":"long_push","ts":1700000000.5}]}}"#).get()
        #expect(pairs(push.readings) == ["button=text(\"long\")"] && push.readings.first?.channel == "input:2")
        #expect(push.time == 1_700_000_000.5)
        let battery = try d.readings(topic: "ht/status/devicepower:0", #"{"id":0,"battery":{"V":5.9,"percent":93},"external":{"present":false}}"#)
        #expect(pairs(battery) == ["battery=number(93.0)", "battery_voltage=number(5.9)"])
        #expect(pairs(try d.readings(topic: "smoke/events/rpc", #"{"method":"NotifyStatus","params":{"ts":5.2,"smoke:0":{"id":0,"alarm":true}}}"#))
                == ["smoke=bool(true)"])
        #expect(try d.readings(topic: "x/rpc", #"{"id":1,"result":{}}"#).isEmpty)
    }

    @Test func homeAssistantUnitsDeviceClassesAndVitals() throws {
        let d = HomeAssistantDecoder()
        #expect(pairs(try d.readings(topic: "homeassistant/sensor/linda_heart_rate/state", "72")) == ["heart_rate=number(72.0)"])
        #expect(pairs(try d.readings(topic: "homeassistant/sensor/linda_spo2/state", "97")) == ["spo2=number(97.0)"])
        let f = try d.readings(topic: "home/porch", #"{"state":"50","attributes":{"unit_of_measurement":"°F","device_class":"temperature"}}"#)
        #expect(f.count == 1 && f[0].signal == .temperature && approximatelyEqual(f[0].value, .number(10)))
        let bpm = try d.readings(topic: "home/watch", #"{"state":"64","attributes":{"unit_of_measurement":"bpm"}}"#)
        #expect(pairs(bpm) == ["heart_rate=number(64.0)"])
        let f2 = try d.readings(topic: "home/porch", #"{"state":71.6,"attributes":{"unit_of_measurement":"°F"}}"#)
        #expect(f2.first?.value == .number(22), "conversions are rounded to 1e-9 °C, not 21.999999999999996")
        if case .failure(let e) = d.result(topic: "home/meter", #"{"state":"1e306","attributes":{"unit_of_measurement":"kW"}}"#) {
            #expect(e.code == .outOfRange)
        } else { Issue.record("a conversion overflowing to infinity decoded") }
        let door = try d.readings(topic: "home/x", #"{"state":"on","attributes":{"device_class":"door"}}"#)
        #expect(pairs(door) == ["contact=bool(false)"], "a door that is on is open")
        #expect(pairs(try d.readings(topic: "homeassistant/binary_sensor/hall_motion/state", "off")) == ["motion=bool(false)"])
        #expect(pairs(try d.readings(topic: "homeassistant/switch/kettle/state", "on")) == ["appliance_on=bool(true)"])
        #expect(pairs(try d.readings(topic: "homeassistant/sensor/x/state", "unavailable")) == ["availability=bool(false)"])
        #expect(try d.readings(topic: "homeassistant/sensor/x/state", "unknown").isEmpty)
        #expect(try d.readings(topic: "homeassistant/sensor/x/unit_of_measurement", #""bpm""#).isEmpty)
        #expect(pairs(try d.readings(topic: "homeassistant/status", "online")) == ["availability=bool(true)"])
    }

    @Test func esphomeNamesGiveMeaning() throws {
        let d = ESPHomeDecoder()
        #expect(pairs(try d.readings(topic: "node/binary_sensor/hall_motion/state", "ON")) == ["motion=bool(true)"])
        #expect(pairs(try d.readings(topic: "node/binary_sensor/front_door/state", "ON")) == ["contact=bool(false)"])
        #expect(pairs(try d.readings(topic: "node/sensor/bedroom_temperature/state", "19.5")) == ["temperature=number(19.5)"])
        #expect(try d.readings(topic: "node/sensor/bedroom_temperature/state", "nan").isEmpty)
        #expect(pairs(try d.readings(topic: "node/sensor/wifi_signal/state", "-61")) == ["measurement=number(-61.0)"])
        #expect(pairs(try d.readings(topic: "node/light/lamp/state", #"{"state":"OFF","brightness":0}"#)) == ["appliance_on=bool(false)"])
        #expect(pairs(try d.readings(topic: "node/event/doorbell/state", #"{"event_type":"single"}"#)) == ["button=text(\"single\")"])
    }

    @Test func ownTracksRefusesEncryptedPayloadsWithAFix() throws {
        let d = OwnTracksDecoder()
        guard case .failure(let e) = d.result(topic: "owntracks/a/b", #"{"_type":"encrypted","data":"abc"}"#) else {
            Issue.record("an encrypted payload decoded"); return
        }
        #expect(e.code == .unsupported && e.message.contains("encryption"))
        #expect(pairs(try d.readings(topic: "owntracks/a/b", #"{"_type":"lwt","tst":1}"#)) == ["availability=bool(false)"])
        if case .failure(let m) = d.result(topic: "owntracks/a/b", #"{"_type":"location","lat":"north","lon":2}"#) { #expect(m.message.contains("lat")) }
        else { Issue.record("a wrong latitude decoded") }
    }

    @Test func vitalsFormat() throws {
        let d = VitalsDecoder()
        let m = try d.result(topic: "watch/vitals", #"{"t":1763856000,"heart_rate":58,"spo2":96}"#).get()
        #expect(pairs(m.readings) == ["heart_rate=number(58.0)", "spo2=number(96.0)"])
        #expect(m.readings.map(\.unit) == ["bpm", "%"] && m.time == 1_763_856_000)
        #expect(pairs(try d.readings(topic: "w", #"{"heart_rate":61}"#)) == ["heart_rate=number(61.0)"])
        for bad in [#"{"t":1}"#, #"{"spo2":140}"#, #"{"heart_rate":"fast"}"#, "[]", #"{"heart_rate":60,"t":"noon"}"#] {
            if case .success = d.result(topic: "w", bad) { Issue.record("\(bad) decoded") }
        }
    }

    @Test func senmlResolvesBaseValuesAndRelativeTimes() throws {
        let d = SenMLDecoder()
        let m = try d.result(topic: "senml/x", #"[{"bn":"room1/","bt":1700000000,"n":"temp","u":"Cel","v":21.5},{"n":"hum","u":"%RH","v":40,"t":1},{"n":"door","vb":true}]"#).get()
        #expect(pairs(m.readings) == ["temperature=number(21.5)", "humidity=number(40.0)", "contact=bool(false)"])
        #expect(m.readings.map(\.field) == ["room1/temp", "room1/hum", "room1/door"])
        #expect(m.readings[1].time == 1_700_000_001)
        let relative = try d.result(topic: "senml/x", #"[{"n":"temp","u":"K","v":293.15,"t":-3}]"#).get()
        #expect(relative.time == nil && relative.readings.first?.time == nil, "times below 2^28 are relative to now")
        #expect(approximatelyEqual(relative.readings[0].value, .number(20)))
        if case .failure(let e) = d.result(topic: "s", #"[{"n":"a","v":1,"x_":2}]"#) { #expect(e.code == .unsupported) } else { Issue.record("must-understand field accepted") }
        if case .failure(let e) = d.result(topic: "s", #"[{"bver":11,"n":"a","v":1}]"#) { #expect(e.code == .unsupported) } else { Issue.record("bver 11 accepted") }
        if case .failure(let e) = d.result(topic: "s", #"[{"n":"a","v":1,"vs":"x"}]"#) { #expect(e.code == .outOfRange) } else { Issue.record("two values accepted") }
    }

    @Test func decodersAreSendableValuesUsableFromManyThreads() async throws {
        let router = try DecoderTestConfig.router()
        let payload = Array(#"{"occupancy":true,"battery":90}"#.utf8)
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var n = 0
                    for _ in 0..<200 {
                        if case .success(let m)? = router.decode(topic: "zigbee2mqtt/hall", bytes: payload)?.result { n += m.readings.count }
                    }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        #expect(counts == 8 * 200 * 2)
    }
}
