/// A stack's defaults: the topics it publishes on out of the box, the QoS to subscribe with, its decoder, and how
/// its topic grammar names the device. `{ "preset": NAME }` in a config is one of these.
///
/// Device names per preset:
/// - `zigbee2mqtt`: the friendly name, which may contain `/` and spaces: `zigbee2mqtt/dining room/ac power` →
///   `dining room/ac power`; a trailing `/availability` (and `/set`, `/get`) is not part of it; `zigbee2mqtt/bridge/…`
///   → `bridge`.
/// - `homeassistant`: the entity id, `homeassistant/<domain>/<entity>/<state|attribute|config>` → `<domain>.<entity>`
///   (statestream and discovery alike); with a discovery node id `…/<domain>/<node>/<object>/…` →
///   `<domain>.<node>/<object>`; `homeassistant/status` → `homeassistant`.
/// - `tasmota`: the `%topic%` level: `tele/tasmota_A1B2C3/SENSOR` → `tasmota_A1B2C3`.
/// - `shelly`: the levels before the stack's suffix, without a leading `shellies`: `shellies/shelly1/online` →
///   `shelly1`, `shellies/plus1pm/events/rpc` → `plus1pm`, `shellyplus1pm-4417939341dc/status/switch:0` →
///   `shellyplus1pm-4417939341dc`.
/// - `esphome`: the topic prefix (the node name): `livingroom_node/binary_sensor/hall/state` → `livingroom_node`.
/// - `owntracks`: `<user>/<device>`: `owntracks/jane/nokia/event` → `jane/nokia`.
public struct Preset: Sendable {
    /// The config name, also the name of its decoder in `DecoderRegistry`.
    public let name: String
    /// The default topic filters.
    public let filters: [String]
    /// The QoS to subscribe with: 1, so that alarms and state changes are not lost on a flaky link.
    public let qos: Int32
    let device: @Sendable (_ levels: [Substring]) -> String

    /// Every preset, in the order `check-config` lists them.
    public static let all: [Preset] = [
        Preset(name: "zigbee2mqtt", filters: ["zigbee2mqtt/#"], qos: 1) { levels in
            var rest = levels.dropFirst()
            if rest.first == "bridge" { return "bridge" }
            if rest.count >= 2, let last = rest.last, last == "availability" || last == "set" || last == "get" { rest = rest.dropLast() }
            return rest.joined(separator: "/")
        },
        Preset(name: "homeassistant", filters: ["homeassistant/#"], qos: 1) { levels in
            let rest = Array(levels.dropFirst())
            switch rest.count {
            case 0, 1: return "homeassistant"
            case 2: return "\(rest[0]).\(rest[1])"
            default: return "\(rest[0])." + rest[1..<(rest.count - 1)].joined(separator: "/")
            }
        },
        Preset(name: "tasmota", filters: ["tele/+/+", "stat/+/+"], qos: 1) { levels in
            levels.count >= 2 ? String(levels[1]) : levels.joined(separator: "/")
        },
        Preset(name: "shelly", filters: ["shellies/#", "+/events/rpc", "+/status/+", "+/online"], qos: 1) { levels in
            ShellyDecoder.device(topic: levels.joined(separator: "/"))
        },
        Preset(name: "esphome", filters: ["+/status", "+/sensor/+/state", "+/binary_sensor/+/state", "+/switch/+/state",
                                          "+/text_sensor/+/state", "+/light/+/state", "+/event/+/state"], qos: 1) { levels in
            String(levels.first ?? "")
        },
        Preset(name: "owntracks", filters: ["owntracks/+/+", "owntracks/+/+/+"], qos: 1) { levels in
            levels.count >= 3 ? "\(levels[1])/\(levels[2])" : levels.dropFirst().joined(separator: "/")
        },
    ]

    init(name: String, filters: [String], qos: Int32, device: @escaping @Sendable ([Substring]) -> String) {
        self.name = name; self.filters = filters; self.qos = qos; self.device = device
    }

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name } }

    /// The device a topic of this stack names (the topic is assumed to match one of `filters`).
    public func deviceName(topic: String) -> String {
        device(topic.split(separator: "/", omittingEmptySubsequences: false))
    }
}
