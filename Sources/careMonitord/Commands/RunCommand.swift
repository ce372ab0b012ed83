import CareSupport

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord run --config FILE [--state-dir DIR]`: the daemon. Watches the person's sensors over MQTT, detects,
/// escalates to the circle in real time, keeps the journal and learned state in the state directory
/// (`--state-dir`, else `$STATE_DIRECTORY` as systemd's `StateDirectory=` sets it, else /var/lib/caremonitord).
/// Speaks systemd's notify protocol when `$NOTIFY_SOCKET` is set. Exit 0 on SIGTERM/SIGINT, 78 for a bad config.
enum RunCommand {
    static let usage = "careMonitord run --config FILE [--state-dir DIR]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        // Before any thread starts: every thread inherits the mask, and only the main thread takes these signals.
        StopSignals.block(hangup: true)
        let a = try Arguments(command: "run", args, valued: ["config", "state-dir"])
        guard a.positional.isEmpty else {
            throw CommandError(exitCode: ExitCode.usage, message: "run: unexpected argument \(a.positional[0])\nusage: \(usage)")
        }
        let path = try a.required("config")
        let config = try loadConfiguration(path)
        let stateDirectory = stateDirectory(a)
        let logger = Logger(label: "", minimumLevel: .info)
        return try Daemon(configPath: path, stateDirectory: stateDirectory, config: config, logger: logger).run()
    }
}
