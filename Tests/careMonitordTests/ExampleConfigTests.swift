import Anomaly
import CareSupport
import Escalation
import Foundation
import Testing

/// `docs/configuration.md`, `examples/linda.json` and the code hold each other: the same keys, the same defaults.
/// And no file of the repository points at a file that is not in it.
@Suite("the example config, its documentation and the repository's references")
struct ExampleConfigTests {
    static let exampleFile = CLI.repository.appendingPathComponent("examples/linda.json")
    static let docFile = CLI.repository.appendingPathComponent("docs/configuration.md")

    /// Notifier kinds whose token is required: a config naming a token file that is not there is refused, so the
    /// example cannot hold them. The probe of the code checks their documented keys instead.
    static let kindsNeedingASecret = ["gotify", "pushover", "matrix"]
    /// Objects whose keys are names chosen in the config, written `<…>` in the documentation.
    static let namedKeys = ["notifiers": "<name>", "detectors.thresholds.applianceLimits": "<word>",
                            "detectors.routine.rooms": "<room>"]
    /// Where the example holds choices made for Linda rather than defaults.
    static let choices = ["person.contacts", "person.pronouns", "circle.members", "policies[]", "detectors.alarms.sosButtons"]
    /// Text that has the shape of a relative path but is not a reference: names a test refuses on purpose (listed
    /// here too, in this file).
    /// Paths that name something outside the repository on purpose: a file `apt install` takes from the current
    /// folder, and paths inside the Debian package.
    static let notReferences = [
        "Tests/CareSupportTests/SecretTests.swift": ["../../etc/shadow", "../pw"],
        "Tests/CareSupportTests/ZoneInfoTests.swift": ["../etc/passwd"],
        "README.md": ["./careMonitord_"],
        "systemd/README.md": ["./careMonitord_"],
        "Tests/careMonitordTests/PackageTests.swift": ["./usr/bin/careMonitord", "./lib/systemd/system/caremonitord.service",
                                                       "./etc/caremonitord/caremonitord.json", "./usr/share/doc/caremonitord/README.md"],
        "tools/build-deb": ["./DEBIAN"],
    ]

    // MARK: - The documentation's keys

    struct DocumentedKey {
        var path: String
        /// The default's table cell as written.
        var cell: String
        /// The default when the cell is one JSON value in backquotes (`300`, `"18:00"`, `[]`).
        var value: JSONValue? {
            guard cell.hasPrefix("`"), cell.hasSuffix("`"), cell.count > 2, cell.filter({ $0 == "`" }).count == 2 else { return nil }
            return try? JSONParser.parse(String(cell.dropFirst().dropLast()))
        }
        var isAbsentByDefault: Bool { cell.hasPrefix("absent") }
    }

    /// The rows of the documentation's tables whose first cell is a key path in backquotes.
    static func documentedKeys() throws -> [DocumentedKey] {
        try String(contentsOf: docFile, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| `") else { return nil }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4 else { return nil }
            return DocumentedKey(path: String(cells[1].dropFirst().dropLast()), cell: cells[2])
        }
    }

    // MARK: - The example's keys

    static func example() throws -> JSONValue {
        try JSONParser.parse(Array(try Data(contentsOf: exampleFile)))
    }

    /// Every key of `value` as the documentation writes it (`circle.members[].contacts[].notifier`,
    /// `notifiers.<ntfy>.url`) with every value it has there.
    static func keyPaths(_ value: JSONValue) -> [(path: String, value: JSONValue)] {
        var out: [(String, JSONValue)] = []
        func walk(_ v: JSONValue, _ path: String) {
            switch v {
            case .array(let items): for item in items { walk(item, path + "[]") }
            case .object(let o):
                for m in o.members {
                    let p = childPath(path, m.key, in: o)
                    out.append((p, m.value))
                    walk(m.value, p)
                }
            default: break
            }
        }
        walk(value, "")
        return out
    }

    /// The path of `key` in `object` at `parent`: a name chosen in the config becomes its placeholder, and a
    /// notifier's keys other than `kind` are written under its kind (which every instance of the example names).
    static func childPath(_ parent: String, _ key: String, in object: JSONObject) -> String {
        if let placeholder = namedKeys[parent] { return "\(parent).\(placeholder)" }
        if parent == "notifiers.<name>", key != "kind", let kind = object["kind"]?.stringValue { return "notifiers.<\(kind)>.\(key)" }
        return parent.isEmpty ? key : "\(parent).\(key)"
    }

    // MARK: - Tests

    @Test func everyKeyOfTheExampleIsDocumentedAndEveryDocumentedKeyIsInTheExample() throws {
        let documented = Set(try Self.documentedKeys().map(\.path))
        let example = try Self.example()
        for (name, settings) in try #require(example["notifiers"]?.objectValue).members.map({ ($0.key, $0.value) }) {
            #expect(settings["kind"] != nil, "notifiers.\(name): the example names every instance's kind")
        }
        let used = Set(Self.keyPaths(example).map(\.path))
        #expect(documented.count > 150, "the documentation's tables were not read: \(documented.count) keys")
        for path in used.subtracting(documented).sorted() {
            Issue.record("\(path) is in examples/linda.json but not in docs/configuration.md")
        }
        let withoutExample = Self.kindsNeedingASecret.map { "notifiers.<\($0)>." }
        for path in documented.subtracting(used).sorted() where !withoutExample.contains(where: path.hasPrefix) {
            Issue.record("\(path) is in docs/configuration.md but not in examples/linda.json")
        }
    }

    @Test func theExampleHoldsTheDocumentedDefaults() throws {
        let documented = Dictionary(try Self.documentedKeys().map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for (path, value) in Self.keyPaths(try Self.example()) {
            guard let key = documented[path] else { continue }
            if value.isNull {
                #expect(key.isAbsentByDefault, "\(path) is null in the example, but its default is \(key.cell), not absent")
            } else if let d = key.value, !Self.choices.contains(where: path.hasPrefix) {
                #expect(value == d, "\(path) is \(value) in the example, but its documented default is \(d)")
            }
        }
    }

    /// Every object of the example, plus one instance of each notifier kind the example lacks, gets an unknown key;
    /// `check-config` rejects each one and lists the keys the code knows there, which must be the documented ones.
    @Test func theDocumentedKeysAreTheKeysTheCodeKnows() throws {
        let clean = try CLI.run(["check-config", Self.exampleFile.path])
        #expect(clean.code == 0, "\(clean.stderr)")
        #expect(!clean.stderr.contains("warning"), "\(clean.stderr)")

        var probed: [String: String] = [:]   // object path as the code writes it → as the documentation does
        func probe(_ v: JSONValue, _ path: String, _ docPath: String) -> JSONValue {
            switch v {
            case .array(let items):
                return .array(items.enumerated().map { probe($1, "\(path)[\($0)]", docPath + "[]") })
            case .object(var o):
                for i in o.members.indices {
                    let key = o.members[i].key
                    o.members[i].value = probe(o.members[i].value, path.isEmpty ? key : "\(path).\(key)",
                                               Self.childPath(docPath, key, in: o))
                }
                if Self.namedKeys[docPath] == nil {
                    o["zzProbe"] = 0
                    probed[path] = docPath
                }
                if path == "notifiers" {
                    for kind in Self.kindsNeedingASecret {
                        o["probe-\(kind)"] = .object(["kind": .string(kind), "zzProbe": 0])
                        probed["notifiers.probe-\(kind)"] = "notifiers.<name>"
                    }
                }
                return .object(o)
            default: return v
            }
        }
        let probe = probe(try Self.example(), "", "")
        let dir = try CLI.temporaryDirectory()
        let r = try CLI.run(["check-config", try CLI.write(JSONWriter.serialize(probe), "probe.json", in: dir)])
        #expect(r.code == 78)

        let documented = Set(try Self.documentedKeys().map(\.path))
        let kinds = Dictionary(uniqueKeysWithValues: probe["notifiers"]?.objectValue?.members
            .map { ($0.key, $0.value["kind"]?.stringValue ?? $0.key) } ?? [])
        var reported: Set<String> = []
        for line in r.stderr.split(separator: "\n").map(String.init) {
            guard let at = line.range(of: "zzProbe: unknown "), let list = line.range(of: "; known", range: at.upperBound..<line.endIndex),
                  let colon = line[list.upperBound...].firstIndex(of: ":") else { continue }
            // "FILE:LINE:COL: parent.zzProbe: unknown …; known …: a, b, c"
            let head = line[..<at.lowerBound]
            let path = head.range(of: ": ", options: .backwards).map { String(head[$0.upperBound...]) } ?? ""
            let parent = path.hasSuffix(".") ? String(path.dropLast()) : path
            let docParent = try #require(probed[parent], "check-config reported \(parent), which was not probed: \(line)")
            reported.insert(parent)
            let known = line[line.index(after: colon)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let instance = parent.hasPrefix("notifiers.") ? kinds[String(parent.dropFirst("notifiers.".count))] : nil
            func docPath(_ key: String) -> String {
                if let kind = instance, key != "kind" { return "notifiers.<\(kind)>.\(key)" }
                if instance != nil { return "notifiers.<name>.kind" }
                return docParent.isEmpty ? key : "\(docParent).\(key)"
            }
            let knownPaths = Set(known.map(docPath))
            for p in knownPaths.subtracting(documented).sorted() where !(docParent.isEmpty && ["$schema", "_comment"].contains(p)) {
                Issue.record("the code knows \(p), docs/configuration.md does not")
            }
            let siblings = documented.filter { p in
                if let kind = instance { return p.hasPrefix("notifiers.<\(kind)>.") || p == "notifiers.<name>.kind" }
                let prefix = docParent.isEmpty ? "" : docParent + "."
                return p.hasPrefix(prefix) && !p.dropFirst(prefix.count).contains(".") && !p.dropFirst(prefix.count).contains("[")
            }
            for p in siblings.subtracting(knownPaths).sorted() {
                Issue.record("docs/configuration.md documents \(p), which the code does not know (it knows \(known.joined(separator: ", ")))")
            }
        }
        for parent in Set(probed.keys).subtracting(reported).sorted() {
            Issue.record("\(parent.isEmpty ? "the top level" : parent) accepts an unknown key without a word")
        }
    }

    /// What the example sets to its documented default, left out, decodes to the same settings: the documented
    /// defaults are the code's (escalation and detector settings; the broker's are the executable's own).
    @Test func leavingOutTheDocumentedDefaultsChangesNothing() throws {
        let defaults = Dictionary(try Self.documentedKeys().compactMap { k in k.value.map { (k.path, $0) } }, uniquingKeysWith: { a, _ in a })
        func strip(_ v: JSONValue, _ path: String) -> JSONValue {
            switch v {
            case .array(let items): return .array(items.map { strip($0, path + "[]") })
            case .object(let o):
                var out = JSONObject()
                for m in o.members {
                    let p = Self.childPath(path, m.key, in: o)
                    if defaults[p] == m.value { continue }
                    out[m.key] = strip(m.value, p)
                }
                return .object(out)
            default: return v
            }
        }
        let full = try Self.example()
        let stripped = strip(full, "")
        #expect(JSONWriter.serialize(stripped).count < JSONWriter.serialize(full).count * 2 / 3, "little was stripped")

        func escalation(_ root: JSONValue) throws -> EscalationConfig {
            var own = JSONObject()
            for k in ["person", "circle", "policies", "notifiers", "journal", "targets", "digest", "heartbeat"] { own[k] = root[k] }
            return try EscalationConfig.decode(.object(own)).get()
        }
        let a = try escalation(full), b = try escalation(stripped)
        #expect(a.person == b.person)
        #expect(a.members == b.members)
        #expect(a.policies == b.policies)
        #expect(a.journal == b.journal)
        #expect(a.targets == b.targets)
        #expect(a.digest == b.digest)
        #expect(a.heartbeat == b.heartbeat)
        #expect(a.notifiers.keys.sorted() == b.notifiers.keys.sorted())
        for (name, c) in a.notifiers {
            #expect("\(c)" == "\(b.notifiers[name].map { "\($0)" } ?? "none")", "notifiers.\(name)")
        }

        let context = DetectorContext(person: "linda", localTime: CareSupport.LocalTime(identifier: "Europe/London")!, signals: SignalRegistry(), emit: { _ in })
        func families(_ root: JSONValue) throws -> [String] {
            let engine = try DetectorEngine(context: context, settings: root["detectors"]?.objectValue)
            let all: [Any?] = [engine.alarms, engine.fall, engine.routine, engine.thresholds, engine.health]
            return all.map { family in
                var text = ""
                if let family { dump(family, to: &text) }
                return text
            }
        }
        let fullFamilies = try families(full), strippedFamilies = try families(stripped)
        for (name, (x, y)) in zip(DetectorRegistry.names, zip(fullFamilies, strippedFamilies)) {
            #expect(!x.isEmpty, "detectors.\(name) is off")
            #expect(x == y, "detectors.\(name): the example's settings differ from the defaults")
        }
    }

    // MARK: - References

    /// A relative path in any file of the repository (`docs/…`, `../…`, `tools/…`) names a file or folder that is in
    /// it, or one git ignores (build output). URLs and absolute paths are not references into the repository.
    @Test func noFileOfTheRepositoryPointsAtAFileThatIsNotInIt() throws {
        let root = CLI.repository.standardizedFileURL.path
        let ls = try ChildProcess.run(executable: "/usr/bin/env", arguments: ["git", "-C", root, "ls-files", "-z"], outputLimit: 1 << 24)
        #expect(ls.status == .exited(0), "git ls-files: \(ls.standardError.text)")
        let files = ls.standardOutput.text.split(separator: "\0").map(String.init)
        #expect(files.contains("examples/linda.json"))
        var known = Set(files)
        for f in files {
            var parts = f.split(separator: "/").dropLast()
            while !parts.isEmpty { known.insert(parts.joined(separator: "/")); parts = parts.dropLast() }
        }
        let topFolders = Set(files.compactMap { f in f.firstIndex(of: "/").map { String(f[..<$0]) } })
        let char = "[A-Za-z0-9_.@+-]"
        let pattern = "(?<![A-Za-z0-9_./~$:-])((?:\\.\\.?/)+\(char)+(?:/\(char)+)*/?|(?:"
            + topFolders.sorted().map(NSRegularExpression.escapedPattern).joined(separator: "|") + ")/(?:\(char)+(?:/\(char)+)*/?)?)"
        let regex = try NSRegularExpression(pattern: pattern)

        var missing: [(file: String, line: Int, path: String, resolved: String?)] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: "\(root)/\(file)"), data.count < 1 << 20,
                  !data.contains(0), let text = String(data: data, encoding: .utf8) else { continue }
            let dir = (file as NSString).deletingLastPathComponent
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let s = String(line)
                for m in regex.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                    var token = (s as NSString).substring(with: m.range(at: 1))
                    while token.hasSuffix(".") { token.removeLast() }
                    if (file.hasSuffix("/ExampleConfigTests.swift") ? Self.notReferences.values.flatMap { $0 } : Self.notReferences[file] ?? [])
                        .contains(token) { continue }
                    var candidates = [token.hasPrefix(".") ? normalize(dir, token) : normalize("", token)]
                    if !token.hasPrefix(".") { candidates.append(normalize(dir, token)) }
                    let inside = candidates.compactMap { $0 }
                    if inside.contains(where: known.contains) { continue }
                    missing.append((file, n + 1, token, inside.first))
                }
            }
        }
        // Paths git ignores (build output, scratch folders) are made, not kept: not references to the repository.
        // A folder pattern (`/Fuzz/.build/`) matches only a path that ends in `/`: ask for both.
        // git refuses a path beyond a symbolic link (SwiftPM's `.build/debug`): ask about the link itself.
        func upToALink(_ path: String) -> String {
            var prefix: [Substring] = []
            for part in path.split(separator: "/") {
                prefix.append(part)
                var st = stat()
                if lstat("\(root)/\(prefix.joined(separator: "/"))", &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK { break }
            }
            return prefix.joined(separator: "/")
        }
        let asked = Dictionary(missing.compactMap(\.resolved).map { ($0, upToALink($0)) }, uniquingKeysWith: { a, _ in a })
        let inside = Set(asked.values).sorted().flatMap { [$0, $0 + "/"] }
        let ignoredRun = try ChildProcess.run(executable: "/usr/bin/env", arguments: ["git", "-C", root, "check-ignore", "--no-index", "--stdin"],
                                              input: Array(inside.joined(separator: "\n").utf8), outputLimit: 1 << 20)
        let ignored = Set(ignoredRun.standardOutput.text.split(separator: "\n").map { String($0.hasSuffix("/") ? $0.dropLast() : $0) })
        for m in missing where m.resolved.map({ !ignored.contains(asked[$0] ?? $0) }) ?? true {
            Issue.record("\(m.file):\(m.line): \(m.path) names \(m.resolved == nil ? "a place outside the repository" : "nothing in the repository")")
        }
    }

    /// `base`/`path` with `.` and `..` resolved, relative to the repository's root; nil when it leaves it.
    func normalize(_ base: String, _ path: String) -> String? {
        var out: [Substring] = []
        for part in (base.isEmpty ? path : "\(base)/\(path)").split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if out.isEmpty { return nil }; out.removeLast(); continue }
            out.append(part)
        }
        return out.joined(separator: "/")
    }
}
