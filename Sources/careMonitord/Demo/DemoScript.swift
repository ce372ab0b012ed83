import CareSupport

#if canImport(Glibc)
import Glibc
#endif

/// What the demo plays: a recorded week of Linda's home to learn from, and her wristband in real time.
enum DemoScript {
    /// One capture line as `mosquitto_sub -F %j` writes it.
    static func captureLine(time: Double, topic: String, payload: String) -> String {
        let o: JSONObject = ["tst": .string(String(Timestamp.rfc3339(time).dropLast()) + "000Z+0000"), "topic": .string(topic),
                             "qos": 1, "retain": 0, "payloadlen": .number(Double(payload.utf8.count)), "payload": .string(payload)]
        return JSONWriter.serialize(.object(o))
    }

    /// Seven days of an ordinary routine ending `end` (epoch seconds): up about 07:00, bathroom, kettle, the
    /// kitchen and living room through the day, the front door once, bed about 22:30. Times vary by a few minutes
    /// each day, the way a real week does.
    static func week(endingAt end: Double) -> [String] {
        var lines: [String] = []
        var random = SplitMix64(seed: 7)
        func jitter(_ minutes: Double) -> Double { (random.unit() - 0.5) * 2 * minutes * 60 }
        let day0 = (end / 86_400).rounded(.down) * 86_400 - 7 * 86_400
        func motion(_ t: Double, _ device: String) {
            guard t < end - 60 else { return }
            lines.append(captureLine(time: t, topic: "zigbee2mqtt/\(device)", payload: #"{"occupancy":true,"battery":90,"linkquality":110}"#))
        }
        for d in 0..<8 {
            let base = day0 + Double(d) * 86_400
            let up = base + 7 * 3600 + jitter(20)
            lines.append(captureLine(time: up, topic: "zigbee2mqtt/bedroom bed", payload: #"{"occupancy":false,"battery":88}"#))
            motion(up + 120, "bathroom motion")
            motion(up + 900, "kitchen motion")
            var t = up + 1800
            while t < base + 22.5 * 3600 {
                motion(t, random.unit() < 0.5 ? "kitchen motion" : "living room motion")
                if random.unit() < 0.15 { motion(t + 300, "bathroom motion") }
                t += 1800 + jitter(15)
            }
            let out = base + 10.5 * 3600 + jitter(30)
            if out < end - 60 {
                lines.append(captureLine(time: out, topic: "zigbee2mqtt/front door", payload: #"{"contact":false,"battery":97}"#))
                lines.append(captureLine(time: out + 30, topic: "zigbee2mqtt/front door", payload: #"{"contact":true,"battery":97}"#))
            }
            let bed = base + 22.5 * 3600 + jitter(20)
            if bed < end - 60 {
                lines.append(captureLine(time: bed, topic: "zigbee2mqtt/bedroom bed", payload: #"{"occupancy":true,"battery":88}"#))
            }
        }
        // Seen a moment ago, wherever the week ends.
        motion(end - 90, "kitchen motion")
        return lines.sorted()
    }

    /// A wrist accelerometer in g, 50 Hz: walking, or a fall (falling half a second while turning over, a hard
    /// impact, then lying still on her side).
    struct Wristband {
        static let hz = 50.0
        var random = SplitMix64(seed: 11)

        mutating func walking(_ n: Int, from t0: Double) -> [(Double, Double, Double)] {
            (0..<n).map { i in
                let u = t0 + Double(i) / Self.hz
                let bob = 1 + 0.25 * sin(2 * .pi * 1.8 * u)
                return (0.12 * sin(2 * .pi * 0.9 * u) + noise(), -bob + noise(), 0.08 * cos(2 * .pi * 1.8 * u) + noise())
            }
        }

        mutating func fall(then lying: Int) -> [(Double, Double, Double)] {
            var out: [(Double, Double, Double)] = []
            func gravity(_ tilt: Double) -> (Double, Double) { let r = tilt * .pi / 180; return (-cos(r), -sin(r)) }
            for i in 0..<25 {  // 0.5 s falling, turning 85°
                let u = Double(i) / 25
                let (y, z) = gravity(85 * u)
                let k = 1 - 0.7 * sin(.pi * u)
                out.append((noise(), y * k + noise(), z * k + noise()))
            }
            for i in 0..<8 {  // the impact, 3.5 g at its peak
                let k = 1 + 2.5 * (1 - abs(Double(i) - 3.5) / 4)
                let (y, z) = gravity(85)
                out.append((noise(), y * k, z * k))
            }
            for _ in 0..<lying {
                let (y, z) = gravity(85)
                out.append((noise() * 0.3, y + noise() * 0.3, z + noise() * 0.3))
            }
            return out
        }

        private mutating func noise() -> Double { (random.unit() - 0.5) * 0.04 }

        /// The `accel` payload of samples starting at `t0`.
        static func payload(_ samples: ArraySlice<(Double, Double, Double)>, t0: Double) -> String {
            func list(_ f: ((Double, Double, Double)) -> Double) -> String {
                samples.map { JSONWriter.format((f($0) * 1000).rounded() / 1000) }.joined(separator: ",")
            }
            return "{\"t0\":\(JSONWriter.format((t0 * 1000).rounded() / 1000)),\"hz\":50,\"unit\":\"g\",\"x\":[\(list { $0.0 })],\"y\":[\(list { $0.1 })],\"z\":[\(list { $0.2 })]}"
        }
    }
}
