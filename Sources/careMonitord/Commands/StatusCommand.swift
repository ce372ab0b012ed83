import CareSupport
import Escalation
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord status [--config FILE] [--json]`: what the running daemon says now, read from its retained topics
/// (`LiveState`): online or not, coverage, open incidents with who is going, the learned routine in one line.
/// Exit 0 when the daemon is online, 69 when it is not (or the broker cannot be reached).
enum StatusCommand {
    static let usage = "careMonitord status [--config FILE] [--json] [--wait SECONDS]"
    static let defaultConfig = "/etc/caremonitord/caremonitord.json"

    /// The retained messages of one person, as the broker holds them.
    struct Retained {
        var status: String?
        var coverage: JSONValue?
        var circle: JSONValue?
        var incidents: [String: JSONValue] = [:]
    }

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "status", args, valued: ["config", "wait"], flags: ["json"])
        let config = try loadConfiguration(a.value("config") ?? a.positional.first ?? defaultConfig)
        let wait = try a.value("wait").map { w throws(CommandError) -> Double in
            guard let s = Double(w), s > 0, s <= 60 else { throw CommandError(exitCode: ExitCode.usage, message: "status: --wait \(w): seconds, 0 to 60") }
            return s
        } ?? 0.5
        let r = try read(config, settle: wait)
        let out = FileOutput.standardOutput
        let online = r.status == "online"
        if a.flag("json") {
            var o = JSONObject()
            o["person"] = .string(config.person.id)
            o["online"] = .bool(online)
            o["status"] = r.status.map { .string($0) } ?? .null
            o["coverage"] = r.coverage ?? .null
            o["incidents"] = .array(r.incidents.keys.sorted().compactMap { r.incidents[$0] })
            o["circle"] = r.circle ?? .null
            o["routine"] = r.coverage?["routine"] ?? .null
            out.writeLine(JSONWriter.serialize(.object(o)))
        } else {
            for line in text(config, r) { out.writeLine(line) }
        }
        return online ? ExitCode.ok : ExitCode.unavailable
    }

    /// Connects, subscribes to the person's retained topics and collects what arrives within `settle` seconds of
    /// the subscription being confirmed (the broker sends retained messages right after it).
    static func read(_ config: Configuration, settle: Double) throws(CommandError) -> Retained {
        let person = config.person.id
        var mqtt = try mqttConfiguration(config, routing: nil, tool: "status")
        mqtt.subscriptions = [LiveState.statusTopic(person: person), LiveState.coverageTopic(person: person),
                              LiveState.circleTopic(person: person), LiveState.incidentsTopic(person: person),
                              LiveState.incidentTopic(person: person, id: "+")].map { MQTTSubscription($0, qos: .atLeastOnce) }
        let box = Mutex(Retained())
        let client = try connectedClient(mqtt, logger: Logger(label: "status", minimumLevel: .warning)) { m in
            let topic = m.topicString()
            let payload = String(decoding: m.payload, as: UTF8.self)
            let json = try? JSONParser.parse(Array(m.payload))
            box.withLock { r in
                switch topic {
                case LiveState.statusTopic(person: person): r.status = payload
                case LiveState.coverageTopic(person: person): r.coverage = json
                case LiveState.circleTopic(person: person): r.circle = json
                case LiveState.incidentsTopic(person: person): break   // the summary; each incident is read itself
                default:
                    let id = String(topic.split(separator: "/").last ?? "")
                    r.incidents[id] = payload.isEmpty ? nil : json
                }
            }
        }
        usleep(UInt32(settle * 1_000_000))
        client.stop()
        return box.withLock { $0 }
    }

    /// The terminal text: a few lines a carer reads at a glance.
    static func text(_ config: Configuration, _ r: Retained) -> [String] {
        let name = r.circle?["name"]?.stringValue ?? config.person.name ?? config.person.id
        var lines: [String] = []
        switch r.status {
        case "online": lines.append("\(name) (\(config.person.id)): careMonitord is online")
        case "offline": lines.append("\(name) (\(config.person.id)): careMonitord is OFFLINE: nothing is being watched")
        default: lines.append("\(name) (\(config.person.id)): careMonitord has never reported on this broker (is it running, with this config?)")
        }
        if let c = r.coverage {
            lines.append("coverage:")
            for l in c["lines"]?.arrayValue ?? [] where !(l.stringValue ?? "").hasPrefix("routine:") {
                lines.append("  \(l.stringValue ?? "")")
            }
        }
        let open = r.incidents.keys.sorted().compactMap { r.incidents[$0] }
        lines.append(open.isEmpty ? "no open incident" : "\(open.count) open incident\(open.count == 1 ? "" : "s"):")
        for i in open {
            let s = { (k: String) in i[k]?.stringValue ?? "?" }
            lines.append("  \(s("incident"))  \(s("kind")), \(s("state")): \(s("headline"))")
            let paged = (i["paged"]?.arrayValue ?? []).map { "\($0["name"]?.stringValue ?? "?") at \(localTime($0["at"], config))" }
            lines.append("    paged: \(paged.isEmpty ? "nobody yet" : paged.joined(separator: ", "))")
            let going = (i["going"]?.arrayValue ?? []).map { g in
                "\(g["name"]?.stringValue ?? "?"), there in about \(g["eta"]?.exactInt ?? 0) min (\(g["etaLocal"]?.stringValue ?? "?"))"
            }
            lines.append("    going: \(going.isEmpty ? "nobody yet" : going.joined(separator: "; "))")
            if let a = i["arrived"], !a.isNull {
                lines.append("    arrived: \(a["name"]?.stringValue ?? "someone") at \(localTime(a["at"], config))\(a["verified"]?.boolValue == true ? " (the home's sensors saw it)" : "")")
            }
        }
        if let c = r.circle { lines.append("available now: \(c["availableNow"]?.stringValue ?? "?")") }
        lines.append("routine: \(r.coverage?["routine"]?.stringValue ?? "not known yet")")
        return lines
    }

    static func localTime(_ v: JSONValue?, _ config: Configuration) -> String {
        guard let t = v?.stringValue.flatMap(Timestamp.parse), let zone = CareSupport.LocalTime(identifier: config.person.timezone) else { return "?" }
        return zone.clockText(at: t)
    }
}
