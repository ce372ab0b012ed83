import Anomaly
import CareSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Away mode: she is away (a holiday, hospital, visiting family) until a time, so the routine and inactivity
/// detectors pause (an empty home is not a stop in her routine, and is not learned) while falls, SOS, smoke, CO and
/// water leaks stay on. Set by `careMonitord away` or the TV app on `caremonitord/<person>/away`
/// (`{"until": DATE, "reason": "holiday"}`; `{"cancel": true}` ends it early); kept in
/// `<state>/<person>/away.json` across restarts; the circle is told once; it ends by itself at `until`.
///
/// The window goes to the detector engine as a `FamilyPause`, which starts and ends it at sample time, so a replay
/// of a capture holding an away message pauses at the same place as the live day did.
final class AwayMode: Sendable {
    static let families = [RoutineDetector.name]
    static let reasons = ["holiday", "hospital", "visiting"]

    struct Away: Sendable, Equatable {
        var from: Double
        var until: Double
        var reason: String?
        /// "Sunday 24 December 18:00", or "the end of Sunday 24 December" for a date alone.
        var untilText: String
        var window: FamilyPause.Window { FamilyPause.Window(from: from, until: until) }

        var json: JSONValue {
            var o = JSONObject()
            o["from"] = .string(Timestamp.rfc3339(from))
            o["until"] = .string(Timestamp.rfc3339(until))
            o["untilText"] = .string(untilText)
            o["reason"] = reason.map { .string($0) } ?? .null
            return .object(o)
        }

        init(from: Double, until: Double, reason: String?, untilText: String) {
            self.from = from; self.until = until; self.reason = reason; self.untilText = untilText
        }

        init?(json v: JSONValue) {
            guard let f = v["from"]?.stringValue.flatMap(Timestamp.parse), let u = v["until"]?.stringValue.flatMap(Timestamp.parse),
                  let text = v["untilText"]?.stringValue else { return nil }
            self.init(from: f, until: u, reason: v["reason"]?.stringValue, untilText: text)
        }
    }

    static func topic(person: String) -> String { "caremonitord/\(person)/away" }

    let person: String
    let zone: ZoneInfo
    /// nil: nothing is kept (replay).
    let file: String?
    private let state = Mutex<Away?>(nil)

    init(person: String, zone: ZoneInfo, stateDirectory: String?) {
        self.person = person
        self.zone = zone
        file = stateDirectory.map { "\($0)/\(person)/away.json" }
    }

    var current: Away? { state.withLock { $0 } }

    /// Away at wall time `t` (epoch seconds).
    func isAway(at t: Double) -> Away? { current.flatMap { $0.window.contains(t) ? $0 : nil } }

    /// Restores what a running daemon kept; an away that ended meanwhile is dropped.
    func load(now: Double) -> Away? {
        guard let file, let bytes = DurableFile.read(file) else { return nil }
        guard let v = try? JSONParser.parse(bytes), let a = Away(json: v), a.until > now else {
            unlink(file)
            return nil
        }
        state.withLock { $0 = a }
        return a
    }

    enum Change: Sendable, Equatable {
        case set(Away)
        case cancel
    }

    /// An away message that arrived at `time`: the new state, or why it was refused.
    func take(_ payload: [UInt8], at time: Double) -> Result<Change, AwayError> {
        let v: JSONValue
        do { v = try JSONParser.parse(payload) } catch {
            return .failure(AwayError("not JSON (\(error)); send {\"until\": \"2026-12-24\", \"reason\": \"holiday\"}"))
        }
        if v["cancel"]?.boolValue == true || (v["until"]?.isNull ?? false) {
            state.withLock { $0 = nil }
            if let file { unlink(file) }
            return .success(.cancel)
        }
        guard let text = v["until"]?.stringValue else {
            return .failure(AwayError("\"until\" is missing: a date (2026-12-24) or a time (2026-12-24T18:00) in \(zone.identifier)"))
        }
        let reason = v["reason"]?.stringValue
        if let reason, !Self.reasons.contains(reason) {
            return .failure(AwayError("\"reason\" \"\(reason)\" is not one of \(Self.reasons.joined(separator: ", "))"))
        }
        let until: (time: Double, text: String)
        switch Self.parseUntil(text, zone: zone) {
        case .success(let u): until = u
        case .failure(let e): return .failure(e)
        }
        guard until.time > time else {
            return .failure(AwayError("\"until\" \(text) is already past"))
        }
        // Whole milliseconds: the key of its announcement must read the same back from away.json.
        let away = Away(from: (time * 1000).rounded() / 1000, until: until.time, reason: reason, untilText: until.text)
        state.withLock { $0 = away }
        if let file {
            let dir = String(file.dropLast("/away.json".count))
            if mkdir(dir, 0o750) != 0 && errno != EEXIST { return .failure(AwayError("cannot create \(dir): \(String(cString: strerror(errno)))")) }
            do { try DurableFile.write(Array((JSONWriter.serialize(away.json) + "\n").utf8), to: file) } catch {
                return .failure(AwayError("\(error): the away is on until a restart only"))
            }
        }
        return .success(.set(away))
    }

    /// The window ended by itself (detector thread): nothing more to keep.
    func ended(at time: Double) {
        let gone = state.withLock { s -> Bool in
            guard let a = s, time >= a.until else { return false }
            s = nil
            return true
        }
        if gone, let file { unlink(file) }
    }

    /// The away event line (`replay` prints it, the daemon publishes it on the events topic):
    /// `{"type":"away","time","person","state":"started|ended","until","reason"}`.
    func eventLine(started: Bool, at time: Double, _ w: FamilyPause.Window) -> String {
        var o = JSONObject()
        o["type"] = "away"
        o["time"] = .string(Timestamp.rfc3339(time))
        o["person"] = .string(person)
        o["state"] = .string(started ? "started" : "ended")
        o["until"] = .string(Timestamp.rfc3339(w.until))
        o["reason"] = current?.reason.map { .string($0) } ?? .null
        return JSONWriter.serialize(.object(o))
    }

    /// Names one away's announcement (the engine sends a key once, also across restarts).
    static func announcementKey(person: String, _ a: Away) -> String { "away-\(person)-\(Int64((a.from * 1000).rounded()))" }

    /// What the circle is told once when she goes away.
    static func announcement(name: String, _ a: Away) -> (title: String, text: String) {
        let why = a.reason.map { " (\($0))" } ?? ""
        return ("\(name) is away until \(a.untilText)",
                "\(name) is away until \(a.untilText)\(why). Routine and inactivity alerts are paused until then; "
                + "falls, SOS, smoke, carbon monoxide and water leaks still alert you. It ends by itself.")
    }

    // MARK: Dates in her time zone

    static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                         "October", "November", "December"]

    /// `2026-12-24` (to the end of that day), `2026-12-24T18:00[:SS]` (local), or an RFC 3339 time with its zone.
    static func parseUntil(_ text: String, zone: ZoneInfo) -> Result<(time: Double, text: String), AwayError> {
        let bad = AwayError("\"\(text)\" is not a date (2026-12-24) or a local time (2026-12-24T18:00) in \(zone.identifier)")
        let c = Array(text.utf8)
        func number(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= c.count, r.allSatisfy({ c[$0] >= 48 && c[$0] <= 57 }) else { return nil }
            return r.reduce(0) { $0 * 10 + Int(c[$1] - 48) }
        }
        guard c.count >= 10, c[4] == UInt8(ascii: "-"), c[7] == UInt8(ascii: "-"), let y = number(0..<4),
              let mo = number(5..<7), let d = number(8..<10), (1...12).contains(mo), (1...31).contains(d) else { return .failure(bad) }
        let day = Timestamp.daysFromCivil(year: y, month: mo, day: d)
        guard Timestamp.civilFromDays(day) == (y, mo, d) else { return .failure(bad) }
        if c.count == 10 {
            let t = utc(localSeconds: Int64(day + 1) * 86_400, zone: zone)
            return .success((Double(t), "the end of \(dayText(day))"))
        }
        guard c[10] == UInt8(ascii: "T") || c[10] == UInt8(ascii: " ") else { return .failure(bad) }
        let tail = c.count > 16 ? c[16...] : []
        if c.last == UInt8(ascii: "Z") || tail.contains(UInt8(ascii: "+")) || tail.contains(UInt8(ascii: "-")) {
            guard let t = Timestamp.parse(text) else { return .failure(bad) }
            return .success((t, localText(t, zone: zone)))
        }
        guard c.count == 16 || c.count == 19, c[13] == UInt8(ascii: ":"), let h = number(11..<13), let mi = number(14..<16),
              h < 24, mi < 60 else { return .failure(bad) }
        var s = 0
        if c.count == 19 {
            guard c[16] == UInt8(ascii: ":"), let sec = number(17..<19), sec < 60 else { return .failure(bad) }
            s = sec
        }
        let t = Double(utc(localSeconds: Int64(day) * 86_400 + Int64(h * 3600 + mi * 60 + s), zone: zone))
        return .success((t, localText(t, zone: zone)))
    }

    /// The UTC instant of a local wall time (the first of two in a repeated hour; a skipped one moves forward).
    static func utc(localSeconds l: Int64, zone: ZoneInfo) -> Int64 {
        let guess = l - Int64(zone.offset(at: l))
        return l - Int64(zone.offset(at: guess))
    }

    static func dayText(_ day: Int) -> String {
        let (_, m, d) = Timestamp.civilFromDays(day)
        return "\(weekdays[((day % 7) + 7 + 4) % 7]) \(d) \(months[m - 1])"
    }

    /// "Sunday 24 December 18:00" in `zone`.
    static func localText(_ t: Double, zone: ZoneInfo) -> String {
        let local = Int64(t.rounded(.down)) + Int64(zone.offset(at: Int64(t.rounded(.down))))
        let day = Int((Double(local) / 86_400).rounded(.down))
        let sod = Int(local - Int64(day) * 86_400)
        return "\(dayText(day)) \(Timestamp.pad(sod / 3600, 2)):\(Timestamp.pad(sod / 60 % 60, 2))"
    }
}

/// An away message or argument that cannot be taken, saying how to write it.
struct AwayError: Error, Sendable, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
