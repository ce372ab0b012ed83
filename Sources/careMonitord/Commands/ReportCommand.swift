import Anomaly
import CareSupport
import Escalation
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord report --config FILE --out REPORT.html [--from TIME] [--to TIME] [--state-dir DIR] CAPTURE…`:
/// replays the captures (as `replay` does, nothing sent) and writes one self-contained HTML page (inline CSS and SVG,
/// no script, nothing fetched) with, per local day of the person: room activity by hour (event messages: motion,
/// doors, presses, appliances; a wearable's batches in its own row) with the detections marked on it, the
/// wristband's acceleration (the peak |a| of each minute), the day's first and last activity beside the learned
/// routine, the detections, and each incident with every notification and answer and its response times against
/// the telecare targets (answered ≤ 60 s, attended ≤ 45 min, or the config's `targets`). With `--state-dir` the
/// incidents are a running daemon's, from its journal (and the captures, if any, give the activity). stderr's last
/// line: `{"days", "detections", "incidents", "out", "seconds"}`.
enum ReportCommand {
    static let usage = "careMonitord report --config FILE --out REPORT.html [--from TIME] [--to TIME] [--state-dir DIR] [CAPTURE…]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "report", args, valued: Set(["config", "out", "state-dir"]).union(Replay.windowOptions))
        let config = try loadConfiguration(try a.required("config"))
        let out = try a.required("out")
        let daemonState = a.value("state-dir")
        guard !a.positional.isEmpty || daemonState != nil else {
            throw CommandError(exitCode: ExitCode.usage, message: "report: no capture file and no --state-dir given\nusage: \(usage)")
        }
        guard let local = CareSupport.LocalTime(identifier: config.person.timezone) else {
            throw CommandError(exitCode: ExitCode.config, message: "\(config.file): person.timezone: unknown time zone \(config.person.timezone)")
        }
        let window = try Replay.window(a, config: config)
        let start = CaptureReplay.monotonicSeconds()
        let lines = EventCollector()
        // A fresh state: the report shows what these captures do, not what an earlier run learned.
        let scratch = try ScratchDirectory.make(for: "report")
        defer { ScratchDirectory.remove(scratch) }
        var events: [JSONValue] = []
        if !a.positional.isEmpty {
            _ = try Replay.run(config: config, files: a.positional, stateDirectory: scratch, window: window, command: "report",
                               notifiers: daemonState == nil ? .recording : .none, events: { lines.append($0) })
            events = lines.lines.compactMap { try? JSONParser.parse($0) }
        }
        if let daemonState {
            // The daemon's own incidents, as its journal has them; detections come from the captures' replay.
            let records: [JSONValue]
            do { records = try IncidentJournal.read(directory: daemonState, person: config.person.id) } catch {
                throw CommandError(exitCode: ExitCode.ioError, message: "report: \(error)")
            }
            events.removeAll { $0["type"]?.stringValue != "detection" }
            events += records.flatMap { $0["lines"]?.arrayValue ?? [] }.filter { e in
                guard let t = e["time"]?.stringValue.flatMap(Timestamp.parse) else { return false }
                return window.contains(t)
            }
        }
        let activity = try ReportActivity.scan(a.positional, routing: try makeRouting(config), window: window, local: local)
        // The routine as learned from these captures (or, with --state-dir, as the daemon has learned it).
        let learnedFrom = a.positional.isEmpty ? daemonState! : scratch
        let routine = try MonitoredHome.build(config: config, clock: .capture, notifiers: .none, stateDirectory: learnedFrom,
                                              logger: .silent, events: { _ in }).detectors.routine?.summary()
        let page = ReportPage(person: config.person.name ?? config.person.id, local: local,
                              targets: config.escalation?.targets ?? ResponseTargets(), activity: activity, events: events,
                              routine: routine)
        let html = page.html()
        do { try DurableFile.write(Array(html.utf8), to: out) } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "report: cannot write \(out): \(error)")
        }
        var summary = JSONObject()
        summary["days"] = .number(Double(page.days.count))
        summary["detections"] = .number(Double(events.filter { $0["type"]?.stringValue == "detection" }.count))
        summary["incidents"] = .number(Double(page.incidents.count))
        summary["out"] = .string(out)
        summary["seconds"] = .number(JSONNumber(((CaptureReplay.monotonicSeconds() - start) * 1000).rounded() / 1000))
        printError(JSONWriter.serialize(.object(summary)))
        return ExitCode.ok
    }
}

/// Event lines gathered on the detector thread, read after `Replay.run` returned.
final class EventCollector: @unchecked Sendable {
    // @unchecked Sendable: appended to by the detector thread only; read by the main thread after it was joined.
    private(set) var lines: [String] = []
    func append(_ line: String) { lines.append(line) }
}

/// Activity messages per local day, row (a room, or `wearable`) and hour; the wristband's peak |a| per minute; the
/// first and last room activity of each day.
struct ReportActivity {
    static let rows = ["bed", "bedroom", "bathroom", "kitchen", "living", "seat", "entrance", "other", "wearable"]
    var counts: [Int: [String: [Int]]] = [:]
    /// Per local day, 1440 minutes of the largest acceleration magnitude (g) seen in each; 0 = no sample.
    var peakG: [Int: [Double]] = [:]
    var first: [Int: Double] = [:]
    var last: [Int: Double] = [:]

    mutating func accel(_ message: DecodedMessage, local: CareSupport.LocalTime) {
        let axes = message.readings.filter { $0.signal == .acceleration }.compactMap { r -> [Double]? in
            if case .series(let v) = r.value { return v } else { return nil }
        }
        guard axes.count == 3, let times = message.sampleTimes else { return }
        for i in 0..<min(times.count, axes[0].count, axes[1].count, axes[2].count) {
            let g = (axes[0][i] * axes[0][i] + axes[1][i] * axes[1][i] + axes[2][i] * axes[2][i]).squareRoot()
            let day = local.dayNumber(at: times[i]), minute = min(1439, Int(local.secondsOfDay(at: times[i]) / 60))
            peakG[day, default: Array(repeating: 0, count: 1440)][minute] = max(peakG[day]?[minute] ?? 0, g)
        }
    }

    static func scan(_ files: [String], routing: SourceRouting, window: CaptureWindow, local: CareSupport.LocalTime) throws(CommandError) -> ReportActivity {
        var r = ReportActivity()
        let rooms = RoomClassifier()
        try Replay.forEachCaptureLine(files, command: "report", window: window) { l in
            guard let (route, message) = try? routing.router.decode(topic: String(decoding: l.topic, as: UTF8.self), payload: l.payload)
            else { return }
            let row: String
            if route.placement != nil {
                row = "wearable"
                r.accel(message, local: local)
            } else if let kind = message.readings.first(where: { SensorHealthDetector.isEvent($0.signal) && $0.signal != .availability })?.signal {
                row = rooms.room(device: route.device, kind: kind).rawValue
            } else {
                return
            }
            guard row != "ignore" else { return }
            let day = local.dayNumber(at: l.time), hour = Int(local.secondsOfDay(at: l.time) / 3600)
            r.counts[day, default: [:]][row, default: Array(repeating: 0, count: 24)][min(hour, 23)] += 1
            if row != "wearable" {
                r.first[day] = min(r.first[day] ?? .infinity, l.time)
                r.last[day] = max(r.last[day] ?? -.infinity, l.time)
            }
        }
        return r
    }
}

/// The HTML page of a report.
struct ReportPage {
    var person: String
    var local: CareSupport.LocalTime
    var targets: ResponseTargets
    var activity: ReportActivity
    var events: [JSONValue]
    /// `RoutineDetector.summary()`, when the routine detector runs.
    var routine: JSONObject?

    func time(_ e: JSONValue) -> Double? { e["time"]?.stringValue.flatMap(Timestamp.parse) }

    /// Local days with activity or events, in order.
    var days: [Int] {
        Set(activity.counts.keys).union(events.compactMap { time($0).map { local.dayNumber(at: $0) } }).sorted()
    }

    /// The incidents, each with its response times (`JournalQuery`, as `careMonitord incidents` computes them).
    var incidents: [IncidentReport] {
        let lines = events.filter { ["incident", "notification", "ack"].contains($0["type"]?.stringValue ?? "") }
        return JournalQuery.incidents([.object(["lines": .array(lines)])], targets: targets)
    }

    static func escape(_ s: String) -> String {
        var o = ""
        for ch in s {
            switch ch {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            default: o.append(ch)
            }
        }
        return o
    }

    func dayTitle(_ day: Int) -> String { AwayMode.dayText(day) + " " + String(Timestamp.civilFromDays(day).year) }

    static let style = """
    body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
    h1{font-size:1.6em}h2{margin-top:2em;border-bottom:2px solid #ccc}h3{font-size:1.05em;margin-bottom:.3em}
    table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
    .critical{color:#b00020;font-weight:600}.warning{color:#a15c00}.info{color:#555}
    .ok{background:#e3f4e4;color:#1b5e20;padding:0 .4em;border-radius:3px}.missed{background:#fde2e1;color:#b00020;padding:0 .4em;border-radius:3px}
    .muted{color:#777}svg text{font-size:11px;fill:#444}
    """

    func html() -> String {
        let incidents = self.incidents
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>careMonitord report: \(Self.escape(person))</title>"
        h += "<style>\(Self.style)</style></head><body>\n"
        h += "<h1>What happened at \(Self.escape(person))'s home</h1>\n"
        h += "<p class=\"muted\">Times are local (\(Self.escape(local.identifier))). Targets: answered within \(targets.answeredSeconds) s, "
        h += "attended within \(targets.attendedMinutes) min. \(days.count) day(s), \(incidents.count) incident(s).</p>\n"
        h += "<p class=\"routine\">\(Self.escape(routineText))</p>\n"
        for day in days { h += section(day, incidents: incidents) }
        if days.isEmpty { h += "<p>Nothing in these captures.</p>\n" }
        h += "</body></html>\n"
        return h
    }

    /// The learned routine in words: "Learned from 7 days: usually up at 07:40, in bed at 22:50; night 23:10–06:55."
    var routineText: String {
        guard let r = routine else { return "Routine: not watched (detectors.routine is off)." }
        let days = r["learnedDays"]?.exactInt ?? 0
        var parts = ["Learned routine (\(days) day\(days == 1 ? "" : "s"))"]
        if let w = r["wakeUp"]?["median"]?.stringValue { parts.append("usually up at \(w)") }
        if let b = r["bedtime"]?["median"]?.stringValue { parts.append("in bed at \(b)") }
        if let n = r["night"]?.stringValue { parts.append("night \(n)") }
        if r["learning"]?.boolValue == true { parts.append("still learning: fixed limits apply") }
        return parts.joined(separator: "; ") + "."
    }

    /// The day's first and last activity, beside what is usual.
    func dayRoutine(_ day: Int) -> String {
        guard let first = activity.first[day], let last = activity.last[day] else { return "" }
        var s = "First activity \(local.clockText(at: first))"
        if let w = routine?["wakeUp"]?["median"]?.stringValue { s += " (usually up at \(w))" }
        s += ", last \(local.clockText(at: last))"
        if let b = routine?["bedtime"]?["median"]?.stringValue { s += " (usually in bed at \(b))" }
        return "<p class=\"day-routine\">\(Self.escape(s)).</p>\n"
    }

    /// The wristband's peak |a| per minute, 0–4 g, with the 1 g of standing still marked.
    func accelSVG(_ day: Int) -> String {
        guard let peaks = activity.peakG[day] else { return "" }
        let left = 70.0, width = 24 * 38.0, height = 70.0, scale = height / 4
        var points: [String] = []
        for (m, g) in peaks.enumerated() where g > 0 {
            points.append("\(((left + Double(m) / 1440 * width) * 10).rounded() / 10),\(((height - min(g, 4) * scale) * 10).rounded() / 10)")
        }
        var s = "<svg class=\"acceleration\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 40))\" height=\"\(Int(height + 4))\" role=\"img\" aria-label=\"wristband acceleration, peak per minute\">"
        s += "<text x=\"0\" y=\"12\">|a| (g)</text><text x=\"0\" y=\"\(height - scale + 4)\">1 g</text>"
        s += "<line x1=\"\(left)\" y1=\"\(height - scale)\" x2=\"\(left + width)\" y2=\"\(height - scale)\" stroke=\"#bbb\" stroke-dasharray=\"3 3\"/>"
        s += "<polyline fill=\"none\" stroke=\"#6a1b9a\" stroke-width=\"1\" points=\"\(points.joined(separator: " "))\"/>"
        return s + "</svg>\n"
    }

    func section(_ day: Int, incidents: [IncidentReport]) -> String {
        let dayEvents = events.filter { time($0).map { local.dayNumber(at: $0) == day } ?? false }
        let detections = dayEvents.filter { $0["type"]?.stringValue == "detection" }
        var h = "<section class=\"day\" id=\"day-\(day)\"><h2>\(Self.escape(dayTitle(day)))</h2>\n"
        h += dayRoutine(day)
        h += svg(day, detections: detections)
        h += accelSVG(day)
        h += "<h3>Detections</h3>\n"
        if detections.isEmpty {
            h += "<p class=\"muted\">None.</p>\n"
        } else {
            h += "<table class=\"detections\"><tr><th>time</th><th>kind</th><th>state</th><th>device</th><th>severity</th></tr>\n"
            for d in detections {
                let sev = d["severity"]?.stringValue ?? ""
                h += "<tr class=\"detection\"><td>\(clock(d))</td><td class=\"\(Self.escape(sev))\">\(Self.escape(d["kind"]?.stringValue ?? ""))</td>"
                h += "<td>\(Self.escape(d["state"]?.stringValue ?? ""))</td><td>\(Self.escape(d["device"]?.stringValue ?? "—"))</td><td>\(Self.escape(sev))</td></tr>\n"
            }
            h += "</table>\n"
        }
        for away in dayEvents where away["type"]?.stringValue == "away" {
            h += "<p class=\"away\">\(clock(away)) away \(Self.escape(away["state"]?.stringValue ?? "")) (\(Self.escape(away["reason"]?.stringValue ?? "")))</p>\n"
        }
        for r in incidents where local.dayNumber(at: Double(r.openedAt.milliseconds) / 1000) == day {
            h += incident(r)
        }
        return h + "</section>\n"
    }

    func clock(_ e: JSONValue) -> String { time(e).map { local.clockText(at: $0) } ?? "" }

    func incident(_ r: IncidentReport) -> String {
        func d(_ s: Int?) -> String { s.map { $0 < 120 ? "\($0) s" : "\($0 / 60) min" } ?? "—" }
        func badge(_ b: Bool?) -> String {
            b.map { $0 ? "<span class=\"ok\">within target</span>" : "<span class=\"missed\">missed target</span>" } ?? ""
        }
        let opened = Double(r.openedAt.milliseconds) / 1000
        var h = "<div class=\"incident\" id=\"\(Self.escape(r.id))\"><h3>Incident \(Self.escape(r.kind)) at \(local.clockText(at: opened)): "
        h += "\(Self.escape(r.state))\(r.closedBy.map { " by " + Self.escape($0) } ?? "")</h3>\n"
        h += "<p class=\"response\">first answer \(d(r.firstAckSeconds)) \(badge(r.answeredWithinTarget)) (target \(targets.answeredSeconds) s); "
        h += "claimed \(d(r.claimSeconds)); arrived \(d(r.arrivalSeconds)) \(badge(r.attendedWithinTarget)) (target \(targets.attendedMinutes) min)</p>\n"
        h += "<table class=\"timeline\"><tr><th>time</th><th>what</th><th>who</th><th>message</th></tr>\n"
        for l in r.timeline {
            let j = l.json
            let what: String, who: String
            switch j["type"]?.stringValue {
            case "notification": what = "notified (tier \(j["tier"].map { "\($0)" } ?? "?"))"; who = j["member"]?.stringValue ?? ""
            case "ack": what = "answered: \(j["action"]?.stringValue ?? "")\(j["eta"].map { ", ETA \($0) min" } ?? "")"; who = j["member"]?.stringValue ?? ""
            default: what = j["state"]?.stringValue ?? ""; who = j["by"]?.stringValue ?? ""
            }
            h += "<tr class=\"\(Self.escape(j["type"]?.stringValue ?? ""))\"><td>\(clock(j))</td><td>\(Self.escape(what))</td><td>\(Self.escape(who))</td>"
            h += "<td>\(Self.escape(j["text"]?.stringValue ?? ""))</td></tr>\n"
        }
        return h + "</table></div>\n"
    }

    /// Rooms × hours, darker for more activity; detections as marks on a line below, red when critical.
    func svg(_ day: Int, detections: [JSONValue]) -> String {
        let rows = ReportActivity.rows.filter { activity.counts[day]?[$0] != nil }
        let left = 70.0, cell = 38.0, rowH = 18.0, top = 16.0
        let marksY = top + Double(rows.count) * rowH + 10
        let height = marksY + 26
        var s = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + 24 * cell + 40))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"room activity by hour\">"
        for hour in stride(from: 0, through: 24, by: 3) {
            s += "<text x=\"\(left + Double(hour) * cell)\" y=\"11\">\(hour < 10 ? "0" : "")\(hour):00</text>"
        }
        let peak = max(1, rows.flatMap { activity.counts[day]?[$0] ?? [] }.max() ?? 1)
        for (i, row) in rows.enumerated() {
            let y = top + Double(i) * rowH
            s += "<text x=\"0\" y=\"\(y + 13)\">\(row)</text>"
            for (hour, n) in (activity.counts[day]?[row] ?? []).enumerated() where n > 0 {
                let o = 0.15 + 0.85 * Double(n) / Double(peak)
                s += "<rect class=\"activity\" x=\"\(left + Double(hour) * cell)\" y=\"\(y)\" width=\"\(cell - 2)\" height=\"\(rowH - 2)\" fill=\"#2a6f97\" fill-opacity=\"\((o * 100).rounded() / 100)\"><title>\(row) \(hour):00 – \(n) message(s)</title></rect>"
            }
        }
        s += "<line x1=\"\(left)\" y1=\"\(marksY)\" x2=\"\(left + 24 * cell)\" y2=\"\(marksY)\" stroke=\"#999\"/>"
        for d in detections {
            guard let t = time(d) else { continue }
            let x = left + local.secondsOfDay(at: t) / 3600 * cell
            let color = d["severity"]?.stringValue == "critical" ? "#b00020" : (d["severity"]?.stringValue == "warning" ? "#e08a00" : "#777")
            s += "<path class=\"detection-mark\" d=\"M\(x) \(marksY - 8) l5 8 l-5 8 l-5 -8 z\" fill=\"\(color)\"><title>\(local.clockText(at: t)) \(Self.escape(d["kind"]?.stringValue ?? "")) \(Self.escape(d["state"]?.stringValue ?? ""))</title></path>"
        }
        return s + "</svg>\n"
    }
}
