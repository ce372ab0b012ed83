import CareSupport
import Escalation

/// Keeps the retained topics current from the daemon's main loop: the live state (`LiveState`) and Home
/// Assistant's discovery (`HomeAssistantDiscovery`). A payload is sent only when it changed (and all of them again
/// after a reconnect: a broker without persistence forgets retained messages); a topic no longer wanted (a closed
/// incident, an entity of a person no longer in the config, discovery turned off) gets an empty retained message.
/// The topics it holds retained are kept in `<state>/retained.json`, so a restart with another config still
/// removes what the previous one published.
///
/// Main thread only.
final class StatePublisher {
    let file: String
    private var sent: [String: String] = [:]
    private var held: Set<String>
    private var connects = -1
    private var lastFull = -Double.infinity
    private var configFingerprint = ""
    private var discovery: [(topic: String, payload: String)] = []
    /// The home's zone, read when the config changes (not at every publish).
    private var zone: CareSupport.LocalTime?
    private let logger: Logger

    /// How often coverage and the circle are recomputed (incidents are looked at every turn).
    static let interval = 1.0

    init(stateDirectory: String, logger: Logger) {
        file = "\(stateDirectory)/retained.json"
        self.logger = logger
        var topics = Set<String>()
        if let bytes = DurableFile.read(file), let v = try? JSONParser.parse(bytes) {
            for t in v["topics"]?.arrayValue ?? [] { if let s = t.stringValue { topics.insert(s) } }
        }
        held = topics
    }

    /// One turn: `connects` is the client's connection count (a change means a new session).
    func update(home: MonitoredHome, escalation: LiveEscalation?, connection: ConnectionBox, connects: Int, now: Double) {
        guard connection.isConnected else { return }
        if connects != self.connects {
            self.connects = connects
            sent = [:]
        }
        let config = home.config
        let person = config.person.id
        let fingerprint = "\(person)|\(config.person.timezone)|\(config.homeAssistant)|\(config.escalation?.members.map(\.id) ?? [])|\(config.escalation?.person.name ?? "")"
        if fingerprint != configFingerprint {
            configFingerprint = fingerprint
            zone = CareSupport.LocalTime(identifier: config.person.timezone)
            discovery = HomeAssistantDiscovery.entities(config).map {
                (HomeAssistantDiscovery.topic(prefix: config.homeAssistant.discoveryPrefix, person: person, $0), JSONWriter.serialize(.object($0.config)))
            }
        }
        var want: [(String, String)] = discovery
        let open = escalation?.openIncidents ?? []
        for i in open { want.append((LiveState.incidentTopic(person: person, id: i.id), JSONWriter.serialize(LiveState.incident(i)))) }
        want.append((LiveState.incidentsTopic(person: person), JSONWriter.serialize(LiveState.incidents(open))))
        let full = now - lastFull >= Self.interval
        if full {
            lastFull = now
            let coverage = LiveState.coverage(config: config, zone: zone, detectors: home.detectors,
                                              watch: home.watch?.current ?? HomeWatch.State(), away: home.away.isAway(at: now))
            want.append((LiveState.coverageTopic(person: person), JSONWriter.serialize(coverage)))
            let circle = LiveState.circle(config.escalation, person: person, now: WallTime(milliseconds: Int64(now * 1000)))
            want.append((LiveState.circleTopic(person: person), JSONWriter.serialize(circle)))
        }
        var wanted = Set(want.map(\.0))
        if !full {
            // Coverage and the circle keep what was last sent until their next turn.
            wanted.insert(LiveState.coverageTopic(person: person))
            wanted.insert(LiveState.circleTopic(person: person))
        }
        var changed = false
        for (topic, payload) in want where sent[topic] != payload {
            guard connection.publishRetained(topic: topic, payload: payload) else { return }
            sent[topic] = payload
            if held.insert(topic).inserted { changed = true }
        }
        for topic in held.union(sent.keys).subtracting(wanted).sorted() {
            guard connection.publishRetained(topic: topic, payload: "") else { return }
            sent[topic] = nil
            if held.remove(topic) != nil { changed = true }
        }
        if changed { save() }
    }

    private func save() {
        let text = JSONWriter.serialize(.object(["topics": .array(held.sorted().map { .string($0) })])) + "\n"
        do { try DurableFile.write(Array(text.utf8), to: file) } catch {
            logger.error("\(file) not written (\(error)): after a restart with another config, its retained topics may stay")
        }
    }
}
