import CareSupport
import Escalation

/// `careMonitord disclosures --config FILE [--state-dir DIR] [--since DATE] [--json]`: the person's own transparency
/// log — who was told what about them, and when.
enum DisclosuresCommand {
    static let usage = "careMonitord disclosures --config FILE [--state-dir DIR] [--since DATE] [--json]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "disclosures", args, valued: ["config", "state-dir", "since"], flags: ["json"])
        let (config, records) = try JournalAccess.open(a)
        let list = JournalQuery.disclosures(records, since: try JournalAccess.since(a))
        let names = Dictionary((config.escalation?.members ?? []).map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let out = FileOutput.standardOutput
        if list.isEmpty && !a.flag("json") { out.writeLine("nobody was told anything about \(config.person.id)") }
        for d in list {
            if a.flag("json") {
                out.writeLine(JSONWriter.serialize(["time": .string(RFC3339.format(d.time)), "incident": .string(d.incident),
                                                    "member": .string(d.member), "notifier": .string(d.notifier),
                                                    "text": .string(d.text)]))
            } else {
                let who = d.member == config.person.id ? "you" : (names[d.member].map { "\($0) (\(d.member))" } ?? d.member)
                out.writeLine("\(RFC3339.format(d.time))  to \(who) by \(d.notifier): \(d.text)")
            }
        }
        out.flush()
        return ExitCode.ok
    }
}
