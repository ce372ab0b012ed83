import CareSupport

#if canImport(Glibc)
import Glibc
#endif

/// sysexits(3) codes: what scripts and systemd can act on.
enum ExitCode {
    static let ok: Int32 = 0
    static let usage: Int32 = 64       // EX_USAGE: bad command line
    static let dataError: Int32 = 65   // EX_DATAERR: a malformed payload
    static let noInput: Int32 = 66     // EX_NOINPUT: an input file is missing
    static let unavailable: Int32 = 69 // EX_UNAVAILABLE: the broker cannot be reached
    static let software: Int32 = 70    // EX_SOFTWARE
    static let ioError: Int32 = 74     // EX_IOERR
    static let config: Int32 = 78      // EX_CONFIG: the config is bad
}

/// A command failed: the message says what to do; the exit code says what kind of failure it was.
struct CommandError: Error, CustomStringConvertible {
    var exitCode: Int32
    var message: String
    var description: String { message }
}

/// A small, strict parser for `--name value` options, `--flag`s and positional arguments.
struct Arguments {
    var command: String
    private var options: [String: [String]] = [:]
    private(set) var positional: [String] = []

    /// `valued`: options that take a value; `flags`: options that do not. Anything else is a usage error.
    init(command: String, _ args: ArraySlice<String>, valued: Set<String>, flags: Set<String> = []) throws(CommandError) {
        self.command = command
        var i = args.startIndex
        while i < args.endIndex {
            let a = args[i]
            if a == "--" {
                positional.append(contentsOf: args[(i + 1)...])
                break
            }
            if a.hasPrefix("--") {
                var name = String(a.dropFirst(2))
                var value: String?
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if valued.contains(name) {
                    if value == nil {
                        i += 1
                        guard i < args.endIndex else { throw CommandError(exitCode: ExitCode.usage, message: "\(command): --\(name) needs a value") }
                        value = args[i]
                    }
                    options[name, default: []].append(value!)
                } else if flags.contains(name) {
                    guard value == nil else { throw CommandError(exitCode: ExitCode.usage, message: "\(command): --\(name) takes no value") }
                    options[name, default: []].append("")
                } else {
                    let known = (valued.map { "--\($0) VALUE" } + flags.map { "--\($0)" }).sorted().joined(separator: ", ")
                    throw CommandError(exitCode: ExitCode.usage, message: "\(command): unknown option --\(name) (known: \(known))")
                }
            } else {
                positional.append(a)
            }
            i += 1
        }
    }

    func value(_ name: String) -> String? { options[name]?.last }
    func flag(_ name: String) -> Bool { options[name] != nil }

    func required(_ name: String) throws(CommandError) -> String {
        guard let v = value(name) else { throw CommandError(exitCode: ExitCode.usage, message: "\(command): --\(name) is required") }
        return v
    }
}

/// Prints a line on stderr (unbuffered).
func printError(_ text: String) {
    FileOutput.standardError.writeLine(text)
}

/// `--state-dir`, else `$STATE_DIRECTORY` (systemd's `StateDirectory=`; of several, the first), else
/// /var/lib/caremonitord: where `run` keeps the journal and learned state and where the journal commands look.
func stateDirectory(_ a: Arguments) -> String {
    let fromSystemd = getenv("STATE_DIRECTORY").map { String(cString: $0) }?.split(separator: ":").first.map(String.init)
    return a.value("state-dir") ?? fromSystemd ?? "/var/lib/caremonitord"
}

/// A private directory under /tmp for one run of a command (`evaluate`'s fresh state, the demo's files).
enum ScratchDirectory {
    static func make(for command: String) throws(CommandError) -> String {
        var template = Array("/tmp/careMonitord-\(command)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw CommandError(exitCode: ExitCode.ioError, message: "\(command): cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        return String(cString: p)
    }

    /// Removes a scratch directory and what is in it (no symbolic link is followed).
    static func remove(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR, let dir = opendir(path) {
            var names: [String] = []
            while let e = readdir(dir) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for n in names { remove("\(path)/\(n)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

extension String {
    func padding(toLength n: Int, withPad pad: String, startingAt: Int) -> String {
        count >= n ? self : self + String(repeating: pad, count: n - count)
    }
}
