import CareSupport
import Escalation

/// `careMonitord forget --config FILE [--state-dir DIR] --before DATE`: deletes the journal's records older than DATE
/// for good (health data is kept no longer than needed; `journal.retentionDays` does it automatically). When a
/// daemon runs on that state directory it is asked to do it (its control socket), so its journal stays whole;
/// otherwise the files are rewritten here.
enum ForgetCommand {
    static let usage = "careMonitord forget --config FILE [--state-dir DIR] --before DATE"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "forget", args, valued: ["config", "state-dir", "before"])
        let config = try loadConfiguration(try a.required("config"))
        let dir = stateDirectory(a)
        let text = try a.required("before")
        guard let before = RFC3339.parse(text.count == 10 ? text + "T00:00:00Z" : text) else {
            throw CommandError(exitCode: ExitCode.usage, message: "forget: --before \(text): expected a date (2026-01-01) or an RFC 3339 time")
        }
        if let reply = ControlSocket.ask(dir + "/" + ControlSocket.fileName, "forget \(config.person.id) \(RFC3339.format(before))") {
            guard reply.hasPrefix("ok ") else {
                throw CommandError(exitCode: ExitCode.ioError, message: "forget: the running daemon refused: \(reply.dropFirst(6))")
            }
            printError("forget: \(reply.dropFirst(3)) record(s) before \(RFC3339.format(before)) deleted for \(config.person.id) by the running daemon")
            return ExitCode.ok
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
