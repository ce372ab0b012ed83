import Anomaly
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord evaluate --config FILE --labels LABELS.ndjson [--state-dir DIR] [--tolerance SECONDS]
/// [--format both|json|table] [--from TIME] [--to TIME] CAPTURE…`: replays the captures through the config's detectors (as `replay` does,
/// with a fresh temporary state directory unless `--state-dir` is given) and scores the `raised` detections against
/// labelled events.
///
/// Labels: one JSON object a line, `{"start": RFC 3339, "end": RFC 3339, "kind": detection kind}` (other keys are
/// kept for people and ignored); blank lines are skipped; a bad line stops with `file:line: what is wrong`.
///
/// Scoring, per kind:
/// - a label is **found** when a `raised` detection of its kind comes in [start, end + tolerance] (default 300 s);
///   its **delay** is from the label's start to the first such detection;
/// - a `raised` detection of a kind that falls in no label's window of that kind is a **false alarm**;
///   **false alarms per day** divide by the captures' span (first to last message time), in days;
/// - delay **median** and **p90**: linear interpolation between closest ranks (as numpy's default);
/// - the **oracle** (routine kinds, when the routine detector runs): the delay an alarm would have had that knew
///   each local day's longest normal quiet in the label's context and fired as soon as the quiet outlasted it
///   (the least delay without a false alarm that day): `max(0, quiet start + L − label start)`, where the quiet is
///   the one the label's start fell in, its context the detector's and L the longest quiet that began on that
///   local day, overlaps no label, is of that context and began within an hour of the same clock time (else of that
///   context at any hour, else at home). A lower bound for any
///   detector with these sensors; `labelResults` gives it per label. In a capture with the stops cut out the quiet
///   that held the stop is unknown to it (the bound is looser, often 0): `tools/homes-eval` asks it about the
///   untouched capture with zero-length labels (which hold no quiet back).
/// Output: the JSON report on stdout and a table on stderr (`--format both`, the default); `json` or `table` print
/// only that, on stdout. Exit 0 whatever the score (a score is a figure, not a failure).
enum EvaluateCommand {
    static let usage = "careMonitord evaluate --config FILE --labels LABELS.ndjson [--state-dir DIR] [--tolerance SECONDS] [--format both|json|table] [--from TIME] [--to TIME] CAPTURE…"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "evaluate", args, valued: Set(["config", "labels", "state-dir", "tolerance", "format"]).union(Replay.windowOptions))
        let config = try loadConfiguration(try a.required("config"))
        let labelsPath = try a.required("labels")
        guard !a.positional.isEmpty else {
            throw CommandError(exitCode: ExitCode.usage, message: "evaluate: no capture file given\nusage: \(usage)")
        }
        var tolerance = 300.0
        if let s = a.value("tolerance") {
            guard let v = Double(s), v >= 0, v.isFinite else {
                throw CommandError(exitCode: ExitCode.usage, message: "evaluate: --tolerance must be a number of seconds ≥ 0, not \"\(s)\"")
            }
            tolerance = v
        }
        let format = a.value("format") ?? "both"
        guard ["both", "json", "table"].contains(format) else {
            throw CommandError(exitCode: ExitCode.usage, message: "evaluate: --format must be both, json or table, not \"\(format)\"")
        }
        let labels = try EvaluationLabels.load(labelsPath)
        let window = try Replay.window(a, config: config)
        let span = try captureSpan(a.positional, window: window)

        // A fresh state directory unless one is given: a score must not depend on what an earlier run learned.
        var temporary: String?
        let stateDirectory: String
        if let d = a.value("state-dir") {
            stateDirectory = d
        } else {
            stateDirectory = try ScratchDirectory.make(for: "evaluate")
            temporary = stateDirectory
        }
        defer { if let t = temporary { ScratchDirectory.remove(t) } }
        let collected = DetectionCollector()
        let trace = QuietTrace()
        let result = try Replay.run(config: config, files: a.positional, stateDirectory: stateDirectory, window: window, command: "evaluate", onDetection: { d in
            collected.append(d)
        }, quietTrace: trace)
        let report = Evaluation.score(labels: labels, detections: collected.detections, first: span.first, last: span.last,
                                      tolerance: tolerance, quiets: trace.periods,
                                      localTime: LocalTime(identifier: config.person.timezone))
        var json = report.json
        json["captures"] = .array(a.positional.map { .string($0) })
        json["labelsFile"] = .string(labelsPath)
        json["messages"] = .number(Double(result.summary.messages))
        let out = FileOutput.standardOutput
        switch format {
        case "json": out.writeLine(JSONWriter.serialize(.object(json)))
        case "table": out.writeLine(report.table)
        default:
            out.writeLine(JSONWriter.serialize(.object(json)))
            printError(report.table)
        }
        out.flush()
        return ExitCode.ok
    }

    /// The earliest and latest message times of the captures (within the window).
    static func captureSpan(_ files: [String], window: CaptureWindow = .all) throws(CommandError) -> (first: Double, last: Double) {
        var first = Double.infinity, last = -Double.infinity
        try Replay.forEachCaptureLine(files, command: "evaluate", window: window) { line in
            first = min(first, line.time); last = max(last, line.time)
        }
        return (first, last)
    }
}

/// One labelled event.
struct EvaluationLabel: Equatable {
    var start: Double
    var end: Double
    var kind: DetectionKind
    var line: Int
}

enum EvaluationLabels {
    /// Reads a labels file; the first bad line stops with `file:line: problem` (exit 65).
    static func load(_ path: String) throws(CommandError) -> [EvaluationLabel] {
        guard let bytes = DurableFile.read(path) else {
            throw CommandError(exitCode: ExitCode.noInput, message: "evaluate: cannot read labels \(path): \(String(cString: strerror(errno)))")
        }
        var labels: [EvaluationLabel] = []
        var number = 0
        for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let text = raw.trimmed(" \t\r")
            if text.isEmpty { continue }
            do {
                labels.append(try parse(text, line: number))
            } catch {
                throw CommandError(exitCode: ExitCode.dataError, message: "\(path):\(number): \(error.message)")
            }
        }
        return labels
    }

    struct Problem: Error { var message: String }

    static func parse(_ text: String, line: Int) throws(Problem) -> EvaluationLabel {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch { throw Problem(message: "not JSON (\(error))") }
        guard let o = value.objectValue else {
            throw Problem(message: "expected an object {\"start\",\"end\",\"kind\"}, found \(value.typeName)")
        }
        func time(_ key: String) throws(Problem) -> Double {
            guard let v = o[key] else { throw Problem(message: "`\(key)` is missing (an RFC 3339 time such as 2026-11-23T14:00:00Z)") }
            guard let s = v.stringValue, let t = Timestamp.parse(s) else {
                throw Problem(message: "`\(key)`: expected an RFC 3339 time such as 2026-11-23T14:00:00Z, found \(v)")
            }
            return t
        }
        let start = try time("start"), end = try time("end")
        guard end >= start else { throw Problem(message: "`end` is before `start`") }
        guard let k = o["kind"] else { throw Problem(message: "`kind` is missing (one of: \(DetectionKind.allCases.map(\.rawValue).joined(separator: ", ")))") }
        guard let name = k.stringValue, let kind = DetectionKind(rawValue: name) else {
            throw Problem(message: "`kind`: \(k) is not a detection kind; known: \(DetectionKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return EvaluationLabel(start: start, end: end, kind: kind, line: line)
    }
}

/// The scores of one evaluation (pure: labels and detections in, figures out).
struct Evaluation {
    struct KindScore {
        var kind: DetectionKind
        var labels = 0
        var found = 0
        var missed = 0
        var falseAlarms = 0
        var detections = 0
        var delays: [Double] = []
        var missedStarts: [Double] = []
        /// The oracle's delays of the labels it would have found within their window.
        var oracleDelays: [Double] = []
    }

    /// One label's outcome.
    struct LabelResult {
        var label: EvaluationLabel
        var delay: Double?
        var oracleDelay: Double?
        var context: RoutineContext?
    }

    var kinds: [KindScore]
    var labelResults: [LabelResult] = []
    var spanSeconds: Double
    var first: Double
    var tolerance: Double

    var days: Double { spanSeconds / 86_400 }

    static func score(labels: [EvaluationLabel], detections: [Detection], first: Double, last: Double,
                      tolerance: Double, quiets: [QuietTrace.Period] = [], localTime: LocalTime? = nil) -> Evaluation {
        var out: [KindScore] = []
        var results: [LabelResult] = []
        let raised = detections.filter { $0.state == .raised }
        for kind in DetectionKind.allCases {
            let ls = labels.filter { $0.kind == kind }
            let ds = raised.filter { $0.kind == kind }.map(\.time).sorted()
            guard !ls.isEmpty || !ds.isEmpty else { continue }
            var s = KindScore(kind: kind)
            s.labels = ls.count
            s.detections = ds.count
            let oracleKind = RoutineDetector.kinds.contains(kind)
            for l in ls {
                var r = LabelResult(label: l)
                if let t = ds.first(where: { $0 >= l.start && $0 <= l.end + tolerance }) {
                    s.found += 1
                    s.delays.append(t - l.start)
                    r.delay = t - l.start
                } else {
                    s.missed += 1
                    s.missedStarts.append(l.start)
                }
                if oracleKind, let localTime, let o = oracle(l, quiets: quiets, labels: labels, localTime: localTime) {
                    r.oracleDelay = o.delay
                    r.context = o.context
                    if o.delay <= l.end - l.start + tolerance { s.oracleDelays.append(o.delay) }
                }
                results.append(r)
            }
            s.falseAlarms = ds.filter { t in !ls.contains { t >= $0.start && t <= $0.end + tolerance } }.count
            out.append(s)
        }
        let span = first.isFinite && last.isFinite && last > first ? last - first : 0
        return Evaluation(kinds: out, labelResults: results, spanSeconds: span, first: first, tolerance: tolerance)
    }

    /// The oracle's delay for `label` (see the command's comment); nil without a quiet before the label's start or a
    /// normal quiet that day.
    static func oracle(_ label: EvaluationLabel, quiets: [QuietTrace.Period], labels: [EvaluationLabel],
                       localTime: LocalTime) -> (delay: Double, context: RoutineContext)? {
        guard let q = quiets.last(where: { $0.start <= label.start }) else { return nil }
        let day = localTime.dayNumber(at: q.start), began = localTime.secondsOfDay(at: q.start)
        func normal(_ p: QuietTrace.Period) -> Bool {
            p.end.isFinite && localTime.dayNumber(at: p.start) == day
                && !labels.contains { $0.end > $0.start && p.start < $0.end && p.end > $0.start }
        }
        // Longest in the context that began within an hour of the same clock time; else in the context; else at home.
        var near = -1.0, inContext = -1.0, atHome = -1.0
        for p in quiets where normal(p) {
            let length = p.end - p.start
            if p.context == q.context {
                inContext = max(inContext, length)
                let d = abs(localTime.secondsOfDay(at: p.start) - began)
                if min(d, 86_400 - d) <= oracleWindow { near = max(near, length) }
            }
            if p.context != .out { atHome = max(atHome, length) }
        }
        let longest = near >= 0 ? near : inContext >= 0 ? inContext : atHome
        guard longest >= 0 else { return nil }
        return (max(0, q.start + longest - label.start), q.context)
    }

    /// How close in clock time a quiet must have begun to count as the same context for the oracle.
    static let oracleWindow = 3600.0

    /// The q-quantile (0…1) by linear interpolation between closest ranks; nil when empty.
    static func quantile(_ values: [Double], _ q: Double) -> Double? {
        let s = values.sorted()
        guard !s.isEmpty else { return nil }
        let pos = q * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }

    func perDay(_ n: Int) -> Double? { days > 0 ? Double(n) / days : nil }

    var json: JSONObject {
        var o = JSONObject()
        o["type"] = "evaluation"
        o["spanSeconds"] = .number(spanSeconds.rounded())
        o["days"] = .number((days * 1000).rounded() / 1000)
        o["toleranceSeconds"] = .number(tolerance)
        var ks = JSONObject()
        for s in kinds {
            var k = JSONObject()
            k["labels"] = .number(Double(s.labels))
            k["found"] = .number(Double(s.found))
            k["missed"] = .number(Double(s.missed))
            k["falseAlarms"] = .number(Double(s.falseAlarms))
            k["falseAlarmsPerDay"] = perDay(s.falseAlarms).map { .number(($0 * 10_000).rounded() / 10_000) } ?? .null
            k["detections"] = .number(Double(s.detections))
            k["detectionRate"] = s.labels > 0 ? .number((Double(s.found) / Double(s.labels) * 10_000).rounded() / 10_000) : .null
            var d = JSONObject()
            d["median"] = Self.quantile(s.delays, 0.5).map { .number(($0 * 1000).rounded() / 1000) } ?? .null
            d["p90"] = Self.quantile(s.delays, 0.9).map { .number(($0 * 1000).rounded() / 1000) } ?? .null
            d["max"] = s.delays.max().map { .number(($0 * 1000).rounded() / 1000) } ?? .null
            k["delaySeconds"] = .object(d)
            k["missedLabelStarts"] = .array(s.missedStarts.map { .string(Timestamp.rfc3339($0)) })
            if RoutineDetector.kinds.contains(s.kind) && s.labels > 0 {
                k["oracle"] = .object([
                    "found": .number(Double(s.oracleDelays.count)),
                    "delaySeconds": .object(["median": Self.quantile(s.oracleDelays, 0.5).map { .number($0.rounded()) } ?? .null,
                                             "p90": Self.quantile(s.oracleDelays, 0.9).map { .number($0.rounded()) } ?? .null]),
                ])
            }
            ks[s.kind.rawValue] = .object(k)
        }
        o["kinds"] = .object(ks)
        o["labelResults"] = .array(labelResults.map { r in
            .object(["start": .string(Timestamp.rfc3339(r.label.start)), "kind": .string(r.label.kind.rawValue),
                     "delaySeconds": r.delay.map { .number($0.rounded()) } ?? .null,
                     "oracleDelaySeconds": r.oracleDelay.map { .number($0.rounded()) } ?? .null,
                     "context": r.context.map { .string($0.name) } ?? .null])
        })
        let labels = kinds.reduce(0) { $0 + $1.labels }, found = kinds.reduce(0) { $0 + $1.found }
        let falseAlarms = kinds.reduce(0) { $0 + $1.falseAlarms }
        o["total"] = .object(["labels": .number(Double(labels)), "found": .number(Double(found)),
                              "missed": .number(Double(labels - found)), "falseAlarms": .number(Double(falseAlarms)),
                              "falseAlarmsPerDay": perDay(falseAlarms).map { .number(($0 * 10_000).rounded() / 10_000) } ?? .null])
        return o
    }

    /// A table for people.
    var table: String {
        func cell(_ s: String, _ w: Int, right: Bool = true) -> String {
            s.count >= w ? s : (right ? String(repeating: " ", count: w - s.count) + s : s + String(repeating: " ", count: w - s.count))
        }
        func duration(_ v: Double?) -> String {
            guard let v else { return "–" }
            if v < 120 { return "\(Int(v.rounded())) s" }
            if v < 7200 { return String(format1(v / 60)) + " min" }
            return String(format1(v / 3600)) + " h"
        }
        func format1(_ v: Double) -> String {
            let r = (v * 10).rounded() / 10
            return r == r.rounded() ? String(Int(r)) : String(r)
        }
        var lines: [String] = []
        lines.append("evaluation over \(format1(days)) days (tolerance \(Int(tolerance)) s)")
        lines.append(cell("kind", 20, right: false) + cell("labels", 7) + cell("found", 7) + cell("missed", 7)
                     + cell("false", 7) + cell("false/day", 10) + cell("median", 10) + cell("p90", 10)
                     + cell("oracle median", 15) + cell("oracle p90", 12))
        for s in kinds {
            lines.append(cell(s.kind.rawValue, 20, right: false) + cell("\(s.labels)", 7) + cell("\(s.found)", 7)
                         + cell("\(s.missed)", 7) + cell("\(s.falseAlarms)", 7)
                         + cell(perDay(s.falseAlarms).map { String(($0 * 100).rounded() / 100) } ?? "–", 10)
                         + cell(duration(Self.quantile(s.delays, 0.5)), 10) + cell(duration(Self.quantile(s.delays, 0.9)), 10)
                         + cell(duration(Self.quantile(s.oracleDelays, 0.5)), 15) + cell(duration(Self.quantile(s.oracleDelays, 0.9)), 12))
        }
        if kinds.isEmpty { lines.append("(no labels and no detections)") }
        return lines.joined(separator: "\n")
    }
}

extension Substring {
    func trimmed(_ set: String) -> String {
        var s = self
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
