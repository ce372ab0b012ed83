import CareSupport

/// `careMonitord check-config [--config] FILE`: checks a config the way every command loads it (sources, broker,
/// circle, policies, notifiers, detectors), reporting every problem of the file at once, each as
/// `FILE:LINE:COL: field.path: what is wrong and how to fix it`, on stderr. Warnings are printed and do not fail.
/// Exit 0 when the config is usable, 78 when not. No side effects: it connects to nothing and writes nothing.
enum CheckConfigCommand {
    static let usage = "careMonitord check-config [--config] FILE"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "check-config", args, valued: ["config"])
        let files = (a.value("config").map { [$0] } ?? []) + a.positional
        guard files.count == 1, let path = files.first else {
            throw CommandError(exitCode: ExitCode.usage, message: "check-config: give one config file\nusage: \(usage)")
        }
        let config = try loadConfiguration(path)
        let circle = config.escalation.map { c in
            "a circle of \(c.members.count) (\(c.members.map(\.id).joined(separator: ", "))), \(c.notifiers.count) notifier(s)"
        } ?? "no circle (detections only)"
        FileOutput.standardOutput.writeLine("\(path): ok: \(config.person.id) (\(config.person.timezone)), \(config.sources.count) source(s), \(circle)\(config.warnings.isEmpty ? "" : ", \(config.warnings.count) warning(s)")")
        return ExitCode.ok
    }
}
