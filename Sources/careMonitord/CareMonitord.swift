import CareSupport

#if canImport(Glibc)
import Glibc
#endif

/// careMonitord: the home gateway daemon of a circle of care. One subcommand per file under Commands/.
@main
enum CareMonitord {
    static let commands: [(name: String, summary: String, run: @Sendable (ArraySlice<String>) throws(CommandError) -> Int32)] = [
        ("ack", "answer an incident (claim, decline, arrived, resolve, cancel) on its ack topic", AckCommand.run),
        ("demo", "start a private broker, publish a morning of real sensor payloads, print the decoded samples", DemoCommand.run),
        ("disclosures", "who was told what about the person, and when (the transparency log)", DisclosuresCommand.run),
        ("evaluate", "replay captures and score the detections against labels (found, missed, false alarms per day, delays)", EvaluateCommand.run),
        ("explain", "show which source a message matches and the readings it decodes to", ExplainCommand.run),
        ("forget", "delete the incident journal's records before a date, for good", ForgetCommand.run),
        ("incidents", "incidents with their timeline and response times against telecare targets", IncidentsCommand.run),
        ("learn", "bootstrap a person's learned routine from recorded captures into the state directory; prints what was learned", LearnCommand.run),
        ("record", "record the configured sources' messages to a capture file", RecordCommand.run),
        ("run", "the daemon: watch the sensors live, detect, escalate to the circle (systemd Type=notify service)", RunCommand.run),
        ("replay", "replay capture files through the pipeline (events on stdout, summary on stderr)", ReplayCommand.run),
        ("test-alert", "send a member a marked test page and wait for their answer", TestAlertCommand.run),
    ]

    static func usage() -> String {
        var s = "usage: careMonitord COMMAND [OPTIONS]\n\ncommands:\n"
        for c in commands { s += "  \(c.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(c.summary)\n" }
        s += "\nRun 'careMonitord COMMAND --help' for a command's options."
        return s
    }

    static func main() {
        signal(SIGPIPE, SIG_IGN)
        let args = CommandLine.arguments
        guard args.count >= 2 else {
            printError(usage())
            exit(ExitCode.usage)
        }
        let name = args[1]
        if name == "--help" || name == "-h" || name == "help" {
            FileOutput.standardOutput.writeLine(usage()); FileOutput.standardOutput.flush()
            exit(0)
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            printError("careMonitord: unknown command \"\(name)\"\n\n\(usage())")
            exit(ExitCode.usage)
        }
        do {
            let code = try command.run(args[2...])
            FileOutput.standardOutput.flush()
            exit(code)
        } catch {
            FileOutput.standardOutput.flush()
            printError(error.message)
            exit(error.exitCode)
        }
    }
}

extension String {
    func padding(toLength n: Int, withPad pad: String, startingAt: Int) -> String {
        count >= n ? self : self + String(repeating: pad, count: n - count)
    }
}
