import CareSupport
import Escalation

/// `careMonitord forget --config FILE --state-dir DIR --before DATE`: deletes the journal's records older than DATE
/// for good (health data is kept no longer than needed; `journal.retentionDays` does it automatically).
enum ForgetCommand {
    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "forget", args, valued: ["config", "state-dir", "before"])
        let config = try loadConfiguration(try a.required("config"))
        let dir = try a.required("state-dir")
        let text = try a.required("before")
        guard let before = RFC3339.parse(text.count == 10 ? text + "T00:00:00Z" : text) else {
            throw CommandError(exitCode: ExitCode.usage, message: "forget: --before \(text): expected a date (2026-01-01) or an RFC 3339 time")
        }
        do {
            let n = try IncidentJournal.forget(directory: dir, person: config.person.id, before: before)
            printError("forget: \(n) record(s) before \(RFC3339.format(before)) deleted for \(config.person.id)")
        } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "forget: \(error)")
        }
        return ExitCode.ok
    }
}
