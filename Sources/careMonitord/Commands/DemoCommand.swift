import Anomaly
import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord demo`: a self-contained tour on a private broker. Starts mosquitto on a free loopback port,
/// connects careMonitord's MQTT client with a config of all six presets and a wristband, publishes a morning of
/// Linda's home in real payloads of each stack, and prints every sample the detector thread receives.
enum DemoCommand {
    static let usage = "careMonitord demo"

    /// (what happens, topic, payload): real payload shapes of each stack (see ../shared/fixtures/mqtt).
    static let morning: [(String, String, String)] = [
        ("Linda gets out of bed (Zigbee2MQTT bed-occupancy sensor)",
         "zigbee2mqtt/bedroom/bed", #"{"occupancy":false,"battery":91,"linkquality":120}"#),
        ("the hall motion sensor sees her (Zigbee2MQTT, Aqara RTCGQ11LM)",
         "zigbee2mqtt/hall/motion", #"{"battery":87,"illuminance":35,"illuminance_lux":35,"linkquality":96,"occupancy":true,"temperature":19,"voltage":2995}"#),
        ("the bathroom door opens (Zigbee2MQTT: contact false = open)",
         "zigbee2mqtt/bathroom door", #"{"battery":100,"contact":false,"linkquality":140,"voltage":3025}"#),
        ("the kettle plug draws power (Tasmota)",
         "tele/kettle_plug/SENSOR", #"{"Time":"2026-11-23T07:12:03","ENERGY":{"TotalStartTime":"2025-01-01T00:00:00","Total":12.310,"Yesterday":0.402,"Today":0.110,"Power":2210,"ApparentPower":2215,"ReactivePower":140,"Factor":1.00,"Voltage":238,"Current":9.302}}"#),
        ("the kitchen relay reports on (Shelly Plus 1PM, Gen2 RPC)",
         "shellies/plus1pm-kitchen/status/switch:0", #"{"id":0, "source":"button", "output":true, "apower":8.9, "voltage":237.5, "current":0.04, "aenergy":{"total":6.532,"by_minute":[45.199,47.141,88.397],"minute_ts":1795417920}, "temperature":{"tC":23.5, "tF":74.4}}"#),
        ("the living room is 17.5 °C (ESPHome)",
         "livingroom_node/sensor/living_room_temperature/state", "17.5"),
        ("the thermostat's humidity (Home Assistant statestream)",
         "homeassistant/sensor/living_room_humidity/state", "\"48\""),
        ("her phone is at home (OwnTracks)",
         "owntracks/linda/phone", #"{"_type":"location","acc":12,"alt":65,"batt":78,"conn":"w","lat":53.8412,"lon":-1.5536,"tid":"li","tst":1795417935,"vac":3,"vel":0}"#),
        ("her wristband streams 0.5 s of movement at 50 Hz (format accel)",
         "wearable/band1/accel", DemoCommand.accelBatch()),
        ("she presses the SOS button (Zigbee2MQTT, TS0215A)",
         "zigbee2mqtt/sos button", #"{"action":"emergency","battery":95,"linkquality":88}"#),
        ("the SOS button's availability (Zigbee2MQTT)",
         "zigbee2mqtt/sos button/availability", #"{"state":"online"}"#),
    ]

    static func accelBatch() -> String {
        var x: [String] = [], y: [String] = [], z: [String] = []
        for i in 0..<25 {
            let t = Double(i) / 50
            x.append(JSONWriter.format((0.12 * sin(2 * .pi * 1.8 * t) * 1000).rounded() / 1000))
            y.append(JSONWriter.format(((-1 + 0.2 * sin(2 * .pi * 1.8 * t + 1)) * 1000).rounded() / 1000))
            z.append(JSONWriter.format(0.05))
        }
        return "{\"t0\":1795417936.0,\"hz\":50,\"unit\":\"g\",\"x\":[\(x.joined(separator: ","))],\"y\":[\(y.joined(separator: ","))],\"z\":[\(z.joined(separator: ","))]}"
    }

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "demo", args, valued: ["pause"])
        let pause = Double(a.value("pause") ?? "0.3") ?? 0.3
        let out = FileOutput.standardOutput
        let broker: PrivateBroker
        do { broker = try PrivateBroker() } catch {
            throw CommandError(exitCode: ExitCode.unavailable, message: "demo: \(error)")
        }
        defer { broker.stop() }
        out.writeLine("careMonitord demo: a private mosquitto on 127.0.0.1:\(broker.port)")
        let configText = """
        {"person": {"id": "linda", "timezone": "Europe/London"},
         "broker": {"host": "127.0.0.1", "port": \(broker.port)},
         "sources": [{"preset": "zigbee2mqtt"}, {"preset": "homeassistant"}, {"preset": "tasmota"},
                     {"preset": "shelly"}, {"preset": "esphome"}, {"preset": "owntracks"},
                     {"topic": "wearable/+/accel", "format": "accel", "placement": "wrist"}]}
        """
        out.writeLine("config:\n\(configText)\n")
        out.flush()
        let config: Configuration
        do {
            config = try Configuration.parse(try JSONParser.parseDocument(Array(configText.utf8)), file: "demo")
        } catch {
            throw CommandError(exitCode: ExitCode.software, message: "demo: built-in config: \(error)")
        }
        let routing = try makeRouting(config)
        let logger = Logger(label: "demo", minimumLevel: .warning)
        let pipeline = IngestPipeline(routing: routing, backpressure: .dropWhenFull, logger: logger)
        let printer = SamplePrinter(registry: pipeline.registry)
        let consumer = OSThread(name: "cm-detect") { [pipeline, printer] in pipeline.runConsumer(printer) }
        let clock = SystemClock()
        let client: MQTTClient
        do {
            client = try MQTTClient(configuration: try mqttConfiguration(config, routing: routing), logger: logger.child("mqtt")) {
                [pipeline] m in pipeline.ingest(topic: m.topic, payload: m.payload, arrival: clock.wallNow())
            }
            try client.start()
        } catch let e as CommandError {
            throw e
        } catch {
            throw CommandError(exitCode: ExitCode.unavailable, message: "demo: \(error)")
        }
        let deadline = clock.monotonicNow().advanced(bySeconds: 10)
        while !client.status.isSubscribed {
            guard clock.monotonicNow() < deadline else {
                client.stop(); pipeline.finish(); consumer.join()
                throw CommandError(exitCode: ExitCode.unavailable, message: "demo: the private broker did not confirm the subscriptions within 10 s: \(client.status.lastFault?.message ?? "no fault recorded")")
            }
            usleep(20_000)
        }
        out.writeLine("subscribed: \(routing.router.subscriptions.map { $0.filter }.joined(separator: "  "))\n")
        out.flush()
        for (what, topic, payload) in morning {
            printer.announce("\n▸ \(what)\n  \(topic)  \(payload.count > 110 ? String(payload.prefix(107)) + "…" : payload)")
            do { try client.publish(topic: topic, payload: payload, qos: .atLeastOnce) } catch {
                printer.announce("  publish failed: \(error)")
            }
            usleep(UInt32(pause * 1e6))
        }
        usleep(300_000)
        client.stop()
        pipeline.finish()
        consumer.join()
        let c = pipeline.counts
        out.writeLine("\n\(c.messages) messages: \(c.readings) readings and \(c.samples) accelerometer samples from \(pipeline.registry.count) signals; \(c.unmatched) unmatched, \(c.rejected) rejected, \(c.dropped) dropped.")
        out.writeLine("Next: `careMonitord explain` shows what any message of yours decodes to; `record` and `replay` keep and rerun a stream.")
        out.flush()
        return ExitCode.ok
    }
}

/// Prints each sample with its device and signal names (demo only: a real processor never prints per sample).
final class SamplePrinter: SampleProcessor, @unchecked Sendable {
    // @unchecked Sendable: `process` runs on the detector thread; `announce` on the main thread; both print
    // through `lock` so lines do not interleave.
    let registry: SignalRegistry
    let lock = Mutex<Int>(0)
    var accelerationLine: (SignalID, Int, Float)?

    init(registry: SignalRegistry) { self.registry = registry }

    func announce(_ text: String) {
        lock.withLock { _ in
            FileOutput.standardOutput.writeLine(text)
            FileOutput.standardOutput.flush()
        }
    }

    func process(_ sample: Sample) {
        guard let info = registry.info(sample.signal) else { return }
        let value: String
        switch info.kind {
        case .acceleration:
            let m = (sample.x * sample.x + sample.y * sample.y + sample.z * sample.z).squareRoot()
            if let (id, n, peak) = accelerationLine, id == sample.signal {
                accelerationLine = (id, n + 1, max(peak, m))
            } else {
                accelerationLine = (sample.signal, 1, m)
            }
            if accelerationLine!.1 % 25 != 0 { return }
            value = "\(accelerationLine!.1) samples, peak |a| = \((Double(accelerationLine!.2) * 1000).rounded() / 1000) g"
        case .motion, .contact, .sos, .fall, .waterLeak, .smoke, .carbonMonoxide, .applianceOn, .availability,
             .vibration, .tamper:
            value = sample.value != 0 ? "true" : "false"
        case .button, .region, .state:
            value = "\"\(registry.text(for: Int(sample.value), of: sample.signal) ?? "?")\""
        default:
            value = JSONWriter.format((sample.value * 1000).rounded() / 1000)
        }
        let line = "  \(Timestamp.rfc3339(sample.time).dropFirst(11))  \(info.deviceName)  \(info.kind) = \(value)"
        lock.withLock { _ in
            FileOutput.standardOutput.writeLine(line)
            FileOutput.standardOutput.flush()
        }
    }

    func advance(to time: Double) {}
}
