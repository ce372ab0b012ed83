import CareSupport
import Escalation

/// `careMonitord incidents --config FILE [--state-dir DIR] [--since DATE] [--json]`: incidents with their timeline
/// and response times (first answer, claim, arrival) against the telecare targets (answered ≤ 60 s, attended
/// ≤ 45 min, or the config's `targets`).
enum IncidentsCommand {
    static let usage = "careMonitord incidents --config FILE [--state-dir DIR] [--since DATE] [--json]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "incidents", args, valued: ["config", "state-dir", "since"], flags: ["json"])
        let (config, records) = try JournalAccess.open(a)
        let targets = config.escalation?.targets ?? ResponseTargets()
        let since = try JournalAccess.since(a)
        let now = WallTime(milliseconds: Int64(SystemClock().wallNow() * 1000))
        let reports = JournalQuery.incidents(records, since: since, targets: targets, now: now)
        let out = FileOutput.standardOutput
        if a.flag("json") {
            for r in reports {
                var o = JSONObject()
                o["incident"] = .string(r.id); o["person"] = .string(r.person); o["kind"] = .string(r.kind)
                o["opened"] = .string(RFC3339.format(r.openedAt)); o["state"] = .string(r.state)
                o["closedBy"] = r.closedBy.map { .string($0) } ?? .null
                o["firstAckSeconds"] = r.firstAckSeconds.map { .number(Double($0)) } ?? .null
                o["claimSeconds"] = r.claimSeconds.map { .number(Double($0)) } ?? .null
                o["arrivalSeconds"] = r.arrivalSeconds.map { .number(Double($0)) } ?? .null
                o["answeredWithinTarget"] = r.answeredWithinTarget.map { .bool($0) } ?? .null
                o["attendedWithinTarget"] = r.attendedWithinTarget.map { .bool($0) } ?? .null
                o["timeline"] = .array(r.timeline.map(\.json))
                out.writeLine(JSONWriter.serialize(.object(o)))
            }
        } else {
            if reports.isEmpty { out.writeLine("no incidents for \(config.person.id)\(since.map { " since \(RFC3339.format($0))" } ?? "")") }
            for r in reports {
                func d(_ s: Int?) -> String { s.map { $0 < 120 ? "\($0) s" : "\($0 / 60) min" } ?? "—" }
                func ok(_ b: Bool?) -> String { b.map { $0 ? "within target" : "MISSED target" } ?? "" }
                out.writeLine("\(r.id)  \(r.kind)  opened \(RFC3339.format(r.openedAt))  \(r.state)\(r.closedBy.map { " by \($0)" } ?? "")")
                out.writeLine("  first answer \(d(r.firstAckSeconds)) \(ok(r.answeredWithinTarget)) (target \(targets.answeredSeconds) s)")
                out.writeLine("  claimed \(d(r.claimSeconds)), arrived \(d(r.arrivalSeconds)) \(ok(r.attendedWithinTarget)) (target \(targets.attendedMinutes) min)")
                for l in r.timeline { out.writeLine("    \(l.line)") }
            }
        }
        out.flush()
        return ExitCode.ok
    }
}

/// Shared by the journal commands: the config (for the person) and the journal records in the state directory.
enum JournalAccess {
    static func open(_ a: Arguments) throws(CommandError) -> (Configuration, [JSONValue]) {
        let config = try loadConfiguration(try a.required("config"))
        let dir = stateDirectory(a)
        do {
            return (config, try IncidentJournal.read(directory: dir, person: config.person.id))
        } catch {
            throw CommandError(exitCode: ExitCode.noInput, message: "\(a.command): \(error)")
        }
    }

    static func since(_ a: Arguments) throws(CommandError) -> WallTime? {
        guard let s = a.value("since") else { return nil }
        let text = s.count == 10 ? s + "T00:00:00Z" : s
        guard let t = RFC3339.parse(text) else {
            throw CommandError(exitCode: ExitCode.usage, message: "\(a.command): --since \(s): expected a date (2026-11-01) or an RFC 3339 time")
        }
        return t
    }
}
