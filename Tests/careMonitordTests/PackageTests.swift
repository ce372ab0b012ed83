import CareSupport
import Foundation
import Testing

/// Installing the Debian way: `tools/install` lays out the binary, the unit, the example config and the docs;
/// `tools/build-deb` builds the static release and packages it with the dependencies dpkg-shlibdeps derives.
@Suite("install and the Debian package", .serialized)
struct PackageTests {
    struct Run {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) throws -> Run {
        let r = try ChildProcess.run(executable: executable, arguments: arguments, outputLimit: 1 << 22, timeout: timeout)
        let code: Int32 = if case .exited(let c) = r.status { c } else { -1 }
        return Run(code: code, stdout: r.standardOutput.text, stderr: r.standardError.text)
    }

    static func tool(_ name: String) -> String { CLI.repository.appendingPathComponent("tools/\(name)").path }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// What `careMonitord --version` prints after the name.
    static var version: String {
        let line = (try? run(CLI.executable, ["--version"]).stdout) ?? ""
        return line.split(separator: " ").dropFirst().first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
    }

    static var canBuildPackages: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg-deb")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg-shlibdeps")
    }

    @Test func installPointsTheUnitAtThePrefixAndNeverOverwritesAConfigAlreadyThere() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("root").path
        let install = [Self.tool("install"), "--binary", CLI.executable, "--prefix", "/usr/local", "--destdir", dest]
        let first = try Self.run("/bin/bash", install)
        #expect(first.code == 0, "\(first.stderr)")

        let version = try Self.run(dest + "/usr/local/bin/careMonitord", ["--version"])
        #expect(version.stdout == "careMonitord \(Self.version)\n")
        let unit = try Self.read(dest + "/lib/systemd/system/caremonitord.service")
        #expect(unit.contains("\nExecStart=/usr/local/bin/careMonitord run --config /etc/caremonitord/caremonitord.json\n"))
        #expect(!unit.contains("/usr/bin/careMonitord"))
        let example = try Self.read(CLI.repository.appendingPathComponent("examples/linda.json").path)
        #expect(try Self.read(dest + "/etc/caremonitord/caremonitord.json") == example)
        for doc in ["README.md", "systemd.md", "linda.json"] {
            #expect(FileManager.default.fileExists(atPath: dest + "/usr/local/share/doc/caremonitord/" + doc), "\(doc)")
        }

        let hers = #"{ "person": { "id": "linda", "timezone": "Europe/London" }, "sources": [] }"#
        try hers.write(toFile: dest + "/etc/caremonitord/caremonitord.json", atomically: true, encoding: .utf8)
        let again = try Self.run("/bin/bash", install)
        #expect(again.code == 0, "\(again.stderr)")
        #expect(try Self.read(dest + "/etc/caremonitord/caremonitord.json") == hers)
        #expect(again.stderr.contains("kept the existing"), "\(again.stderr)")
    }

    /// A full static release build (one to two minutes on 2 cores the first time; `.build-deb/` is kept, so later
    /// runs only relink what changed).
    @Test(.enabled(if: PackageTests.canBuildPackages, "needs dpkg-deb and dpkg-shlibdeps (dpkg-dev)"))
    func debianPackageHoldsTheStaticBinaryUnitAndConffileAndDependsOnExactlyWhatTheBinaryLinks() throws {
        let out = try CLI.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let build = try Self.run("/bin/bash", [Self.tool("build-deb"), "--out", out], timeout: .seconds(1200))
        try #require(build.code == 0, "\(build.stderr.suffix(4000))")
        let deb = build.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let arch = try Self.run("dpkg", ["--print-architecture"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb == "\(out)/careMonitord_\(Self.version)_\(arch).deb")

        // The control file, as `dpkg-deb --info` shows it (" Field: value" lines).
        let info = try Self.run("dpkg-deb", ["--info", deb])
        #expect(info.code == 0, "\(info.stderr)")
        var fields: [String: String] = [:]
        for line in info.stdout.split(separator: "\n") where line.hasPrefix(" ") && !line.hasPrefix("  ") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line.dropFirst().prefix(upTo: colon).trimmingCharacters(in: .whitespaces)] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        #expect(fields["Package"] == "caremonitord")
        #expect(fields["Version"] == Self.version)
        #expect(fields["Architecture"] == arch)
        let depends = Set((fields["Depends"] ?? "").split(separator: ",").map {
            String($0.trimmingCharacters(in: .whitespaces).prefix { $0 != " " && $0 != "(" })
        })
        #expect(depends.contains("libmosquitto1") && depends.contains("libc6"), "\(depends)")
        // The HTTP notifiers run the curl program; nothing links libcurl any more.
        #expect(depends.contains("curl") && !depends.contains { $0.hasPrefix("libcurl") }, "\(depends)")
        #expect(!depends.contains { $0.range(of: "swift|foundation|dispatch|icu|blocksruntime", options: [.regularExpression, .caseInsensitive]) != nil },
                "\(depends)")

        let contents = try Self.run("dpkg-deb", ["--contents", deb])
        let paths = Set(contents.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        for path in ["./usr/bin/careMonitord", "./lib/systemd/system/caremonitord.service", "./etc/caremonitord/caremonitord.json",
                     "./usr/share/doc/caremonitord/README.md"] {
            #expect(paths.contains(path), "\(path) not in \(contents.stdout)")
        }
        let conffiles = try Self.run("dpkg-deb", ["--info", deb, "conffiles"])
        #expect(conffiles.stdout == "/etc/caremonitord/caremonitord.json\n")

        // The postinst reloads systemd and restarts a running service on upgrade; it never enables or starts it.
        let postinst = try Self.run("dpkg-deb", ["--info", deb, "postinst"]).stdout
        let commands = postinst.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("#") && !$0.hasPrefix("echo") }
        #expect(commands.contains { $0.contains("systemctl --system daemon-reload") }, "\(postinst)")
        #expect(!commands.contains { $0.contains("enable") || $0.contains("systemctl start") }, "\(postinst)")

        let root = try CLI.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try Self.run("dpkg-deb", ["-x", deb, root]).code == 0)
        let binary = root + "/usr/bin/careMonitord"
        #expect(try Self.run(binary, ["--version"]).stdout == "careMonitord \(Self.version)\n")
        #expect(try Self.read(root + "/lib/systemd/system/caremonitord.service")
                == Self.read(CLI.repository.appendingPathComponent("systemd/caremonitord.service").path))
        #expect(try Self.read(root + "/etc/caremonitord/caremonitord.json")
                == Self.read(CLI.repository.appendingPathComponent("examples/linda.json").path))

        // Exactly the packages owning the libraries it links (found by `dpkg -S`, not the script's way), plus
        // tzdata, whose files it reads, and curl, which it runs. Nothing of the toolchain: the Swift runtime is
        // inside, and Foundation is not used.
        var needed: [String] = []
        for line in try Self.run("objdump", ["-p", binary]).stdout.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2 && words[0] == "NEEDED" { needed.append(String(words[1])) }
        }
        #expect(needed.contains("libmosquitto.so.1"), "\(needed)")
        #expect(!needed.contains { $0.hasPrefix("libswift") || $0.hasPrefix("libFoundation") || $0.hasPrefix("libdispatch") || $0.hasPrefix("libcurl") },
                "\(needed)")
        let multiarch = try Self.run("dpkg-architecture", ["-qDEB_HOST_MULTIARCH"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var owners: Set<String> = ["tzdata", "curl"]
        for soname in needed {
            let found = try Self.run("dpkg", ["-S", "*/\(soname)"]).stdout.split(separator: "\n")
                .filter { $0.contains("/\(multiarch)/") || $0.contains(" /lib64/") }
                .map { String($0.prefix { $0 != ":" }) }
            #expect(!found.isEmpty, "no package holds \(soname)")
            owners.formUnion(found)
        }
        #expect(depends == owners)
    }
}
