import CareSupport

#if canImport(Glibc)
import Glibc
#endif

/// careMonitord: the home gateway daemon of a circle of care. One subcommand per file under Commands/.
@main
enum CareMonitord {
    /// The release; `careMonitord --version` prints it and the `.deb` carries it.
    static let version = "0.4.0"

    struct Command: Sendable {
        var name: String
        var usage: String
        var summary: String
        var run: @Sendable (ArraySlice<String>) throws(CommandError) -> Int32
    }

    static let commands: [Command] = [
        Command(name: "ack", usage: AckCommand.usage, summary: "answer an incident (claim, decline, arrived, resolve, cancel) on its ack topic", run: AckCommand.run),
        Command(name: "anonymise", usage: AnonymiseCommand.usage, summary: "rewrite captures' person, member and device names and shift their times by whole days, to share a recording", run: AnonymiseCommand.run),
        Command(name: "away", usage: AwayCommand.usage, summary: "she is away until a date: pause routine and inactivity alerts (falls, SOS, smoke, CO, leaks stay on); tells the circle once", run: AwayCommand.run),
        Command(name: "check-config", usage: CheckConfigCommand.usage, summary: "check a config file: every problem at once, as FILE:LINE:COL: field: what to fix; no side effects", run: CheckConfigCommand.run),
        Command(name: "demo", usage: DemoCommand.usage, summary: "start a private broker, publish a morning of real sensor payloads, print the decoded samples", run: DemoCommand.run),
        Command(name: "disclosures", usage: DisclosuresCommand.usage, summary: "who was told what about the person, and when (the transparency log)", run: DisclosuresCommand.run),
        Command(name: "evaluate", usage: EvaluateCommand.usage, summary: "replay captures and score the detections against labels (found, missed, false alarms per day, delays)", run: EvaluateCommand.run),
        Command(name: "explain", usage: ExplainCommand.usage, summary: "show which source a message matches and the readings it decodes to", run: ExplainCommand.run),
        Command(name: "forget", usage: ForgetCommand.usage, summary: "delete the incident journal's records before a date, for good", run: ForgetCommand.run),
        Command(name: "incidents", usage: IncidentsCommand.usage, summary: "incidents with their timeline and response times against telecare targets", run: IncidentsCommand.run),
        Command(name: "learn", usage: LearnCommand.usage, summary: "bootstrap a person's learned routine from recorded captures into the state directory; prints what was learned", run: LearnCommand.run),
        Command(name: "record", usage: RecordCommand.usage, summary: "record the configured sources' messages to a capture file", run: RecordCommand.run),
        Command(name: "replay", usage: ReplayCommand.usage, summary: "replay capture files through the pipeline (events on stdout, summary on stderr)", run: ReplayCommand.run),
        Command(name: "report", usage: ReportCommand.usage, summary: "replay captures into one self-contained HTML page: room activity by hour, detections, incidents and response times per day", run: ReportCommand.run),
        Command(name: "run", usage: RunCommand.usage, summary: "the daemon: watch the sensors live, detect, escalate to the circle (systemd Type=notify service)", run: RunCommand.run),
        Command(name: "status", usage: StatusCommand.usage, summary: "what the running daemon says now: online, coverage, open incidents and who is going, routine", run: StatusCommand.run),
        Command(name: "test-alert", usage: TestAlertCommand.usage, summary: "send a member a marked test page and wait for their answer", run: TestAlertCommand.run),
    ]

    static func usage() -> String {
        var s = "usage: careMonitord COMMAND [OPTIONS]\n\ncommands:\n"
        for c in commands { s += "  \(c.name.padding(toLength: 13, withPad: " ", startingAt: 0)) \(c.summary)\n" }
        s += "\nRun 'careMonitord COMMAND --help' for a command's options."
        return s
    }

    static func main() {
        signal(SIGPIPE, SIG_IGN)
        // A file size limit (RLIMIT_FSIZE) must fail the write (EFBIG, reported) instead of killing the process:
        // paging goes on from memory when the journal cannot grow.
        signal(SIGXFSZ, SIG_IGN)
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
        if name == "--version" || name == "version" {
            FileOutput.standardOutput.writeLine("careMonitord \(version)"); FileOutput.standardOutput.flush()
            exit(0)
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            printError("careMonitord: unknown command \"\(name)\"\n\n\(usage())")
            exit(ExitCode.usage)
        }
        if args[2...].contains(where: { $0 == "--help" || $0 == "-h" }) {
            FileOutput.standardOutput.writeLine("usage: \(command.usage)\n\n\(command.summary)")
            FileOutput.standardOutput.flush()
            exit(0)
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
