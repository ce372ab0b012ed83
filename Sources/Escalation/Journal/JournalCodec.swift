import CareSupport

/// JSON forms of what the journal stores: alerts, acks, incident inputs and outgoing notifications.
enum JournalCodec {
    static func encode(_ a: Alert) -> JSONValue {
        var o: JSONObject = ["person": .string(a.person), "kind": .string(a.kind), "severity": .string(a.severity.rawValue),
                             "state": .string(a.state.rawValue), "time": .string(RFC3339.format(a.time)), "detail": .string(a.detail)]
        if let d = a.device { o["device"] = .string(d) }
        if a.clearedAtFrontDoor { o["atFrontDoor"] = true }
        if let w = a.wording {
            var wo: JSONObject = ["headline": .string(w.headline), "question": .string(w.question)]
            if let advice = w.advice { wo["advice"] = .string(advice) }
            o["wording"] = .object(wo)
        }
        return .object(o)
    }

    static func alert(_ v: JSONValue?) -> Alert? {
        guard let v, let person = v["person"]?.stringValue, let kind = v["kind"]?.stringValue,
              let sev = v["severity"]?.stringValue.flatMap(Severity.init(rawValue:)),
              let state = v["state"]?.stringValue.flatMap(Alert.State.init(rawValue:)),
              let time = v["time"]?.stringValue.flatMap(RFC3339.parse) else { return nil }
        var wording: KindWording?
        if let w = v["wording"], let headline = w["headline"]?.stringValue, let question = w["question"]?.stringValue {
            wording = KindWording(headline: headline, question: question, advice: w["advice"]?.stringValue)
        }
        var a = Alert(person: person, kind: kind, severity: sev, state: state, time: time, device: v["device"]?.stringValue,
                      detail: v["detail"]?.stringValue ?? "", wording: wording)
        a.clearedAtFrontDoor = v["atFrontDoor"]?.boolValue ?? false
        return a
    }

    /// An incident input: `{"open": alert}` or one `IncidentEvent`.
    enum Input: Equatable {
        case open(Alert)
        case event(IncidentEvent)
    }

    static func encode(_ i: Input) -> JSONValue {
        switch i {
        case .open(let a): return ["open": encode(a)]
        case .event(let e):
            switch e {
            case .raisedAgain(let a): return ["raised": encode(a)]
            case .cleared(let a): return ["cleared": encode(a)]
            case .ack(let a):
                var o: JSONObject = ["member": .string(a.member), "action": .string(a.action.rawValue), "via": .string(a.via)]
                if let eta = a.etaMinutes { o["eta"] = .number(Double(eta)) }
                return ["ack": .object(o)]
            case .timerFired(let k): return ["timer": .string(k.id)]
            case .delivery(let key, let r):
                switch r {
                case .delivered: return ["delivery": ["key": .string(key), "ok": true]]
                case .failed(let reason): return ["delivery": ["key": .string(key), "ok": false, "reason": .string(reason)]]
                }
            case .home(let h): return ["home": .string(h.rawValue)]
            case .superseded(let s):
                var o: JSONObject = ["incident": .string(s.incident), "kind": .string(s.kind), "openedAt": .string(RFC3339.format(s.openedAt))]
                if let d = s.device { o["device"] = .string(d) }
                return ["superseded": .object(o)]
            case .catchUp: return ["catchUp": true]
            }
        }
    }

    static func input(_ v: JSONValue?, incident: String) -> Input? {
        guard let o = v?.objectValue, let m = o.members.first else { return nil }
        switch m.key {
        case "open": return alert(m.value).map { .open($0) }
        case "raised": return alert(m.value).map { .event(.raisedAgain($0)) }
        case "cleared": return alert(m.value).map { .event(.cleared($0)) }
        case "ack":
            guard let member = m.value["member"]?.stringValue,
                  let action = m.value["action"]?.stringValue.flatMap(Ack.Action.init(rawValue:)) else { return nil }
            return .event(.ack(Ack(incident: incident, member: member, action: action,
                                   etaMinutes: m.value["eta"]?.exactInt, via: m.value["via"]?.stringValue ?? "mqtt")))
        case "timer": return m.value.stringValue.flatMap(TimerKey.init(id:)).map { .event(.timerFired($0)) }
        case "delivery":
            guard let key = m.value["key"]?.stringValue, let ok = m.value["ok"]?.boolValue else { return nil }
            return .event(.delivery(key: key, result: ok ? .delivered : .failed(reason: m.value["reason"]?.stringValue ?? "")))
        case "home": return m.value.stringValue.flatMap(HomeEvidence.init(rawValue:)).map { .event(.home($0)) }
        case "superseded":
            guard let by = m.value["incident"]?.stringValue, let kind = m.value["kind"]?.stringValue,
                  let at = m.value["openedAt"]?.stringValue.flatMap(RFC3339.parse) else { return nil }
            return .event(.superseded(Supersession(incident: by, kind: kind, openedAt: at, device: m.value["device"]?.stringValue)))
        case "catchUp": return .event(.catchUp)
        default: return nil
        }
    }

    static func encode(_ n: OutgoingNotification) -> JSONValue {
        var o = n.json.objectValue!
        o["token"] = nil  // derived again when sent; a journal never holds one
        o["notifier"] = .string(n.notifier)
        o["address"] = .string(n.address)
        o["personName"] = .string(n.personName)
        return .object(o)
    }

    static func notification(_ v: JSONValue) -> OutgoingNotification? {
        guard let key = v["key"]?.stringValue, let incident = v["incident"]?.stringValue, let person = v["person"]?.stringValue,
              let member = v["member"]?.stringValue, let notifier = v["notifier"]?.stringValue,
              let address = v["address"]?.stringValue, let kind = v["kind"]?.stringValue,
              let sev = v["severity"]?.stringValue.flatMap(Severity.init(rawValue:)),
              let purpose = v["purpose"]?.stringValue.flatMap(NotificationPurpose.init(rawValue:)),
              let tier = v["tier"]?.exactInt, let title = v["title"]?.stringValue, let text = v["text"]?.stringValue,
              let time = v["time"]?.stringValue.flatMap(RFC3339.parse), let state = v["state"]?.stringValue else { return nil }
        let actions = (v["actions"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Ack.Action.init(rawValue:)) }
        return OutgoingNotification(key: key, incident: incident, person: person, personName: v["personName"]?.stringValue ?? person,
                                    member: member, notifier: notifier, address: address, kind: kind, severity: sev,
                                    purpose: purpose, tier: tier, title: title, text: text, time: time,
                                    incidentState: state, actions: actions)
    }
}
