import Anomaly
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord anonymise --config FILE --out CAPTURE [--shift-days N] [--person ID] [--config-out FILE] CAPTURE…`:
/// rewrites captures so that a family's recording can be shared with an engineer and still replays alike.
///
/// What changes (`Anonymiser`), in topics and payloads alike:
/// - names: the person's id and name, each circle member's id and name, and each device's name (as the config's
///   sources name it) are replaced as whole words: the person by `--person` (default `person`) and `Person`, members
///   by `member1`, `member2`… and `Member 1`…, devices by the words of their name that place them for the detectors
///   (a room: `bathroom`, `kitchen`, `bed`…; an appliance: `kettle`, `hob`…; `fridge`, `outdoor`…) and a number, in
///   order of appearance (`Linda's bathroom PIR` → `bathroom-1`), so rooms, appliances and ignored sensors stay what
///   they were;
/// - times: every message's `tst` and the times inside payloads (numbers of epoch seconds or milliseconds and date
///   strings under `t0`, `t`, `bt`, `tst`, `iat`, `timestamp`, `last_seen`, `Time`, `time`, `until`) move by
///   `--shift-days` whole days of her local time (default: to the Monday of the first week of 2001, whole weeks, so
///   weekdays and local clock times are kept), and so do the dates in incident ids (`person-YYYYMMDD-HHMMSS`);
/// - payloads that are JSON are written back compactly (numbers keep their text); others change only by the names.
/// Nothing else changes: values, QoS, retain, line order. With `--config-out`, the config is written with the same
/// names (where a whole string is one), every contact address as `redacted`, every notifier as a plain `mqtt` one and no broker section, so that
/// it replays the anonymised capture anywhere.
enum AnonymiseCommand {
    static let usage = "careMonitord anonymise --config FILE --out CAPTURE [--shift-days N] [--person ID] [--config-out FILE] CAPTURE…"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "anonymise", args, valued: ["config", "out", "shift-days", "person", "config-out"])
        let config = try loadConfiguration(try a.required("config"))
        let out = try a.required("out")
        guard !a.positional.isEmpty else {
            throw CommandError(exitCode: ExitCode.usage, message: "anonymise: no capture file given\nusage: \(usage)")
        }
        guard !a.positional.contains(out) else {
            throw CommandError(exitCode: ExitCode.usage, message: "anonymise: --out \(out) is one of the captures: write elsewhere")
        }
        guard let zone = ZoneInfo(identifier: config.person.timezone) else {
            throw CommandError(exitCode: ExitCode.config, message: "\(config.file): person.timezone: unknown time zone \(config.person.timezone)")
        }
        let person = a.value("person") ?? "person"
        guard !person.isEmpty, person.utf8.allSatisfy({ $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "#") }) else {
            throw CommandError(exitCode: ExitCode.usage, message: "anonymise: --person \(person): an id without /, + or #")
        }
        var files: [[UInt8]] = []
        for f in a.positional {
            guard let bytes = DurableFile.read(f) else {
                throw CommandError(exitCode: ExitCode.noInput, message: "anonymise: cannot read capture \(f): \(String(cString: strerror(errno)))")
            }
            files.append(bytes)
        }
        let reader = CaptureLineReader()
        let routing = try makeRouting(config)
        // First pass: the devices, in order of appearance, and the first time.
        var devices: [String] = []
        var seen = Set<String>()
        var first = Double.infinity
        for bytes in files {
            Replay.forEachLine(bytes) { line in
                _ = reader.read(line) { l in
                    first = min(first, l.time)
                    if let d = routing.router.route(topic: String(decoding: l.topic, as: UTF8.self))?.device, seen.insert(d).inserted {
                        devices.append(d)
                    }
                }
            }
        }
        let shiftDays: Int
        if let s = a.value("shift-days") {
            guard let n = Int(s) else {
                throw CommandError(exitCode: ExitCode.usage, message: "anonymise: --shift-days must be a whole number of days, not \"\(s)\"")
            }
            shiftDays = n
        } else {
            shiftDays = first.isFinite ? Anonymiser.weeksToFirstWeekOf2001(from: first, zone: zone) : 0
        }
        let anonymiser = Anonymiser(config: config, person: person, devices: devices, zone: zone, shiftDays: shiftDays)

        var output: [UInt8] = []
        var lines = 0, malformed = 0
        for (i, bytes) in files.enumerated() {
            var number = 0
            Replay.forEachLine(bytes) { line in
                number += 1
                let r = reader.read(line) { l in
                    anonymiser.line(time: l.time, topic: String(decoding: l.topic, as: UTF8.self), qos: l.qos, retain: l.retain,
                                    payload: Array(l.payload))
                }
                switch r {
                case .success(let text):
                    output += text.utf8
                    output.append(0x0A)
                    lines += 1
                case .failure(let problem):
                    malformed += 1
                    if malformed <= Replay.malformedReportLimit { printError("\(a.positional[i]):\(number): \(problem); line left out") }
                }
            }
        }
        do { try DurableFile.write(output, to: out) } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "anonymise: cannot write \(out): \(error)")
        }
        if let configOut = a.value("config-out") {
            let text = PrettyJSON.format(anonymiser.config(config.document.root)) + "\n"
            do { try DurableFile.write(Array(text.utf8), to: configOut) } catch {
                throw CommandError(exitCode: ExitCode.ioError, message: "anonymise: cannot write \(configOut): \(error)")
            }
        }
        var summary = JSONObject()
        summary["lines"] = .number(Double(lines))
        summary["malformed"] = .number(Double(malformed))
        summary["devices"] = .number(Double(devices.count))
        summary["shiftDays"] = .number(Double(shiftDays))
        summary["out"] = .string(out)
        printError(JSONWriter.serialize(.object(summary)))
        return lines == 0 ? ExitCode.dataError : ExitCode.ok
    }
}

/// The rewriting rules of `anonymise` (its doc comment lists them).
struct Anonymiser {
    /// Names and their replacements, longest first (a device named after her is replaced as a device).
    let names: [(from: String, to: String)]
    let zone: ZoneInfo
    let shiftDays: Int

    static let timeKeys: Set<String> = ["t0", "t", "bt", "tst", "iat", "timestamp", "last_seen", "Time", "time", "until"]

    init(config: Configuration, person: String, devices: [String], zone: ZoneInfo, shiftDays: Int) {
        var map: [(String, String)] = [(config.person.id, person)]
        if let n = config.person.name { map.append((n, "Person")) }
        for (i, m) in (config.escalation?.members ?? []).enumerated() {
            map.append((m.id, "member\(i + 1)"))
            if m.name != m.id { map.append((m.name, "Member \(i + 1)")) }
        }
        for (i, d) in devices.enumerated() { map.append((d, Self.deviceName(d, number: i + 1))) }
        names = map.filter { !$0.0.isEmpty }.sorted { $0.0.count > $1.0.count }
        self.zone = zone
        self.shiftDays = shiftDays
    }

    /// The words of a device's name that the detectors read (its room, an appliance, a sensor that is not a room),
    /// then its number: `Linda's bathroom PIR` → `bathroom-1`; `hallway radar` → `device-2`.
    static func deviceName(_ name: String, number: Int) -> String {
        let rooms = RoomClassifier()
        let thresholds = ThresholdDetector.Settings()
        let telling = Set(thresholds.temperatureIgnoreWords).union(thresholds.applianceLimits.keys)
        let words = RoomClassifier.words(name)
        var kept = words.filter { w in
            telling.contains(w) || rooms.room(device: w, kind: .motion) != .other
        }
        // Two words that place it only together ("back door"): its room's own word instead.
        let room = rooms.room(device: name, kind: .motion)
        if rooms.room(device: kept.joined(separator: " "), kind: .motion) != room, room != .other, room != .ignore {
            kept.insert(room == .entrance ? "entrance" : room.rawValue, at: 0)
        }
        return (kept.isEmpty ? ["device"] : kept).joined(separator: "-") + "-\(number)"
    }

    /// The whole number of weeks that moves `time` into the week of Monday 1 January 2001 (local).
    static func weeksToFirstWeekOf2001(from time: Double, zone: ZoneInfo) -> Int {
        let localDay = Int(((time + Double(zone.offset(at: Int64(time)))) / 86_400).rounded(.down))
        let target = Timestamp.daysFromCivil(year: 2001, month: 1, day: 1)
        var weeks = Int((Double(target - localDay) / 7).rounded(.down))
        if localDay + weeks * 7 < target { weeks += 1 }
        return weeks * 7
    }

    /// `time` moved by `shiftDays` days of local time (the same local clock time that many days later).
    func shift(_ time: Double) -> Double {
        let whole = time.rounded(.down)
        let local = Int64(whole) + Int64(zone.offset(at: Int64(whole)))
        return Double(AwayMode.utc(localSeconds: local + Int64(shiftDays) * 86_400, zone: zone)) + (time - whole)
    }

    /// Every name replaced where it stands as a whole word (not inside a longer word or number).
    func replaceNames(_ text: String) -> String {
        var s = Array(text.unicodeScalars)
        for (from, to) in names {
            let f = Array(from.unicodeScalars), t = Array(to.unicodeScalars)
            var i = 0
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(s.count)
            while i < s.count {
                if i + f.count <= s.count, s[i..<(i + f.count)].elementsEqual(f),
                   i == 0 || !Self.isWordScalar(s[i - 1]), i + f.count == s.count || !Self.isWordScalar(s[i + f.count]) {
                    out += t
                    i += f.count
                } else {
                    out.append(s[i])
                    i += 1
                }
            }
            s = out
        }
        return shiftIncidentDates(String(String.UnicodeScalarView(s)))
    }

    static func isWordScalar(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 48 && c.value <= 57) || (c.value >= 65 && c.value <= 90) || (c.value >= 97 && c.value <= 122) || c.value > 127
    }

    /// `-YYYYMMDD-HHMMSS` (an incident id's local time) moved by `shiftDays`.
    func shiftIncidentDates(_ text: String) -> String {
        guard shiftDays != 0, text.utf8.count >= 16 else { return text }
        var c = Array(text.utf8)
        var i = 0
        func digits(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= c.count, r.allSatisfy({ c[$0] >= 48 && c[$0] <= 57 }) else { return nil }
            return r.reduce(0) { $0 * 10 + Int(c[$1] - 48) }
        }
        while i + 16 <= c.count {
            if c[i] == UInt8(ascii: "-"), c[i + 9] == UInt8(ascii: "-"), let y = digits(i + 1..<i + 5), let m = digits(i + 5..<i + 7),
               let d = digits(i + 7..<i + 9), digits(i + 10..<i + 16) != nil, (1...12).contains(m), (1...31).contains(d),
               i + 16 == c.count || !(c[i + 16] >= 48 && c[i + 16] <= 57) {
                let (ny, nm, nd) = Timestamp.civilFromDays(Timestamp.daysFromCivil(year: y, month: m, day: d) + shiftDays)
                let stamp = Array((Timestamp.pad(ny, 4) + Timestamp.pad(nm, 2) + Timestamp.pad(nd, 2)).utf8)
                c.replaceSubrange(i + 1..<i + 9, with: stamp)
                i += 16
            } else {
                i += 1
            }
        }
        return String(decoding: c, as: UTF8.self)
    }

    /// One capture line, rewritten.
    func line(time: Double, topic: String, qos: Int, retain: Bool, payload: [UInt8]) -> String {
        CaptureLineReader.format(time: shift(time), topic: replaceNames(topic), qos: qos, retain: retain, payload: self.payload(payload))
    }

    func payload(_ bytes: [UInt8]) -> [UInt8] {
        guard let text = String(validating: bytes, as: UTF8.self) else { return bytes }
        if let v = try? JSONParser.parse(bytes), v.objectValue != nil || v.arrayValue != nil {
            return Array(JSONWriter.serialize(rewrite(v, key: nil)).utf8)
        }
        return Array(replaceNames(text).utf8)
    }

    /// Names in every string and key; times under `timeKeys`.
    func rewrite(_ v: JSONValue, key: String?) -> JSONValue {
        let isTime = key.map { Self.timeKeys.contains($0) } ?? false
        switch v {
        case .object(var o):
            for i in o.members.indices {
                o.members[i].value = rewrite(o.members[i].value, key: o.members[i].key)
                o.members[i].key = replaceNames(o.members[i].key)
            }
            return .object(o)
        case .array(let a):
            return .array(a.map { rewrite($0, key: key) })
        case .number(let n) where isTime:
            if n.value >= 1e9 && n.value < 1e10 { return .number(JSONNumber(shift(n.value))) }
            if n.value >= 1e12 && n.value < 1e13 { return .number(JSONNumber((shift(n.value / 1000) * 1000).rounded())) }
            return v
        case .string(let s) where isTime:
            return .string(shiftDateText(s))
        case .string(let s):
            return .string(replaceNames(s))
        default:
            return v
        }
    }

    /// A date string: with a zone, the instant moves (written back in UTC); without one (a local date or time,
    /// Tasmota's `Time`, an away's `until`), its date moves by `shiftDays`.
    func shiftDateText(_ s: String) -> String {
        let c = Array(s.utf8)
        guard c.count >= 10, c[4] == UInt8(ascii: "-"), c[7] == UInt8(ascii: "-") else { return replaceNames(s) }
        let tail = c.count > 19 ? c[19...] : []
        if c.last == UInt8(ascii: "Z") || tail.contains(UInt8(ascii: "+")) || tail.contains(UInt8(ascii: "-")) {
            guard let t = Timestamp.parse(s) else { return s }
            return Timestamp.rfc3339(shift(t))
        }
        guard let y = Int(s.prefix(4)), let m = Int(s.dropFirst(5).prefix(2)), let d = Int(s.dropFirst(8).prefix(2)) else { return s }
        let (ny, nm, nd) = Timestamp.civilFromDays(Timestamp.daysFromCivil(year: y, month: m, day: d) + shiftDays)
        return Timestamp.pad(ny, 4) + "-" + Timestamp.pad(nm, 2) + "-" + Timestamp.pad(nd, 2) + String(decoding: c[10...], as: UTF8.self)
    }

    /// The config with the same names, contact addresses redacted, plain `mqtt` notifiers and no broker. A string
    /// (or key) is replaced only when it is a whole name: ids in lists, device names in rooms (not `monitoring-centre`
    /// for a member called `centre`).
    func config(_ root: JSONValue) -> JSONValue {
        let exact = Dictionary(names.map { ($0.from, $0.to) }, uniquingKeysWith: { a, _ in a })
        func replaceNames(_ s: String) -> String { exact[s] ?? s }
        func strip(_ v: JSONValue, key: String?) -> JSONValue {
            switch v {
            case .object(var o):
                o.members.removeAll { $0.key == "broker" && key == nil }
                for i in o.members.indices {
                    let k = o.members[i].key
                    if k == "address" { o.members[i].value = "redacted"; continue }
                    if k == "notifiers", key == nil, let n = o.members[i].value.objectValue {
                        o.members[i].value = .object(JSONObject(n.members.map { .init(key: $0.key, value: .object(["kind": "mqtt"])) }))
                        continue
                    }
                    o.members[i].value = strip(o.members[i].value, key: k)
                    o.members[i].key = replaceNames(k)
                }
                return .object(o)
            case .array(let a): return .array(a.map { strip($0, key: key) })
            case .string(let s): return .string(replaceNames(s))
            default: return v
            }
        }
        return strip(root, key: nil)
    }
}
