import CareSupport
import Dispatch
import Escalation
#if canImport(Glibc)
import Glibc
#endif

/// A journal as a crash, a full disk or a bad sector leaves it. Input: a mode byte, then the file. With bit 0 clear
/// the file is JSON lines and each gets its right checksum (so mutations reach the record decoders instead of
/// failing the CRC); with it set the bytes are written as they are. Bit 1 says whether the journal was written on
/// this boot (timers kept) or another (timers re-armed from wall time). The journal is read as `incidents` reads it,
/// then recovered by an engine as `run` does at its start, which also sends what it finds queued.
func fuzzJournal(_ input: UnsafeRawBufferPointer) {
    guard let mode = input.first else { return }
    let body = Array(input.dropFirst())
    let file = mode & 1 == 0 ? withChecksums(body) : body
    let path = "\(journalDirectory)/\(IncidentJournal.fileName(person: "linda"))"
    do { try DurableFile.write(file, to: path) } catch { preconditionFailure("journal: cannot write \(path): \(error)") }

    if let records = try? IncidentJournal.read(directory: journalDirectory, person: "linda") {
        _ = JournalQuery.incidents(records, now: WallTime(milliseconds: 1_795_442_523_000))
        _ = JournalQuery.disclosures(records)
    }
    let engine = EscalationEngine(config: journalConfig, clock: ManualClock(wall: 1_795_442_523), notifiers: fuzzNotifiers,
                                  stateDirectory: journalDirectory, bootID: mode & 2 == 0 ? journalSeedBoot : "fuzz-other-boot")
    blocking {
        _ = try? await engine.recover()
        await engine.tick()
        await engine.waitForDeliveries()
    }
}

/// Runs `work` to its end on the cooperative pool (the libFuzzer callback is synchronous).
func blocking(_ work: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task { await work(); done.signal() }
    done.wait()
}

/// `1a2b3c4d {…}\n` for every line, as the journal writes its records.
func withChecksums(_ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for line in body.split(separator: 10, omittingEmptySubsequences: false) {
        let hex = String(crc32c(line), radix: 16)
        out += Array((String(repeating: "0", count: 8 - hex.count) + hex + " ").utf8) + line + [10]
    }
    return out
}

/// CRC-32C (Castagnoli, reflected), bit by bit: the journal's own table is internal to Escalation.
func crc32c(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// `$CAREFUZZ_DIR` (tools/fuzz makes and removes it), else in memory when the machine has /dev/shm: the journal fsyncs every record, which on a disk takes milliseconds.
let journalDirectory: String = {
    if let given = getenv("CAREFUZZ_DIR") { return String(cString: given) }
    let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    var template = Array("\(base)/caremonitord-fuzz-journal-XXXXXX".utf8CString)
    guard let dir = mkdtemp(&template) else { preconditionFailure("cannot make a directory in \(base)") }
    return String(cString: dir)
}()

let journalSeedBoot = "fuzz-boot"

/// Linda's circle of the fall seed (seeds/linda-fall.config.json): a self-check, then three tiers.
let journalConfig: EscalationConfig = {
    let text = """
    {"person": {"id": "linda", "name": "Linda", "timezone": "Europe/London",
                "contacts": [{"notifier": "tv", "address": "caremonitord/linda/tv"}]},
     "notifiers": {"tv": {"kind": "mqtt"}, "phones": {"kind": "mqtt"}},
     "circle": {"members": [
       {"id": "anna", "name": "Anna", "role": "family", "consent": true, "contacts": [{"notifier": "phones", "address": "phones/anna"}]},
       {"id": "ben", "name": "Ben", "role": "neighbour", "consent": true, "contacts": [{"notifier": "phones", "address": "phones/ben"}]},
       {"id": "centre", "name": "Leeds Telecare", "role": "monitoring-centre", "consent": true,
        "contacts": [{"notifier": "phones", "address": "centre/queue"}]}]},
     "policies": [{"kind": "fall", "selfCancelSeconds": 60, "ackTimeoutSeconds": 120, "rePages": 1,
                   "tiers": [{"members": ["anna"], "after": 0}, {"members": ["ben"], "after": 300},
                             {"roles": ["monitoring-centre"], "after": 600}]}]}
    """
    switch EscalationConfig.decode(text: text) {
    case .success(let c): return c
    case .failure(let e): preconditionFailure("the fuzzer's own circle is invalid: \(e)")
    }
}()

/// Takes every page at once, as a broker would.
struct AcceptingNotifier: Notifier {
    let name: String
    let retry = RetryPolicy(attempts: 1, attemptTimeout: .seconds(1), deadline: .seconds(1))
    func attempt(_ n: OutgoingNotification, timeout: Duration) async throws(NotifierError) -> DeliveryReceipt {
        DeliveryReceipt(reference: "fuzz-\(n.key)")
    }
}

let fuzzNotifiers: [String: any Notifier] = ["tv": AcceptingNotifier(name: "tv"), "phones": AcceptingNotifier(name: "phones")]

/// Journals written by the engine itself for the seed corpus: a fall answered and resolved, one still escalating,
/// one cancelled by Linda. Each is written raw (mode 1) and as plain lines (mode 0).
func writeJournalSeeds(to out: String) -> Int32 {
    mkdir(out, 0o755)
    let scenarios: [(String, [(Double, Ack.Action?, String)])] = [
        ("resolved", [(61, nil, ""), (120, .claim, "anna"), (600, .arrived, "anna"), (300, .resolve, "anna")]),
        ("escalating", [(61, nil, ""), (130, nil, ""), (400, nil, "")]),
        ("cancelled", [(20, .cancel, "linda")]),
        ("declined", [(61, nil, ""), (30, .decline, "anna"), (300, .claim, "ben")]),
    ]
    for (name, steps) in scenarios {
        let dir = "\(journalDirectory)/seed-\(name)"
        mkdir(dir, 0o755)
        let clock = ManualClock(wall: 1_795_442_523)
        let engine = EscalationEngine(config: journalConfig, clock: clock, notifiers: fuzzNotifiers, stateDirectory: dir,
                                      bootID: journalSeedBoot)
        blocking {
            _ = try? await engine.recover()
            let fall = Alert(person: "linda", kind: "fall", severity: .critical, time: WallTime(milliseconds: 1_795_442_523_125),
                             device: "hallway radar", detail: "fall")
            _ = await engine.receive(fall)
            await engine.waitForDeliveries()
            for (seconds, action, member) in steps {
                clock.advance(by: seconds)
                await engine.tick()
                await engine.waitForDeliveries()
                let id = await engine.openIncidents.first?.id ?? ""
                if let action {
                    await engine.receive(Ack(incident: id, member: member, action: action, etaMinutes: action == .claim ? 10 : nil))
                    await engine.waitForDeliveries()
                }
            }
        }
        let path = "\(dir)/\(IncidentJournal.fileName(person: "linda"))"
        guard let bytes = DurableFile.read(path) else { printError("no journal written for \(name)"); return 1 }
        var lines: [UInt8] = []
        for line in bytes.split(separator: 10) where line.count > 9 { lines += line.dropFirst(9) + [10] }
        do {
            try DurableFile.write([1] + bytes, to: "\(out)/journal-\(name)-raw")
            try DurableFile.write([0] + lines, to: "\(out)/journal-\(name)-lines")
            try DurableFile.write([2] + lines, to: "\(out)/journal-\(name)-lines-rebooted")
        } catch {
            printError("cannot write the seeds: \(error)")
            return 1
        }
    }
    return 0
}
