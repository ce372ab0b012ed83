import Anomaly
import CareSupport
import Escalation
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// The monitored person (one config file per person/home).
struct PersonSettings {
    var id: String
    var name: String?
    var timezone: String
}

/// How to reach the MQTT broker. Defaults: 127.0.0.1:1883, MQTT 3.1.1, keepalive 60 s, reconnect 0.5 s doubling
/// to 4 s (the broker is usually on the same gateway, and an alarm system must come back within seconds of it).
struct BrokerSettings {
    var host = "127.0.0.1"
    var port = 1883
    var protocolVersion = 4          // 4 = MQTT 3.1.1, 5 = MQTT 5
    var keepalive = 60
    var clientID: String?
    var username: String?
    var passwordFile: String?
    /// From `password` (`{"file": PATH}` or `{"credential": NAME}`) or `passwordFile`, read when the config loads.
    var password: Secret?
    var caFile: String?
    var certFile: String?
    var keyFile: String?
    var tls = false
    var reconnectInitialDelay = 0.5
    var reconnectMaximumDelay = 4.0
    var connackTimeout = 10.0
    /// `run` says READY=1 after this long without the broker (journaled incidents keep escalating meanwhile).
    var startupGraceSeconds = 30.0
}

/// What the daemon shows Home Assistant (MQTT discovery) and whom its dashboard answers for.
struct HomeAssistantSettings {
    var enabled = true
    var discoveryPrefix = "homeassistant"
    /// The member whose answer a dashboard button is (`caremonitord/<person>/dashboard/ack`); nil: no buttons.
    var dashboardMember: String?
}

/// A loaded, validated config file. The sections other modules own (`circle`, `policies`, `journal`, `detectors`)
/// are kept as parsed JSON (with positions) for them to decode.
struct Configuration {
    var file: String
    var person: PersonSettings
    var broker: BrokerSettings
    var sources: [SourceConfiguration]
    var homeAssistant = HomeAssistantSettings()
    var document: JSONDocument
    /// What a person should know but that does not stop the config (printed by every command that loads it).
    var warnings: [String]
    /// The circle, policies and notifiers, decoded and checked; nil when the config has no circle (it only detects).
    var escalation: EscalationConfig?

    static let escalationKeys = ["person", "circle", "policies", "notifiers", "journal", "targets", "digest", "heartbeat"]
    static let knownTopLevelKeys = ["person", "broker", "sources", "circle", "policies", "notifiers", "targets", "journal",
                                    "digest", "heartbeat", "detectors", "homeAssistant", "$schema", "comment", "_comment"]

    /// Reads and validates `path`: the sections of every module (sources, broker, circle and policies, detectors)
    /// in one pass. Throws `ConfigurationError` listing every problem in file order, or `CommandError` when the
    /// file cannot be read. Every command loads its config through here (`check-config` too), so they all agree.
    static func load(path: String) throws -> Configuration {
        guard let bytes = DurableFile.read(path) else {
            throw CommandError(exitCode: ExitCode.config, message: "cannot read config \(path): \(String(cString: strerror(errno)))")
        }
        return try load(bytes: bytes, path: path)
    }

    /// `load(path:)` on bytes already read (`path` names the file in messages).
    static func load(bytes: [UInt8], path: String) throws -> Configuration {
        let document: JSONDocument
        do {
            document = try JSONParser.parseDocument(bytes)
        } catch {
            throw ConfigurationError(file: path, problems: [.init(path: "", position: error.position, message: "invalid JSON: \(error.message)")])
        }
        var problems: [ConfigurationError.Problem] = []
        var config: Configuration?
        do { config = try parse(document, file: path) } catch let e as ConfigurationError { problems += e.problems }
        let escalation = checkEscalation(document, problems: &problems)
        checkDetectors(document, problems: &problems)
        guard problems.isEmpty, var config else {
            problems = problems.enumerated().sorted {
                ($0.element.position?.line ?? 0, $0.element.position?.column ?? 0, $0.offset)
                    < ($1.element.position?.line ?? 0, $1.element.position?.column ?? 0, $1.offset)
            }.map(\.element)
            // Two modules read `person`: a field of it is reported once (in the first reader's words).
            var seenPerson = Set<String>()
            problems = problems.filter { !$0.path.hasPrefix("person.") || seenPerson.insert($0.path).inserted }
            throw ConfigurationError(file: path, problems: problems)
        }
        // The broker settings as the MQTT client will check them at `run` (the reconnect delays' order, …).
        do throws(MQTTError) { try (try? mqttConfiguration(config, routing: nil))?.validate() } catch {
            throw ConfigurationError(file: path, problems: [.init(path: "broker", position: document.position(of: "broker"), message: error.message)])
        }
        if let member = config.homeAssistant.dashboardMember, member != config.person.id,
           escalation?.member(member) == nil {
            let field = "homeAssistant.dashboardMember"
            let known = ([config.person.id] + (escalation?.members.map(\.id) ?? [])).joined(separator: ", ")
            throw ConfigurationError(file: path, problems: [.init(path: field, position: document.position(of: field),
                message: "\"\(member)\" is not in the circle; the dashboard answers as one of: \(known)")])
        }
        config.escalation = escalation
        if let escalation { config.warnings += answerWarnings(escalation, document: document, file: path) }
        if escalation == nil, case .object(let root) = document.root {
            for k in ["policies", "notifiers"] where root[k] != nil {
                let at = document.position(of: k).map { "\(path):\($0.line):\($0.column)" } ?? path
                config.warnings.append("\(at): \(k): not used: the config has no circle, so nobody is paged (it only detects)")
            }
        }
        return config
    }

    /// Members whose pages nobody can answer, and secrets written into the config itself.
    static func answerWarnings(_ c: EscalationConfig, document: JSONDocument, file: String) -> [String] {
        func at(_ path: String) -> String { document.position(of: path).map { "\(file):\($0.line):\($0.column)" } ?? file }
        var out: [String] = []
        for (i, m) in c.members.enumerated() where !m.contacts.isEmpty && m.contacts.allSatisfy({ $0.answers == .none }) {
            let kinds = m.contacts.map(\.notifier).joined(separator: ", ")
            out.append("\(at("circle.members[\(i)]")): circle.members[\(i)]: \(m.label) cannot answer a page: nothing reads answers from \(kinds); "
                + "add a contact that can (mqtt for an app, ntfy with a replyTopic, sms, pushover, or matrix with the member's user id)")
        }
        for path in c.inlineSecrets {
            out.append("\(at(path)): \(path): a secret written in the config; put it in a file ({\"file\": PATH}) or a systemd credential ({\"credential\": NAME})")
        }
        return out
    }

    /// The escalation sections (when there is a circle), decoded by Escalation with its own rules.
    static func checkEscalation(_ document: JSONDocument, problems: inout [ConfigurationError.Problem]) -> EscalationConfig? {
        guard case .object(let root) = document.root, root["circle"] != nil else { return nil }
        var own = JSONObject()
        for k in escalationKeys { if let v = root[k] { own[k] = v } }
        switch EscalationConfig.decode(.object(own), positions: document.positions) {
        case .success(let c): return c
        case .failure(let e):
            problems += e.issues.map { .init(path: $0.path, position: $0.position ?? document.position(of: $0.path), message: $0.message) }
            return nil
        }
    }

    /// The `detectors` section, checked by the detector families themselves.
    static func checkDetectors(_ document: JSONDocument, problems: inout [ConfigurationError.Problem]) {
        guard case .object(let root) = document.root, let settings = root["detectors"] else { return }
        guard let o = settings.objectValue else {
            problems.append(.init(path: "detectors", position: document.position(of: "detectors"), message: "expected an object, found \(settings.typeName)"))
            return
        }
        let context = DetectorContext(person: "check", localTime: LocalTime(identifier: "UTC")!, signals: SignalRegistry(), emit: { _ in })
        do { _ = try DetectorEngine(context: context, settings: o) } catch {
            problems += error.issues.map { .init(path: $0.path, position: document.position(of: $0.path), message: $0.message) }
        }
    }

    static func parse(_ document: JSONDocument, file: String) throws -> Configuration {
        var r = ConfigReader(document: document)
        let warnings: [String] = []
        guard case .object(let root) = document.root else {
            throw ConfigurationError(file: file, problems: [.init(path: "", position: document.position(of: ""),
                                                                  message: "a config is a JSON object with \"person\" and \"sources\"")])
        }
        r.rejectUnknownKeys(root, at: "", known: knownTopLevelKeys)

        // person
        var person = PersonSettings(id: "", name: nil, timezone: "UTC")
        if let p = r.object(root["person"], at: "person") {
            let id = r.string(p, "id", at: "person", required: true) ?? ""
            if !id.isEmpty && !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
                r.problem("person.id", "\"\(id)\" may hold only letters, digits, '-' and '_' (it is part of MQTT topics and file names)")
            }
            person.id = id
            person.name = r.string(p, "name", at: "person")
            // Escalation reads language and contacts (and reports unknown keys itself when there is a circle).
            r.rejectUnknownKeys(p, at: "person", known: ["id", "name", "timezone", "language", "contacts", "pronouns"])
            if let tz = r.string(p, "timezone", at: "person", required: true) {
                if !timezoneExists(tz) {
                    r.problem("person.timezone", "unknown time zone \"\(tz)\": use an IANA name such as \"Europe/London\" (see /usr/share/zoneinfo)")
                }
                person.timezone = tz
            }
        } else if root["person"] == nil {
            r.problem("person", "is required: {\"id\": \"linda\", \"timezone\": \"Europe/London\"}")
        }

        // broker
        var broker = BrokerSettings()
        if let b = r.object(root["broker"], at: "broker") {
            broker.host = r.string(b, "host", at: "broker", default: broker.host) ?? broker.host
            if broker.host.isEmpty { r.problem("broker.host", "is empty") }
            let tlsObject = r.object(b["tls"], at: "broker.tls")
            if let t = tlsObject {
                broker.tls = r.bool(t, "enabled", at: "broker.tls", default: true)
                broker.caFile = r.string(t, "caFile", at: "broker.tls")
                broker.certFile = r.string(t, "certFile", at: "broker.tls")
                broker.keyFile = r.string(t, "keyFile", at: "broker.tls")
                if broker.tls && broker.caFile == nil { r.problem("broker.tls.caFile", "is required with TLS (the CA that signed the broker's certificate)") }
                if (broker.certFile == nil) != (broker.keyFile == nil) {
                    r.problem("broker.tls", "certFile and keyFile go together (client certificate and its key)")
                }
                for (k, f) in [("caFile", broker.caFile), ("certFile", broker.certFile), ("keyFile", broker.keyFile)] {
                    if let f, access(f, R_OK) != 0 { r.problem("broker.tls.\(k)", "cannot read \(f): \(String(cString: strerror(errno)))") }
                }
                r.rejectUnknownKeys(t, at: "broker.tls", known: ["enabled", "caFile", "certFile", "keyFile"])
            }
            broker.port = Int(r.number(b, "port", at: "broker", default: broker.tls ? 8883 : 1883, range: 1...65535) ?? 1883)
            let proto = r.string(b, "protocol", at: "broker", default: "mqtt311") ?? "mqtt311"
            switch proto {
            case "mqtt311", "3.1.1", "v311": broker.protocolVersion = 4
            case "mqtt5", "5", "v5": broker.protocolVersion = 5
            default: r.problem("broker.protocol", "unknown protocol \"\(proto)\": use \"mqtt311\" or \"mqtt5\"")
            }
            broker.keepalive = Int(r.number(b, "keepalive", at: "broker", default: 60, range: 5...65535) ?? 60)
            broker.clientID = r.string(b, "clientId", at: "broker")
            broker.username = r.string(b, "username", at: "broker")
            broker.passwordFile = r.string(b, "passwordFile", at: "broker")
            if let f = broker.passwordFile {
                do { broker.password = try Secret(contentsOfFile: f) } catch { r.problem("broker.passwordFile", error.message) }
            }
            if let v = b["password"], !v.isNull {
                if broker.passwordFile != nil {
                    r.problem("broker.password", "give password or passwordFile, not both")
                } else if case .object(let reference) = v {
                    do { broker.password = try Secret(reference: reference) } catch {
                        r.problem(error.member.map { "broker.password.\($0)" } ?? "broker.password", error.message)
                    }
                } else if case .string = v {
                    r.problem("broker.password", "passwords are not written in the config: put it in a file (mode 0600, or systemd LoadCredential=) and name it: {\"file\": PATH} or {\"credential\": NAME}")
                } else {
                    r.problem("broker.password", "expected {\"file\": PATH} or {\"credential\": NAME}, found \(v.typeName)")
                }
            }
            if (broker.passwordFile != nil || b["password"].map({ !$0.isNull }) == true) && broker.username == nil {
                r.problem("broker.username", "is required with a password")
            }
            if let rc = r.object(b["reconnect"], at: "broker.reconnect") {
                broker.reconnectInitialDelay = r.number(rc, "initialDelay", at: "broker.reconnect", default: 0.5, range: 0.05...60) ?? 0.5
                broker.reconnectMaximumDelay = r.number(rc, "maximumDelay", at: "broker.reconnect", default: 4, range: 0.05...600) ?? 4
                r.rejectUnknownKeys(rc, at: "broker.reconnect", known: ["initialDelay", "maximumDelay"])
            }
            broker.connackTimeout = r.number(b, "connackTimeout", at: "broker", default: 10, range: 1...300) ?? 10
            broker.startupGraceSeconds = r.number(b, "startupGraceSeconds", at: "broker", default: 30, range: 0...3600) ?? 30
            r.rejectUnknownKeys(b, at: "broker", known: ["host", "port", "protocol", "keepalive", "clientId", "username",
                                                          "password", "passwordFile", "tls", "reconnect", "connackTimeout",
                                                          "startupGraceSeconds"])
        }

        // sources
        var sources: [SourceConfiguration] = []
        if let s = root["sources"] {
            if case .array(let items) = s, items.isEmpty {
                r.problem("sources", "is empty: add at least one source, e.g. {\"preset\": \"zigbee2mqtt\"}")
            } else {
                do {
                    sources = try SourceConfiguration.parse(s, path: "sources")
                } catch {
                    for issue in error.issues { r.problem(issue.path, issue.message) }
                }
            }
        } else {
            r.problem("sources", "is required: a list such as [{\"preset\": \"zigbee2mqtt\"}]")
        }

        // homeAssistant
        var ha = HomeAssistantSettings()
        if let h = r.object(root["homeAssistant"], at: "homeAssistant") {
            ha.enabled = r.bool(h, "enabled", at: "homeAssistant", default: true)
            let prefix = r.string(h, "discoveryPrefix", at: "homeAssistant", default: ha.discoveryPrefix) ?? ha.discoveryPrefix
            if prefix.isEmpty || prefix.contains("+") || prefix.contains("#") || prefix.hasPrefix("/") || prefix.hasSuffix("/") {
                r.problem("homeAssistant.discoveryPrefix", "\"\(prefix)\" is not a topic prefix: Home Assistant's default is \"homeassistant\" (no +, # or leading or trailing /)")
            }
            ha.discoveryPrefix = prefix
            ha.dashboardMember = r.string(h, "dashboardMember", at: "homeAssistant")
            r.rejectUnknownKeys(h, at: "homeAssistant", known: ["enabled", "discoveryPrefix", "dashboardMember"])
        }

        if !r.problems.isEmpty { throw ConfigurationError(file: file, problems: r.problems) }
        return Configuration(file: file, person: person, broker: broker, sources: sources, homeAssistant: ha, document: document,
                             warnings: warnings)
    }

    /// The detectors and escalation read zones with `ZoneInfo`: what it cannot read is not a zone.
    static func timezoneExists(_ name: String) -> Bool { ZoneInfo(identifier: name) != nil }
}
