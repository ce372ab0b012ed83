import Anomaly
import CareSupport
import SensorIngest
import TestSupport
import Testing

/// The configuration of the shared `fixtures.py` check: the six presets (sorted by name, as the check lists them),
/// an accelerometer source, a SenML source and two Home Assistant topic sources.
enum DecoderTestConfig {
    static let sources: [SourceConfiguration] = [
        SourceConfiguration(preset: "esphome"), SourceConfiguration(preset: "homeassistant"),
        SourceConfiguration(preset: "owntracks"), SourceConfiguration(preset: "shelly"),
        SourceConfiguration(preset: "tasmota"), SourceConfiguration(preset: "zigbee2mqtt"),
        SourceConfiguration(topic: "wearable/+/accel", format: "accel", placement: .wrist),
        SourceConfiguration(topic: "senml/#", format: "senml"),
        SourceConfiguration(topic: "home-assistant/#", format: "homeassistant"),
        SourceConfiguration(topic: "pub/#", format: "homeassistant"),
    ]

    static func router(options: DecoderOptions = DecoderOptions()) throws -> SourceRouter {
        try SourceRouter(sources: sources, options: options)
    }

    /// Stacks whose fixtures must all be in the expectation table.
    static let stacks: Set<String> = ["zigbee2mqtt", "homeassistant", "tasmota", "shelly", "esphome", "owntracks", "highrate"]
}

extension SourceRouter {
    /// Routes and decodes a byte array; the result is the error or the message.
    func decode(topic: String, bytes: [UInt8]) -> (route: Route, result: Result<DecodedMessage, DecodeError>)? {
        guard let route = route(topic: topic) else { return nil }
        let result: Result<DecodedMessage, DecodeError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(DecodeError) in try route.decode(topic: topic, payload: buffer) }
        }
        return (route, result)
    }
}

extension PayloadDecoder {
    func result(topic: String, device: String = "d", _ text: String) -> Result<DecodedMessage, DecodeError> {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { buffer in
            Result { () throws(DecodeError) in try decode(topic: topic, device: device, payload: buffer) }
        }
    }

    /// Decodes text, failing the calling test with the error when there is one.
    func readings(topic: String, device: String = "d", _ text: String) throws -> [Reading] {
        try result(topic: topic, device: device, text).get().readings
    }
}

/// Approximate equality of reading values (numbers within 1e-9 relative).
func approximatelyEqual(_ a: ReadingValue, _ b: ReadingValue) -> Bool {
    func close(_ x: Double, _ y: Double) -> Bool { abs(x - y) <= 1e-9 * max(1, abs(x), abs(y)) }
    switch (a, b) {
    case (.number(let x), .number(let y)): return close(x, y)
    case (.series(let x), .series(let y)): return x.count == y.count && zip(x, y).allSatisfy(close)
    default: return a == b
    }
}

/// Records an issue for each expected (signal, value) missing from `readings` (in any order) and for each reading
/// left over.
func expectReadings(_ readings: [Reading], _ expected: [(SignalKind, ReadingValue)], _ file: String,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    var unmatched = readings
    for (signal, value) in expected {
        if let i = unmatched.firstIndex(where: { $0.signal == signal && approximatelyEqual($0.value, value) }) {
            unmatched.remove(at: i)
        } else {
            Issue.record("\(file): expected \(signal) = \(value); got \(readings.map { "\($0.signal)=\($0.value)" })",
                         sourceLocation: sourceLocation)
        }
    }
    #expect(unmatched.isEmpty, "\(file): unexpected readings \(unmatched.map { "\($0.signal)=\($0.value) (\($0.field))" })",
            sourceLocation: sourceLocation)
}
