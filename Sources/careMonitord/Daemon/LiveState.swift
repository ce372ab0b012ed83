import Anomaly
import CareSupport
import Escalation
import SensorIngest

/// The retained topics `run` keeps current (QoS 1) for the TV app, Home Assistant and `careMonitord status`. No
/// contact address and no token is ever in them.
///
/// - `caremonitord/<person>/incidents/<id>`: one open incident (empty retained message once it closes);
/// - `caremonitord/<person>/incidents`: how many are open and the latest, for dashboards that read one topic;
/// - `caremonitord/<person>/coverage`: which protections are on, which devices stopped watching, away, her last
///   activity, the learned routine in one line; each as words (`lines`) and as fields;
/// - `caremonitord/<person>/circle`: the members, their roles and relationships, who is available now.
enum LiveState {
    static func root(_ person: String) -> String { "caremonitord/\(person)" }
    static func incidentTopic(person: String, id: String) -> String { "\(root(person))/incidents/\(id)" }
    static func incidentsTopic(person: String) -> String { "\(root(person))/incidents" }
    static func coverageTopic(person: String) -> String { "\(root(person))/coverage" }
    static func circleTopic(person: String) -> String { "\(root(person))/circle" }
    static func statusTopic(person: String) -> String { "\(root(person))/status" }

    static func time(_ t: WallTime) -> JSONValue { .string(RFC3339.format(t)) }
    static func local(_ t: WallTime, _ zone: ZoneInfo) -> String { Escalation.LocalTime(t, in: zone).hhmm }

    // MARK: Incidents

    /// Who is going: "Anna (daughter), there in about 15 min (14:20)".
    static func going(_ i: Incident) -> [JSONValue] {
        i.activeClaims.compactMap { id -> JSONValue? in
            guard let r = i.responses[id], case .claimed(let eta) = r.kind else { return nil }
            let etaAt = WallTime(milliseconds: r.at.milliseconds + Int64(eta) * 60_000)
            return .object(["member": .string(id), "name": .string(i.member(id)?.label ?? id), "claimedAt": time(r.at),
                            "eta": .number(Double(eta)), "etaAt": time(etaAt), "etaLocal": .string(local(etaAt, i.context.person.timeZone))])
        }
    }

    static func incident(_ i: Incident) -> JSONValue {
        let zone = i.context.person.timeZone
        var o = JSONObject()
        o["incident"] = .string(i.id)
        o["person"] = .string(i.context.person.id)
        o["kind"] = .string(i.kind)
        o["severity"] = .string(i.severity.rawValue)
        o["state"] = .string(i.state.rawValue)
        o["headline"] = .string(Messages.headline(i))
        o["opened"] = time(i.openedAt)
        o["openedLocal"] = .string(local(i.openedAt, zone))
        o["device"] = i.device.map { .string($0) } ?? .null
        var paged: [JSONValue] = []
        var seen = Set<String>()
        for p in i.pages where p.purpose == .page && seen.insert(p.member).inserted {
            paged.append(.object(["member": .string(p.member), "name": .string(i.member(p.member)?.label ?? p.member),
                                  "at": time(p.at), "tier": .number(Double(p.tier))]))
        }
        o["paged"] = .array(paged)
        o["going"] = .array(going(i))
        o["declined"] = .array(i.responses.keys.sorted().filter { if case .declined = i.responses[$0]?.kind { true } else { false } }.map { .string($0) })
        if let by = i.arrivedBy ?? (i.arrivedAt != nil ? "" : nil), let at = i.arrivedAt {
            o["arrived"] = .object(["member": by.isEmpty ? .null : .string(by), "name": by.isEmpty ? .null : .string(i.member(by)?.label ?? by),
                                    "at": time(at), "verified": .bool(i.arrivalVerified)])
        } else {
            o["arrived"] = .null
        }
        o["ackTopic"] = .string(AckTopic.topic(person: i.context.person.id, incident: i.id))
        return .object(o)
    }

    /// The one-topic summary: `open`, `latest` (the newest open incident's id, or "none"), `going`, `incidents`.
    static func incidents(_ open: [Incident]) -> JSONValue {
        var o = JSONObject()
        o["open"] = .number(Double(open.count))
        let latest = open.max { $0.openedAt < $1.openedAt }
        o["latest"] = .string(latest?.id ?? "none")
        let names = open.flatMap { i in i.activeClaims.map { i.member($0)?.label ?? $0 } }
        o["going"] = .string(open.isEmpty ? "no open incident" : names.isEmpty ? "nobody yet" : Array(Set(names)).sorted().joined(separator: ", "))
        o["incidents"] = .array(open.map { i in
            .object(["incident": .string(i.id), "kind": .string(i.kind), "state": .string(i.state.rawValue),
                     "headline": .string(Messages.headline(i)), "going": .array(going(i))])
        })
        return .object(o)
    }

    // MARK: Coverage

    /// What each protection needs to be working, and its words.
    struct Protection {
        var id: String
        var name: String
        var family: String
    }

    static let protections = [
        Protection(id: "fall", name: "fall detection", family: FallDetector.name),
        Protection(id: "alarms", name: "SOS, smoke, CO and water alarms", family: AlarmDetector.name),
        Protection(id: "routine", name: "routine and inactivity", family: RoutineDetector.name),
        Protection(id: "home", name: "home temperature, vitals and appliances", family: ThresholdDetector.name),
        Protection(id: "sensors", name: "sensor checks", family: SensorHealthDetector.name),
    ]

    static func coverage(config: Configuration, zone: CareSupport.LocalTime?, detectors: DetectorEngine, watch: HomeWatch.State,
                         away: AwayMode.Away?) -> JSONValue {
        func clock(_ t: Double) -> String { zone?.clockText(at: t) ?? Timestamp.rfc3339(t) }
        let on: [String: Bool] = [FallDetector.name: detectors.fall != nil, AlarmDetector.name: detectors.alarms != nil,
                                  RoutineDetector.name: detectors.routine != nil, ThresholdDetector.name: detectors.thresholds != nil,
                                  SensorHealthDetector.name: detectors.health != nil]
        let wearables = config.sources.compactMap { s -> TopicFilter? in
            guard s.placement != nil, case .topic(let t, _) = s.kind else { return nil }
            return try? TopicFilter(t)
        }
        func isWearable(_ p: HomeWatch.Problem) -> Bool {
            p.kind == .notWorn || (p.topic.map { t in wearables.contains { $0.matches(t) } } ?? false)
        }
        let failing = watch.problems.filter { $0.kind != .batteryLow }
        var lines: [String] = []
        var list = JSONObject()
        for p in protections {
            let enabled = on[p.family] ?? false
            let paused = enabled && away != nil && AwayMode.families.contains(p.family)
            var blockers: [String] = []
            if enabled && !paused {
                if p.id == "fall" { blockers = failing.filter(isWearable).map(\.device) }
                if p.id == "routine" || p.id == "home" { blockers = failing.filter { !isWearable($0) }.map(\.device) }
            }
            let state = !enabled ? "off" : paused ? "paused" : blockers.isEmpty ? "on" : "limited"
            let words: String
            switch state {
            case "paused": words = "\(p.name): paused while away"
            case "limited": words = "\(p.name): on, but \(blockers.joined(separator: ", ")) not watching"
            default: words = "\(p.name): \(state)"
            }
            lines.append(words)
            list[p.id] = .object(["name": .string(p.name), "state": .string(state), "working": .bool(state == "on"),
                                  "text": .string(words)])
        }
        var devices: [JSONValue] = []
        for p in watch.problems.sorted(by: { ($0.since, $0.device) < ($1.since, $1.device) }) {
            let what: String
            switch p.kind {
            case .sensorSilent: what = "sensor silent"
            case .deviceOffline: what = "offline"
            case .notWorn: what = "not worn"
            case .batteryLow: what = "battery low"
            default: what = p.kind.rawValue
            }
            let text = "\(p.device): \(what) since \(clock(p.since))"
            lines.append(text)
            devices.append(.object(["device": .string(p.device), "problem": .string(p.kind.rawValue), "since": .string(Timestamp.rfc3339(p.since)),
                                    "text": .string(text)]))
        }
        var o = JSONObject()
        o["person"] = .string(config.person.id)
        o["protections"] = .object(list)
        o["devices"] = .array(devices)
        if let away {
            let text = "away until \(away.untilText)\(away.reason.map { " (\($0))" } ?? "")"
            lines.append(text)
            var a = away.json.objectValue ?? JSONObject()
            a["text"] = .string(text)
            o["away"] = .object(a)
        } else {
            o["away"] = .null
        }
        o["awayText"] = .string(away.map { "away until \($0.untilText)" } ?? "at home")
        if let last = watch.lastActivity {
            var l = last
            let text = "\(last["device"]?.stringValue ?? "a sensor")\(last["room"]?.stringValue.map { " (\($0))" } ?? "") at \(last["local"]?.stringValue ?? "?")"
            l["text"] = .string(text)
            o["lastActivity"] = .object(l)
            lines.append("last activity: \(text)")
        } else {
            o["lastActivity"] = .null
        }
        o["lastActivityText"] = .string(o["lastActivity"]?["text"]?.stringValue ?? "none seen yet")
        o["routine"] = watch.routine.map { .string($0) } ?? .null
        if let r = watch.routine { lines.append("routine: \(r)") }
        o["lines"] = .array(lines.map { .string($0) })
        return .object(o)
    }

    // MARK: Circle

    static func circle(_ e: EscalationConfig?, person: String, now: WallTime) -> JSONValue {
        var o = JSONObject()
        o["person"] = .string(person)
        guard let e else {
            o["name"] = .string(person)
            o["members"] = .array([])
            o["availableNow"] = .string("no circle: detections only")
            return .object(o)
        }
        o["name"] = .string(e.person.name)
        let local = Escalation.LocalTime(now, in: e.person.timeZone)
        var available: [String] = []
        o["members"] = .array(e.members.map { m in
            let why = m.unavailability(at: now, local: local, severity: .critical)
            if why == nil { available.append(m.name) }
            return .object(["id": .string(m.id), "name": .string(m.name), "role": .string(m.role.rawValue),
                            "relationship": m.relationship.map { .string($0) } ?? .null, "label": .string(m.label),
                            "available": .bool(why == nil), "why": why.map { .string("\($0)") } ?? .null,
                            "canAnswer": .bool(m.contacts.contains { $0.answers != .none })])
        })
        o["availableNow"] = .string(available.isEmpty ? "nobody" : available.joined(separator: ", "))
        o["availableCount"] = .number(Double(available.count))
        return .object(o)
    }
}
