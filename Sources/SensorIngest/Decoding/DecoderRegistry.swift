/// The one table from a config's decoder name (`"format": NAME`, and each preset's decoder) to the decoder.
///
/// Adding a decoder: write one file implementing `PayloadDecoder`, add one line here, add its fixtures and their
/// expectations to `DecoderFixtureTests`. Nothing else lists decoder names.
public enum DecoderRegistry {
    public typealias Factory = @Sendable (DecoderOptions) -> any PayloadDecoder

    public struct Entry: Sendable {
        public let name: String
        /// One line for `check-config` and docs.
        public let summary: String
        public let make: Factory
    }

    public static let entries: [Entry] = [
        Entry(name: "zigbee2mqtt", summary: "Zigbee2MQTT device state, availability and bridge state",
              make: { Zigbee2MQTTDecoder(options: $0) }),
        Entry(name: "homeassistant", summary: "Home Assistant MQTT states, statestream and discovery",
              make: { HomeAssistantDecoder(options: $0) }),
        Entry(name: "tasmota", summary: "Tasmota tele/stat messages, including its Zigbee bridge",
              make: { TasmotaDecoder(options: $0) }),
        Entry(name: "shelly", summary: "Shelly Gen1 topics and Gen2/Gen3 RPC notifications",
              make: { ShellyDecoder(options: $0) }),
        Entry(name: "esphome", summary: "ESPHome status and entity state topics",
              make: { ESPHomeDecoder(options: $0) }),
        Entry(name: "owntracks", summary: "OwnTracks locations, region transitions and waypoints",
              make: { OwnTracksDecoder(options: $0) }),
        Entry(name: "accel", summary: "accelerometer batches (t0/hz or t[] with x, y, z), SenML and Edge Impulse",
              make: { AccelDecoder(options: $0) }),
        Entry(name: "senml", summary: "SenML (RFC 8428) packs of any measurement",
              make: { SenMLDecoder(options: $0) }),
        Entry(name: "vitals", summary: "{\"t\", \"heart_rate\", \"spo2\"} from a wearable",
              make: { VitalsDecoder(options: $0) }),
    ]

    /// The known names, in table order.
    public static var names: [String] { entries.map(\.name) }

    public static func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// A new decoder for `name`, or an error listing the known names.
    public static func make(_ name: String, options: DecoderOptions = DecoderOptions()) throws(UnknownDecoderError) -> any PayloadDecoder {
        guard let entry = entry(named: name) else { throw UnknownDecoderError(name: name) }
        return entry.make(options)
    }
}

/// A decoder name that is not in `DecoderRegistry`.
public struct UnknownDecoderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var description: String {
        "unknown format \"\(name)\"; known formats: \(DecoderRegistry.names.joined(separator: ", "))"
    }
}
