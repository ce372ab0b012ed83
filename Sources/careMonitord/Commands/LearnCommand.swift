import Anomaly
import CareSupport

/// `careMonitord learn --config FILE --state-dir DIR [--from TIME] [--to TIME] CAPTURE…`: bootstraps a person's learned routine from recorded
/// history, so that a new install need not wait through the learning days. Replays the captures through the same
/// pipeline and detectors as `replay` (detections are discarded), keeps the learned state in
/// `DIR/<person>/learned.json` (continuing from what is already there), and prints on stdout a readable JSON summary
/// of what was learned: days, wake-up and night, and the limits each routine rule applies at every hour.
enum LearnCommand {
    static let usage = "careMonitord learn --config FILE --state-dir DIR [--from TIME] [--to TIME] CAPTURE…"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "learn", args, valued: Set(["config", "state-dir"]).union(Replay.windowOptions))
        let config = try loadConfiguration(try a.required("config"))
        let stateDirectory = try a.required("state-dir")
        guard !a.positional.isEmpty else {
            throw CommandError(exitCode: ExitCode.usage, message: "learn: no capture file given\nusage: \(usage)")
        }
        let suppressed = DetectionTally()
        _ = try Replay.run(config: config, files: a.positional, stateDirectory: stateDirectory,
                           window: try Replay.window(a, config: config), command: "learn", onDetection: { d in
            if d.state == .raised { suppressed.add(d.kind.rawValue) }
        })

        // Read back what was saved, through a routine detector configured like the daemon's.
        let file = LearnedStateFile(stateDirectory: stateDirectory, person: config.person.id)
        var out = JSONObject()
        out["person"] = .string(config.person.id)
        out["timezone"] = .string(config.person.timezone)
        out["stateFile"] = .string(file.path)
        out["captures"] = .array(a.positional.map { .string($0) })
        let home = try MonitoredHome.build(config: config, clock: .capture, notifiers: .none, stateDirectory: stateDirectory,
                                           logger: .silent, events: { _ in })
        if let routine = home.detectors.routine {
            out["routine"] = .object(routine.summary())
        } else {
            out["routine"] = .string("disabled in the config (detectors.routine.enabled = false)")
        }
        var tally = JSONObject()
        for (k, n) in suppressed.counts.sorted(by: { $0.key < $1.key }) { tally[k] = .number(Double(n)) }
        out["detectionsWhileLearning"] = .object(tally)
        FileOutput.standardOutput.writeLine(PrettyJSON.format(.object(out)))
        return ExitCode.ok
    }
}

/// Counts of detections by kind, filled on the detector thread and read after it was joined.
final class DetectionTally: @unchecked Sendable {
    // @unchecked Sendable: written by the detector thread only; read by the main thread after Replay.run returned.
    private(set) var counts: [String: Int] = [:]
    func add(_ kind: String) { counts[kind, default: 0] += 1 }
}

/// Indented JSON for people; arrays of plain values stay on one line.
enum PrettyJSON {
    static func format(_ v: JSONValue, indent: String = "") -> String {
        switch v {
        case .object(let o):
            if o.isEmpty { return "{}" }
            let inner = indent + "  "
            let members = o.members.map { inner + JSONWriter.quoted($0.key) + ": " + format($0.value, indent: inner) }
            return "{\n" + members.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let a) where a.contains(where: { $0.objectValue != nil || $0.arrayValue != nil }):
            let inner = indent + "  "
            return "[\n" + a.map { inner + format($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return JSONWriter.serialize(v)
        }
    }
}
