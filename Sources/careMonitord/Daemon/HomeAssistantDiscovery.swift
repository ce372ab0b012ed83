import CareSupport
import Escalation

/// Home Assistant MQTT discovery: one retained `<prefix>/<component>/caremonitord_<person>/<object>/config` per
/// entity, as Home Assistant documents it (`unique_id`, `device`, `origin`, `availability_topic`, `state_topic` +
/// `value_template`, `json_attributes_topic`; buttons with `command_topic` + `command_template`). One device per
/// person; every entity reads the live state topics (`LiveState`) and is unavailable while the daemon is offline.
/// The buttons answer as `homeAssistant.dashboardMember` through `caremonitord/<person>/dashboard/ack`, naming the
/// latest open incident; no token is in any of them.
enum HomeAssistantDiscovery {
    struct Entity {
        var component: String
        var object: String
        var config: JSONObject
    }

    static func node(_ person: String) -> String { "caremonitord_\(person)" }

    /// Every entity for `config`'s person (empty when `homeAssistant.enabled` is false).
    static func entities(_ config: Configuration) -> [Entity] {
        guard config.homeAssistant.enabled else { return [] }
        let person = config.person.id
        let name = config.escalation?.person.name ?? config.person.name ?? person
        let node = node(person)
        let incidents = LiveState.incidentsTopic(person: person)
        let coverage = LiveState.coverageTopic(person: person)
        let circle = LiveState.circleTopic(person: person)
        var out: [Entity] = []
        func add(_ component: String, _ object: String, _ title: String, _ fields: JSONObject) {
            var c = JSONObject()
            c["name"] = .string(title)
            c["unique_id"] = .string("\(node)_\(object)")
            c["default_entity_id"] = .string("\(component).\(node)_\(object)")
            c["availability_topic"] = .string(LiveState.statusTopic(person: person))
            c["payload_available"] = "online"
            c["payload_not_available"] = "offline"
            c["device"] = .object(["identifiers": .array([.string(node)]), "name": .string("\(name) (careMonitord)"),
                                   "manufacturer": "careMonitord", "model": "circle of care gateway",
                                   "sw_version": .string(CareMonitord.version)])
            c["origin"] = .object(["name": "careMonitord", "sw_version": .string(CareMonitord.version)])
            for m in fields.members { c[m.key] = m.value }
            out.append(Entity(component: component, object: object, config: c))
        }
        func state(_ topic: String, _ template: String, attributes: Bool = true) -> JSONObject {
            var o: JSONObject = ["state_topic": .string(topic), "value_template": .string(template)]
            if attributes { o["json_attributes_topic"] = .string(topic) }
            return o
        }
        var open = state(incidents, "{{ 'ON' if value_json.open > 0 else 'OFF' }}")
        open["device_class"] = "problem"
        add("binary_sensor", "incident_open", "Incident open", open)
        for p in LiveState.protections {
            var o = state(coverage, "{{ 'ON' if value_json.protections.\(p.id).working else 'OFF' }}", attributes: false)
            o["device_class"] = "running"
            o["icon"] = "mdi:shield-check"
            add("binary_sensor", "protection_\(p.id)", "Protection: \(p.name)", o)
        }
        var count = state(incidents, "{{ value_json.open }}", attributes: false)
        count["state_class"] = "measurement"
        count["icon"] = "mdi:alert"
        add("sensor", "open_incidents", "Open incidents", count)
        add("sensor", "incident", "Latest open incident", state(incidents, "{{ value_json.latest }}", attributes: false))
        var going = state(incidents, "{{ value_json.going }}")
        going["icon"] = "mdi:car"
        add("sensor", "going", "Who is going", going)
        var last = state(coverage, "{{ value_json.lastActivityText }}", attributes: false)
        last["icon"] = "mdi:walk"
        add("sensor", "last_activity", "Last activity", last)
        var away = state(coverage, "{{ value_json.awayText }}", attributes: false)
        away["icon"] = "mdi:bag-suitcase"
        add("sensor", "away", "Away", away)
        var coverageText = state(coverage, "{{ value_json.lines | join('; ') | truncate(250) }}")
        coverageText["icon"] = "mdi:shield-home"
        add("sensor", "coverage", "Coverage", coverageText)
        var available = state(circle, "{{ value_json.availableNow }}")
        available["icon"] = "mdi:account-group"
        add("sensor", "circle_available", "Available now", available)
        if let member = config.homeAssistant.dashboardMember {
            let who = config.escalation?.member(member)?.name ?? name
            let incidentEntity = "sensor.\(node)_incident"
            for (action, title) in [("claim", "I'm going"), ("decline", "I can't go"), ("arrived", "I have arrived"), ("resolve", "Resolved")] {
                add("button", "answer_\(action)", "\(title) (\(who))", [
                    "command_topic": .string(DashboardAck.topic(person: person)),
                    "command_template": .string("{\"incident\": \"{{ states('\(incidentEntity)') }}\", \"action\": \"\(action)\"}"),
                    "qos": 1, "retain": false, "icon": "mdi:hand-back-right"])
            }
        }
        return out
    }

    static func topic(prefix: String, person: String, _ e: Entity) -> String {
        "\(prefix)/\(e.component)/\(node(person))/\(e.object)/config"
    }
}
