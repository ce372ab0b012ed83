import CareSupport

extension EscalationEngine {
    /// Tells the circle something once, not urgently (the person went away): one `summary` message to every
    /// consenting member on their first contact, through the journaled outbox. `key` names the news: a key already
    /// sent or being sent (also before a restart, from the journal) sends nothing. Returns the members told.
    @discardableResult
    public func announce(key: String, title: String, text: String) -> [String] {
        let now = clock.moment()
        var sends: [OutgoingNotification] = []
        for m in config.members where m.consent.given {
            guard let c = m.contacts.first else { continue }
            let k = "\(key)/\(m.id)"
            if delivered.contains(k) || systemKeys.contains(k) || inFlight[k] != nil { continue }
            sends.append(OutgoingNotification(key: k, incident: key, person: person, personName: config.person.name,
                                              member: m.id, notifier: c.notifier, address: c.address, kind: "announcement",
                                              severity: .info, purpose: .summary, tier: 0, title: title, text: text,
                                              time: now.wall, incidentState: "announcement", actions: []))
        }
        guard !sends.isEmpty else { return [] }
        sendSystem(sends, ["job": "announcement", "key": .string(key)], now)
        return sends.map(\.member)
    }
}
