import BenchmarkC
import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the daemon figures started (daemons, the broker, temporary directories), undone in reverse order: by the
/// figure itself, at `exit` (also after `fail`), and on SIGINT, SIGTERM or SIGHUP (a thread waits for them once
/// `installHandlers` has blocked them, so the cleanup runs on an ordinary thread, not in a signal handler).
final class BenchmarkCleanup: Sendable {
    static let shared = BenchmarkCleanup()
    private let steps = Mutex<[(id: Int, run: @Sendable () -> Void)]>([])
    private let nextID = Atomic<Int>(0)
    private let installed = Atomic<Bool>(false)

    /// Registers `step`; `remove(id)` after running it yourself.
    func add(_ step: @escaping @Sendable () -> Void) -> Int {
        let id = nextID.add(1, ordering: .relaxed).newValue
        steps.withLock { $0.append((id, step)) }
        return id
    }

    func remove(_ id: Int) { steps.withLock { $0.removeAll { $0.id == id } } }

    /// Runs every registered step, newest first, once.
    func runAll() {
        let all = steps.withLock { s -> [(id: Int, run: @Sendable () -> Void)] in defer { s = [] }; return s }
        for step in all.reversed() { step.run() }
    }

    /// Call before any thread of the figure starts (threads inherit the signal mask).
    func installHandlers() {
        guard !installed.exchange(true, ordering: .relaxed) else { return }
        atexit { BenchmarkCleanup.shared.runAll() }
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let signals = set
        _ = OSThread(name: "bench-signals") {
            var s = signals, received: Int32 = 0
            guard sigwait(&s, &received) == 0 else { return }
            note("signal \(received): stopping the daemon and the broker")
            exit(128 + received)   // atexit runs the cleanup
        }
    }
}

/// `careMonitord run` started by the benchmark, with a `$NOTIFY_SOCKET` of its own (read on a thread, as systemd
/// does: the daemon's notify socket is blocking, so an unread queue would stall its main loop).
final class DaemonUnderTest: Sendable {
    let process: ChildProcess
    let pid: pid_t
    let stateDirectory: String
    private let notifyFD: Int32
    private let notifyPath: String
    private let flags = NotifyFlags()
    private let reader: Handoff<OSThread?>
    private let cleanupID: Int

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The release `careMonitord` beside this benchmark's executable (`swift build -c release` builds both).
    static func defaultBinary() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "careMonitord" }
        let me = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (me.lastIndex(of: "/").map { String(me[..<$0]) } ?? ".") + "/careMonitord"
    }

    /// Starts `binary run --config <dir>/config.json --state-dir <dir>/state` with stdout and stderr in
    /// `<dir>/daemon.log`, and waits up to `timeout` s for READY=1 (sent once the broker confirmed the
    /// subscriptions).
    init(binary: String, directory: String, config: String, timeout: Double = 20) throws(Failure) {
        let configPath = directory + "/config.json"
        stateDirectory = directory + "/state"
        do { try DurableFile.write(Array(config.utf8), to: configPath, mode: 0o600) } catch {
            throw Failure(description: "cannot write \(configPath): \(error)")
        }
        let socketPath = directory + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket(AF_UNIX): \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw Failure(description: "notify socket path too long: \(socketPath)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { p in for (i, b) in pathBytes.enumerated() { p[i] = b } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "bind \(socketPath): \(e)")
        }
        notifyPath = socketPath
        notifyFD = fd
        // The child inherits this process's environment plus NOTIFY_SOCKET (no watchdog: WATCHDOG_USEC unset).
        setenv("NOTIFY_SOCKET", notifyPath, 1)
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(executable: binary, arguments: ["run", "--config", configPath, "--state-dir", stateDirectory],
                                           stdin: .null, stdout: .file(directory + "/daemon.log", .append),
                                           stderr: .file(directory + "/daemon.log", .append), searchPath: false)
        } catch {
            unsetenv("NOTIFY_SOCKET")
            close(notifyFD)
            unlink(notifyPath)
            throw Failure(description: "cannot start \(binary): \(error) (build it with `swift build -c release`)")
        }
        unsetenv("NOTIFY_SOCKET")
        process = child
        pid = child.pid
        cleanupID = BenchmarkCleanup.shared.add {
            child.terminate(SIGKILL)
            _ = child.wait(timeout: .seconds(2))
        }
        let flags = self.flags
        reader = Handoff(OSThread(name: "bench-notify") {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !flags.stop.load(ordering: .relaxed) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) > 0 else { continue }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { continue }
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                if text.split(separator: "\n").contains("READY=1") && flags.readyAt.load(ordering: .relaxed) == 0 {
                    flags.readyAt.store(cmb_now_ns(), ordering: .releasing)
                }
            }
        })
        let deadline = cmb_now_ns() + UInt64(timeout * 1e9)
        while flags.readyAt.load(ordering: .acquiring) == 0 {
            if let status = child.exitStatus {
                stop(); throw Failure(description: "careMonitord run ended before READY=1 (\(status)); its log: \(logTail(directory))")
            }
            if cmb_now_ns() > deadline {
                stop(); throw Failure(description: "careMonitord run sent no READY=1 within \(Int(timeout)) s; its log: \(logTail(directory))")
            }
            usleep(2_000)
        }
    }

    /// SIGTERM (the daemon's clean stop), SIGKILL after 5 s; closes the notify socket. Idempotent.
    func stop() {
        if process.exitStatus == nil {
            process.terminate(SIGTERM)
            if process.wait(timeout: .seconds(5)) == nil {
                note("daemon: no exit 5 s after SIGTERM; SIGKILL")
                process.terminate(SIGKILL)
                _ = process.wait()
            }
        }
        BenchmarkCleanup.shared.remove(cleanupID)
        if !flags.stop.exchange(true, ordering: .relaxed) {
            reader.value?.join()
            close(notifyFD)
            unlink(notifyPath)
        }
    }

    var exitStatus: ExitStatus? { process.exitStatus }
}

private final class NotifyFlags: Sendable {
    let readyAt = Atomic<UInt64>(0)
    let stop = Atomic<Bool>(false)
}

private func logTail(_ directory: String) -> String {
    let bytes = DurableFile.read(directory + "/daemon.log") ?? []
    return String(decoding: bytes.suffix(1200), as: UTF8.self)
}

/// A temporary directory for one figure, removed with everything in it (two levels of subdirectories), also at
/// exit or on a signal.
struct ScratchDirectory {
    let path: String
    private let cleanupID: Int

    init(prefix: String) throws(DaemonUnderTest.Failure) {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
            throw .init(description: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = p
        cleanupID = BenchmarkCleanup.shared.add { ScratchDirectory.removeTree(p, depth: 3) }
    }

    func remove() {
        Self.removeTree(path, depth: 3)
        BenchmarkCleanup.shared.remove(cleanupID)
    }

    private static func removeTree(_ path: String, depth: Int) {
        if depth > 0, let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for n in names { removeTree(path + "/" + n, depth: depth - 1) }
        }
        if unlink(path) != 0 { rmdir(path) }
    }
}

/// Readings of another process from /proc.
enum ProcReadings {
    /// VmRSS and VmHWM in kB (and the thread count) from /proc/PID/status.
    static func memory(_ pid: pid_t) -> (rssKB: Int, hwmKB: Int, threads: Int) {
        var rss = -1, hwm = -1, threads = -1
        for line in text("/proc/\(pid)/status").split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let v = Int(parts[1]) else { continue }
            switch parts[0] {
            case "VmRSS:": rss = v
            case "VmHWM:": hwm = v
            case "Threads:": threads = v
            default: break
            }
        }
        return (rss, hwm, threads)
    }

    /// utime + stime of the whole process (all threads), seconds, from /proc/PID/stat.
    static func cpuSeconds(_ pid: pid_t) -> Double {
        let stat = text("/proc/\(pid)/stat")
        // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
        guard let close = stat.lastIndex(of: ")") else { return .nan }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return .nan }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Rss of /proc/PID/smaps summed by what is mapped, in kB, in the order of `SmapsGroup.allCases`, plus the
    /// total and the private dirty part.
    static func smaps(_ pid: pid_t, binary: String) -> (byGroup: [SmapsGroup: Int], totalKB: Int, privateDirtyKB: Int) {
        var byGroup: [SmapsGroup: Int] = [:]
        var total = 0, privateDirty = 0
        var current = SmapsGroup.anonymous
        for line in text("/proc/\(pid)/smaps").split(separator: "\n") {
            let first = line.prefix { $0 != " " }
            if first.contains("-") && first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // A mapping: address perms offset dev inode [path]; the path starts after the fifth field.
                var rest = line[...]
                for _ in 0..<5 {
                    rest = rest.drop { $0 != " " }
                    rest = rest.drop { $0 == " " }
                }
                current = SmapsGroup(path: String(rest), binary: binary)
            } else if line.hasPrefix("Rss:") {
                let kb = Int(line.split(separator: " ")[1]) ?? 0
                byGroup[current, default: 0] += kb
                total += kb
            } else if line.hasPrefix("Private_Dirty:") {
                privateDirty += Int(line.split(separator: " ")[1]) ?? 0
            }
        }
        return (byGroup, total, privateDirty)
    }

    static func text(_ path: String) -> String {
        String(decoding: DurableFile.read(path) ?? [], as: UTF8.self)
    }
}

/// What a mapping of the daemon holds, for the Rss breakdown.
enum SmapsGroup: String, CaseIterable {
    case binary
    case foundation
    case foundationNetworking = "foundation_networking"
    case foundationEssentials = "foundation_essentials"
    case foundationInternationalization = "foundation_i18n"
    case foundationICU = "foundation_icu"
    case foundationXML = "foundation_xml"
    case swiftCore = "swift_core"
    case swiftOther = "swift_other"
    case dispatch
    case mosquitto
    case curl
    /// What libcurl brings in on Debian (GnuTLS, Kerberos, LDAP, SASL, SSH, RTMP, HTTP/2, IDN…), loaded because
    /// FoundationNetworking links libcurl.
    case curlDependencies = "curl_deps"
    case tlsCrypto = "ssl_crypto"
    case cxxRuntime = "cxx_runtime"
    case libc
    case otherLibraries = "other_libs"
    case heap
    case stack
    case anonymous = "anon"
    case other

    static let curlDependencyPrefixes = ["libgnutls", "libnettle", "libhogweed", "libgmp", "libp11-kit", "libtasn1",
                                         "libunistring", "libidn2", "libpsl", "libbrotli", "libkrb5", "libk5crypto",
                                         "libgssapi", "libcom_err", "libkeyutils", "libldap", "liblber", "libsasl2",
                                         "libssh", "librtmp", "libnghttp2", "libffi"]

    init(path: String, binary: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        func starts(_ prefixes: String...) -> Bool { prefixes.contains { name.hasPrefix($0) } }
        switch true {
        case path.isEmpty: self = .anonymous
        case path == binary: self = .binary
        case path == "[heap]": self = .heap
        case path.hasPrefix("[stack"): self = .stack
        case path.hasPrefix("["): self = .other   // [vdso], [vvar], [anon:…]
        case starts("libFoundationNetworking"): self = .foundationNetworking
        case starts("libFoundationEssentials"): self = .foundationEssentials
        case starts("libFoundationInternationalization"): self = .foundationInternationalization
        case starts("lib_FoundationICU"): self = .foundationICU
        case starts("libFoundationXML"): self = .foundationXML
        case starts("libFoundation"): self = .foundation
        case starts("libswiftCore"): self = .swiftCore
        case starts("libswift", "lib_Foundation"): self = .swiftOther
        case starts("libdispatch", "libBlocksRuntime"): self = .dispatch
        case starts("libmosquitto"): self = .mosquitto
        case starts("libcurl"): self = .curl
        case Self.curlDependencyPrefixes.contains(where: { name.hasPrefix($0) }): self = .curlDependencies
        case starts("libssl", "libcrypto"): self = .tlsCrypto
        case starts("libstdc++", "libgcc_s"): self = .cxxRuntime
        case starts("libc.so", "libc-", "libm.so", "ld-linux", "libresolv", "libpthread", "libdl", "librt"): self = .libc
        case name.contains(".so"): self = .otherLibraries
        default: self = .other
        }
    }
}

/// `path` with every symbolic link resolved (`realpath`), or `path` itself when that fails.
func resolvedPath(_ path: String) -> String {
    var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard realpath(path, &resolved) != nil else { return path }
    return String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The type of the file system holding `path`: that of the longest mount point in /proc/self/mounts above it.
func fileSystemType(_ path: String) -> String {
    let full = resolvedPath(path)
    var best = (length: -1, type: "unknown")
    for line in ProcReadings.text("/proc/self/mounts").split(separator: "\n") {
        let f = line.split(separator: " ")
        guard f.count >= 3 else { continue }
        let mountPoint = String(f[1])
        let above = mountPoint == "/" || full == mountPoint || full.hasPrefix(mountPoint + "/")
        if above && mountPoint.count > best.length { best = (mountPoint.count, String(f[2])) }
    }
    return best.type
}
