import CFuzzerDriver
import CareSupport
import SensorIngest
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer entry point: arbitrary bytes to every payload decoder, through the router.
///
/// Input layout: the first byte chooses the topic. Below 0xC0 it indexes `topics` (one per branch of every stack's
/// topic grammar) and the rest is the payload; from 0xC0 on, the topic is the bytes up to the first NUL (so the
/// fuzzer can invent topics, which also exercises `TopicFilter` and device naming) and the payload follows the NUL.
/// The message goes through the router as the daemon would route it, then through every decoder of the registry
/// with the same topic. Any trap is a finding; so are results that break the decoder contract (non-finite values,
/// series whose length differs from `sampleTimes`, empty error messages), which `check` turns into traps.
let topics: [String] = [
    "zigbee2mqtt/hall sensor", "zigbee2mqtt/living room/door/availability", "zigbee2mqtt/bridge/state",
    "zigbee2mqtt/bridge/event", "zigbee2mqtt/hall/occupancy",
    "homeassistant/binary_sensor/garden/state", "homeassistant/sensor/linda_heart_rate/state",
    "homeassistant/switch/irrigation/config", "homeassistant/light/bed/brightness", "homeassistant/status",
    "home-assistant/window/contact", "home-assistant/window/availability", "pub/fake/entity/bool",
    "tele/tasmota_hall/SENSOR", "tele/tasmota_hall/STATE", "tele/tasmota_hall/LWT", "tele/tasmota_hall/RESULT",
    "stat/pow1/STATUS8", "stat/pow1/RESULT", "stat/pow1/POWER1",
    "shellies/announce", "shellies/shelly1/online", "shellies/em3/emeter/0/power", "shellies/plug/relay/0",
    "shellies/plug/relay/0/energy", "shellies/motion/status", "shellies/ht/sensor/temperature", "shellies/i3/input_event/0",
    "shellies/plus1pm/events/rpc", "shellyplus1pm-1/status/switch:0", "shellyplus1pm-1/status/devicepower:0",
    "node/status", "node/binary_sensor/front_door/state", "node/sensor/bedroom_temperature/state",
    "node/light/lamp/state", "node/event/doorbell/state", "node/text_sensor/mode/state",
    "owntracks/jane/phone", "owntracks/jane/phone/event", "owntracks/jane/phone/waypoint",
    "wearable/band1/accel", "senml/meter1", "vitals/watch",
]

let router: SourceRouter = {
    let sources: [SourceConfiguration] = [
        SourceConfiguration(preset: "esphome"), SourceConfiguration(preset: "homeassistant"),
        SourceConfiguration(preset: "owntracks"), SourceConfiguration(preset: "shelly"),
        SourceConfiguration(preset: "tasmota"), SourceConfiguration(preset: "zigbee2mqtt"),
        SourceConfiguration(topic: "wearable/+/accel", format: "accel", placement: .wrist),
        SourceConfiguration(topic: "senml/#", format: "senml"),
        SourceConfiguration(topic: "vitals/+", format: "vitals"),
        SourceConfiguration(topic: "home-assistant/#", format: "homeassistant"),
        SourceConfiguration(topic: "pub/#", format: "homeassistant"),
    ]
    do { return try SourceRouter(sources: sources, options: DecoderOptions(maxPayloadBytes: 64 << 10)) } catch {
        fatalError("the fuzzer's own configuration is invalid: \(error)")
    }
}()

let decoders: [any PayloadDecoder] = DecoderRegistry.entries.map { $0.make(DecoderOptions(maxPayloadBytes: 64 << 10)) }
let accelReference = decoders.first { $0.name == "accel" }!
/// The hot path's zero-copy scanners, fed the same bytes: the accel fast path and the capture line reader.
let accelFastPath = AccelFastPath()
let captureLineReader = CaptureLineReader()

/// The accel fast path either declines (nil) or gives finite samples and times, as many as the reference decoder
/// gives when it accepts the same payload.
@inline(never)
func checkFastPath(_ payload: UnsafeRawBufferPointer) {
    guard let batch = accelFastPath.scan(payload) else { return }
    let f = accelFastPath
    precondition(batch.count > 0 && f.x.count == batch.count && f.y.count == batch.count && f.z.count == batch.count,
                 "accel fast path: axes of different lengths")
    for i in 0..<batch.count {
        precondition(f.x[i].isFinite && f.y[i].isFinite && f.z[i].isFinite, "accel fast path: non-finite sample")
        precondition(f.time(of: i, in: batch).isFinite, "accel fast path: non-finite time")
    }
    if let m = try? accelReference.decode(topic: "wearable/band1/accel", device: "fuzz", payload: payload),
       let n = m.sampleTimes?.count {
        precondition(n == batch.count, "accel fast path: \(batch.count) samples, the reference decoder \(n)")
    }
}

@inline(never)
func check(_ result: Result<DecodedMessage, DecodeError>, _ decoder: String, _ topic: String) {
    switch result {
    case .failure(let e):
        precondition(!e.message.isEmpty, "\(decoder) on \(topic): an error without a message")
    case .success(let m):
        var seriesCount: Int?
        for r in m.readings {
            switch r.value {
            case .number(let v): precondition(v.isFinite, "\(decoder) on \(topic): non-finite \(r.signal)")
            case .series(let s):
                precondition(s.allSatisfy(\.isFinite), "\(decoder) on \(topic): non-finite sample")
                if let n = seriesCount { precondition(n == s.count, "\(decoder) on \(topic): axes of different lengths") }
                seriesCount = s.count
            case .bool, .text: break
            }
            if let t = r.time { precondition(t.isFinite, "\(decoder) on \(topic): non-finite reading time") }
        }
        if let n = seriesCount {
            precondition(m.sampleTimes?.count == n, "\(decoder) on \(topic): sampleTimes do not match the series")
        }
        if let t = m.time { precondition(t.isFinite, "\(decoder) on \(topic): non-finite message time") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let topic: String
    let payload: UnsafeRawBufferPointer
    if input[0] < 0xC0 {
        topic = topics[Int(input[0]) % topics.count]
        payload = UnsafeRawBufferPointer(rebasing: input[1...])
    } else {
        let rest = UnsafeRawBufferPointer(rebasing: input[1...])
        guard let nul = rest.firstIndex(of: 0) else { return 0 }
        topic = String(decoding: UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<nul]), as: UTF8.self)
        payload = UnsafeRawBufferPointer(rebasing: rest[(nul + 1)...])
        _ = try? TopicFilter(topic)
    }
    checkFastPath(payload)
    // The whole input as one capture line (mosquitto_sub -F %j / %J): parsed or refused, never a trap.
    _ = captureLineReader.read(input) { line in
        precondition(line.time.isFinite && line.topic.count > 0, "capture line reader: a line without time or topic")
        checkFastPath(line.payload)
    }
    if let route = router.route(topic: topic) {
        let result = Result { () throws(DecodeError) in try route.decode(topic: topic, payload: payload) }
        check(result, route.format, topic)
    }
    for decoder in decoders {
        let result = Result { () throws(DecodeError) in try decoder.decode(topic: topic, device: "fuzz", payload: payload) }
        check(result, decoder.name, topic)
    }
    return 0
}

/// Starts libFuzzer with `fuzzOne`. SwiftPM links an executable's own `main`; libFuzzer's `main` would only be used
/// when none is given, so this one hands the command line (libFuzzer flags, corpus directories) to libFuzzer's driver.
@main
enum DecoderFuzzerMain {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            guard let data else { return 0 }
            return fuzzOne(data, size)
        }
        exit(status)
    }
}
