import CFuzzerDriver
#if canImport(Glibc)
import Glibc
#endif

/// One libFuzzer target: arbitrary bytes to one parser of what reaches the daemon from outside, then checks of its
/// contract (refusals carry a message, accepted values are in range). A trap is a finding.
struct FuzzTarget: Sendable {
    var name: String
    var summary: String
    var run: @Sendable (UnsafeRawBufferPointer) -> Void
}

let targets: [FuzzTarget] = [
    FuzzTarget(name: "config", summary: "a config file through Configuration.load, then what run builds from it", run: fuzzConfig),
    FuzzTarget(name: "ack", summary: "the ack topic's payload (Ack.decode)", run: fuzzAck),
    FuzzTarget(name: "sms-reply", summary: "an SMS reply's text (SMSNotifier.action(fromReply:))", run: fuzzSMSReply),
    FuzzTarget(name: "sms-spool", summary: "an smstools3 received file (SMSNotifier.reply(fromFile:))", run: fuzzSMSSpool),
    FuzzTarget(name: "ntfy", summary: "an ntfy reply stream (NtfyNotifier.answers(fromStream:))", run: fuzzNtfy),
    FuzzTarget(name: "pushover", summary: "a Pushover receipt poll's JSON (PushoverNotifier.receiptState)", run: fuzzPushover),
    FuzzTarget(name: "matrix", summary: "a Matrix /sync answer (MatrixNotifier.replies(fromSync:))", run: fuzzMatrix),
    FuzzTarget(name: "journal", summary: "an incident journal: read-only queries, then recovery by an engine", run: fuzzJournal),
]

/// The target libFuzzer calls: a C callback cannot capture, so it is chosen once, before the driver starts.
nonisolated(unsafe) var selected: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selected!.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// `CareFuzzer TARGET [libFuzzer flags and corpus directories]`, or `CareFuzzer seed-journal DIR`.
@main
enum CareFuzzerMain {
    static func main() {
        let args = CommandLine.arguments
        if args.count == 3 && args[1] == "seed-journal" { exit(writeJournalSeeds(to: args[2])) }
        guard args.count >= 2, let target = targets.first(where: { $0.name == args[1] }) else {
            var usage = "usage: CareFuzzer TARGET [libFuzzer flags] [CORPUS…] | CareFuzzer seed-journal DIR\ntargets:\n"
            for t in targets { usage += "  \(t.name): \(t.summary)\n" }
            printError(usage)
            exit(64)
        }
        selected = target
        // libFuzzer sees the command line without the target name (argv[0] moves into its place).
        let argv0 = CommandLine.unsafeArgv
        argv0[1] = argv0[0]
        var argc = CommandLine.argc - 1
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv0 + 1
        let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            guard let data else { return 0 }
            return fuzzOne(data, size)
        }
        exit(status)
    }
}
