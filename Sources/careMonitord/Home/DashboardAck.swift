import CareSupport
import Escalation

/// An answer from the Home Assistant dashboard: its buttons publish `{"incident": ID, "action": "claim", "eta": 15}`
/// on `caremonitord/<person>/dashboard/ack`, which the broker's ACL lets only the dashboard's MQTT user publish
/// (`examples/mosquitto-acl.conf`); so the answer is the configured `homeAssistant.dashboardMember`'s, proven by the
/// channel, and no token ever sits in a dashboard's config.
enum DashboardAck {
    static func topic(person: String) -> String { "caremonitord/\(person)/dashboard/ack" }

    static func decode(_ payload: [UInt8], member: String) -> Result<Ack, AckDecodingError> {
        let v: JSONValue
        do { v = try JSONParser.parse(payload) } catch {
            return .failure(AckDecodingError(message: "not JSON (\(error)); send {\"incident\": ID, \"action\": \"claim\"}"))
        }
        guard let incident = v["incident"]?.stringValue, !incident.isEmpty, incident != "none", incident != "unknown" else {
            return .failure(AckDecodingError(message: "no open incident named (\"incident\" is \(v["incident"].map { JSONWriter.serialize($0) } ?? "missing"))"))
        }
        var o = JSONObject()
        o["member"] = .string(member)
        o["action"] = v["action"] ?? .null
        if let eta = v["eta"] { o["eta"] = eta }
        return Ack.decode(incident: incident, payload: Array(JSONWriter.serialize(.object(o)).utf8), via: "dashboard").map { a in
            var a = a
            a.proof = .channel
            return a
        }
    }
}
