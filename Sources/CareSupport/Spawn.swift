#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Why a program could not be started (or its pipe could not be used): which program, what failed, `errno`'s text,
/// and what to check. Never contains the program's arguments (they may carry secrets) or its environment.
public struct SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The executable does not exist (or is not found in `PATH`).
        case notFound
        /// The executable exists but may not be run (`EACCES`, `ENOEXEC`, ...).
        case notExecutable
        /// A file given for standard input, output or error could not be opened.
        case cannotOpenFile
        /// A system call (pipe, posix_spawn, write) failed for another reason.
        case systemCall
    }

    public var code: Code
    /// The program as given to `spawn` (a name or a path).
    public var program: String
    /// The `errno` of the failed call.
    public var errno: Int32
    /// What went wrong and what to check.
    public var message: String

    public init(code: Code, program: String, errno: Int32, message: String) {
        self.code = code
        self.program = program
        self.errno = errno
        self.message = message
    }

    public var description: String { message }

    static func errnoText(_ e: Int32) -> String { "\(String(cString: strerror(e))) (errno \(e))" }
}

/// How a child process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// `exit(code)` or a return from `main`.
    case exited(Int32)
    /// Killed by a signal (`SIGTERM`, `SIGKILL`, a crash's `SIGSEGV`...).
    case signalled(Int32)

    /// Decodes a `waitpid` status (only exits and signals: children are never waited with `WUNTRACED`).
    public init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signalled(status & 0x7f)
        }
    }

    /// Exited with status 0.
    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signalled(let sig):
            if let name = strsignal(sig) { "killed by signal \(sig) (\(String(cString: name)))" } else { "killed by signal \(sig)" }
        }
    }
}

/// Bytes read from a pipe with a cap: the first `limit` bytes are kept, the rest is read and dropped (so that the
/// writer never blocks on a full pipe).
public struct CappedBytes: Sendable, Equatable {
    /// At most `limit` bytes.
    public var bytes: [UInt8]
    /// More bytes than `limit` were written; they were dropped.
    public var truncated: Bool
    /// The deadline passed before end of file.
    public var timedOut: Bool

    public init(bytes: [UInt8] = [], truncated: Bool = false, timedOut: Bool = false) {
        self.bytes = bytes
        self.truncated = truncated
        self.timedOut = timedOut
    }

    /// The bytes as text (invalid UTF-8 is replaced), with `…` when truncated. For messages and logs.
    public var text: String {
        String(decoding: bytes, as: UTF8.self) + (truncated ? "…" : "")
    }
}

/// What `ChildProcess.run` saw: how the program ended and its capped output.
public struct ProcessResult: Sendable, Equatable {
    /// How it ended; after a timeout, how it ended once terminated.
    public var status: ExitStatus
    /// It did not finish within the timeout and was terminated.
    public var timedOut: Bool
    public var standardOutput: CappedBytes
    public var standardError: CappedBytes
}

/// A program started with `posix_spawn`, with its standard streams wired as asked.
///
/// Why not `Foundation.Process`: it hangs when spawning from async code on this platform, and it does not let us
/// clear the signal mask. The child starts with an EMPTY signal mask and every signal at its default disposition
/// (`POSIX_SPAWN_SETSIGMASK` + `POSIX_SPAWN_SETSIGDEF`), so a daemon that blocks `SIGTERM` for its signal handling
/// or ignores `SIGPIPE` does not pass that on. File descriptors 3 and above are closed in the child.
///
/// Invariants:
/// - The child must be waited (`wait()`, `wait(timeout:)` returning non-nil, or `run`): an unwaited child stays a
///   zombie until this process exits. `deinit` does not wait (it would block); it only closes the pipes.
/// - The child is reaped only under `state`'s lock, so `terminate` never signals a reused pid.
/// - The pipe ends (`standardInput`, `standardOutput`, `standardError`) belong to this object: they are `O_CLOEXEC`
///   in the parent, closed by `closeStandardInput()`/`closePipes()` or `deinit`; do not close them yourself.
///   Writing to `standardInput` yourself can raise `SIGPIPE` if the child has exited: use `writeStandardInput`,
///   which blocks `SIGPIPE` around the write.
///
/// `@unchecked Sendable`: `pid`, `program` and `processGroup` are immutable; the exit status and the pipe
/// descriptors live in a `Mutex`. Reading a pipe from two threads at once is the caller's problem.
public final class ChildProcess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum StandardIO: Sendable, Equatable {
        /// The parent's own descriptor.
        case inherit
        /// `/dev/null`.
        case null
        /// A pipe; the parent's end is `standardInput` / `standardOutput` / `standardError`.
        case pipe
        /// A file: read for standard input; created if missing and appended to or truncated for output.
        case file(String, FileMode = .truncate)
    }

    public enum FileMode: Sendable, Equatable { case append, truncate }

    /// The child's process id.
    public let pid: pid_t
    /// The program as given (name or path), for messages.
    public let program: String
    /// The child leads a new process group (`terminate` then signals the whole group).
    public let processGroup: Bool

    private struct State {
        var status: ExitStatus?
        var stdinFD: Int32 = -1
        var stdoutFD: Int32 = -1
        var stderrFD: Int32 = -1
    }

    private let state: Mutex<State>

    private init(pid: pid_t, program: String, processGroup: Bool, stdin: Int32, stdout: Int32, stderr: Int32) {
        self.pid = pid
        self.program = program
        self.processGroup = processGroup
        self.state = Mutex(State(status: nil, stdinFD: stdin, stdoutFD: stdout, stderrFD: stderr))
    }

    deinit {
        closePipes()
    }

    // MARK: Starting

    /// Starts `executable` with `arguments` (not including `argv[0]`, which is `executable`).
    ///
    /// - Parameters:
    ///   - executable: a path, or a bare name looked up in the parent's `PATH` when `searchPath` is true
    ///     (`posix_spawnp`; note that the search uses the PARENT's `PATH`, not `environment`).
    ///   - environment: the child's whole environment; nil inherits the parent's.
    ///   - workingDirectory: the child's current directory; nil inherits.
    ///   - newProcessGroup: the child leads a new process group, so that `terminate` reaches its children too.
    /// - Throws: `SpawnError` naming the program (or the file) and `errno`'s text.
    public static func spawn(
        executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        stdin: StandardIO = .null,
        stdout: StandardIO = .inherit,
        stderr: StandardIO = .inherit,
        searchPath: Bool = true,
        newProcessGroup: Bool = false
    ) throws(SpawnError) -> ChildProcess {
        // Descriptors to close in the parent whatever happens (the child's ends), and the parent's ends.
        var childEnds: [Int32] = []
        var parentEnds: [Int32] = [-1, -1, -1]
        defer { for fd in childEnds { close(fd) } }
        var succeeded = false
        defer { if !succeeded { for fd in parentEnds where fd >= 0 { close(fd) } } }

        // Open each stream in the parent, so that errors name the file precisely.
        var childFDs: [Int32] = [-1, -1, -1]
        let streams = [stdin, stdout, stderr]
        for (target, io) in streams.enumerated() {
            switch io {
            case .inherit:
                break
            case .null:
                let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
                guard fd >= 0 else {
                    throw SpawnError.openFailed("/dev/null", stream: target, program: executable, errno: errno)
                }
                childEnds.append(fd)
                childFDs[target] = fd
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard GNUExtensions.pipe2(&fds, O_CLOEXEC) == 0 else {
                    let e = errno
                    throw SpawnError(code: .systemCall, program: executable, errno: e,
                                     message: "cannot create a pipe for '\(executable)': \(SpawnError.errnoText(e))")
                }
                // fds[0] reads, fds[1] writes. The child reads its stdin, writes its stdout/stderr.
                let (child, parent) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                childEnds.append(child)
                parentEnds[target] = parent
                childFDs[target] = child
            case .file(let path, let mode):
                let flags: Int32 = target == 0
                    ? O_RDONLY | O_CLOEXEC
                    : O_WRONLY | O_CREAT | O_CLOEXEC | (mode == .append ? O_APPEND : O_TRUNC)
                let fd = open(path, flags, 0o640)
                guard fd >= 0 else { throw SpawnError.openFailed(path, stream: target, program: executable, errno: errno) }
                childEnds.append(fd)
                childFDs[target] = fd
            }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for target in 0..<3 where childFDs[target] >= 0 {
            // dup2 clears O_CLOEXEC on the target; the source (O_CLOEXEC) closes at exec.
            posix_spawn_file_actions_adddup2(&actions, childFDs[target], Int32(target))
        }
        _ = GNUExtensions.addCloseFrom(&actions, 3)
        if let workingDirectory {
            _ = GNUExtensions.addChdir(&actions, workingDirectory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigfillset(&defaults)  // every signal back to SIG_DFL (SIGKILL/SIGSTOP are skipped by glibc)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = CStringArray([executable] + arguments)
        let envp = environment.map { env in CStringArray(env.map { "\($0.key)=\($0.value)" }.sorted()) }
        defer { argv.free(); envp?.free() }

        var pid = pid_t()
        let usePath = searchPath && !executable.contains("/")
        let rc: Int32 = argv.withPointer { argvPtr in
            func spawnWith(_ envPtr: UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
                usePath
                    ? posix_spawnp(&pid, executable, &actions, &attributes, argvPtr, envPtr)
                    : posix_spawn(&pid, executable, &actions, &attributes, argvPtr, envPtr)
            }
            if let envp { return envp.withPointer { spawnWith($0) } }
            return spawnWith(UnsafePointer(environ))
        }
        guard rc == 0 else { throw SpawnError.spawnFailed(executable, searchedPath: usePath, errno: rc) }

        succeeded = true
        return ChildProcess(pid: pid, program: executable, processGroup: newProcessGroup,
                            stdin: parentEnds[0], stdout: parentEnds[1], stderr: parentEnds[2])
    }

    /// Runs a program to completion: writes `input` to its standard input (then closes it), captures standard
    /// output and error up to `outputLimit` bytes each, and waits. After `timeout` the program (its process group)
    /// gets `SIGTERM`, then `SIGKILL` after `killGrace`.
    public static func run(
        executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        input: [UInt8]? = nil,
        outputLimit: Int = 64 * 1024,
        timeout: Duration = .seconds(30),
        killGrace: Duration = .seconds(1)
    ) throws(SpawnError) -> ProcessResult {
        let child = try spawn(executable: executable, arguments: arguments, environment: environment,
                              workingDirectory: workingDirectory, stdin: input == nil ? .null : .pipe,
                              stdout: .pipe, stderr: .pipe, newProcessGroup: true)
        let output = child.communicate(input: input, outputLimit: outputLimit, timeout: timeout)
        // Output closed: the program usually exits right after; it still has what is left of the timeout.
        var status = output.timedOut ? nil : child.wait(timeout: output.remaining ?? timeout)
        let timedOut = status == nil
        if status == nil {
            child.terminate(SIGTERM)
            status = child.wait(timeout: killGrace)
            if status == nil {
                child.terminate(SIGKILL)
                status = child.wait()
            }
        }
        child.closePipes()
        return ProcessResult(status: status!, timedOut: timedOut,
                             standardOutput: output.standardOutput, standardError: output.standardError)
    }

    // MARK: Waiting and signalling

    /// Reaps the child if it has exited, without blocking. Only place that reaps.
    private func poll() -> ExitStatus? {
        state.withLock { s in
            if let status = s.status { return status }
            var raw: Int32 = 0
            var r: pid_t
            repeat { r = waitpid(pid, &raw, WNOHANG) } while r < 0 && errno == EINTR
            if r == pid {
                s.status = ExitStatus(waitStatus: raw)
            }
            return s.status
        }
    }

    /// The exit status if the child has ended (reaping it), nil if it still runs. Never blocks.
    public var exitStatus: ExitStatus? { poll() }

    /// Blocks the calling thread until the child ends. Do not call from a task of the cooperative pool for a
    /// program that may run long: use `wait(timeout:)` there.
    @discardableResult
    public func wait() -> ExitStatus {
        while true {
            if let status = poll() { return status }
            // Wait for the exit without reaping (WNOWAIT): reaping happens in `poll`, under the lock.
            var info = siginfo_t()
            let r = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT)
            if r < 0 && errno != EINTR && errno != ECHILD {
                preconditionFailure("waitid(\(pid)) failed: \(SpawnError.errnoText(errno))")
            }
        }
    }

    /// Waits at most `timeout` for the child to end (polling `waitpid(WNOHANG)` with short sleeps).
    /// Returns nil if it still runs.
    @discardableResult
    public func wait(timeout: Duration) -> ExitStatus? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var step = Duration.milliseconds(1)
        while true {
            if let status = poll() { return status }
            let now = clock.now
            if now >= deadline { return nil }
            let nap = min(step, deadline - now)
            var ts = timespec(tv_sec: Int(nap.components.seconds),
                              tv_nsec: Int(nap.components.attoseconds / 1_000_000_000))
            nanosleep(&ts, nil)
            step = min(step * 2, .milliseconds(20))
        }
    }

    /// Sends `signal` to the child (to its whole group when it was started with `newProcessGroup`), unless it has
    /// already been reaped. Returns whether the signal was sent.
    @discardableResult
    public func terminate(_ signal: Int32 = SIGTERM) -> Bool {
        state.withLock { s in
            guard s.status == nil else { return false }
            return kill(processGroup ? -pid : pid, signal) == 0
        }
    }

    // MARK: Pipes

    /// The parent's write end of the child's standard input, when it is a pipe and still open.
    public var standardInput: Int32? { state.withLock { $0.stdinFD >= 0 ? $0.stdinFD : nil } }
    /// The parent's read end of the child's standard output, when it is a pipe and still open.
    public var standardOutput: Int32? { state.withLock { $0.stdoutFD >= 0 ? $0.stdoutFD : nil } }
    /// The parent's read end of the child's standard error, when it is a pipe and still open.
    public var standardError: Int32? { state.withLock { $0.stderrFD >= 0 ? $0.stderrFD : nil } }

    /// Closes the standard-input pipe: the child reads end of file.
    public func closeStandardInput() {
        state.withLock { s in
            if s.stdinFD >= 0 { close(s.stdinFD); s.stdinFD = -1 }
        }
    }

    /// Closes every pipe end the parent still holds.
    public func closePipes() {
        state.withLock { s in
            for fd in [s.stdinFD, s.stdoutFD, s.stderrFD] where fd >= 0 { close(fd) }
            s.stdinFD = -1; s.stdoutFD = -1; s.stderrFD = -1
        }
    }

    /// Writes all of `bytes` to the standard-input pipe (blocking), with `SIGPIPE` blocked on this thread so that
    /// a child that has exited gives an error instead of killing the daemon.
    public func writeStandardInput(_ bytes: some Collection<UInt8>) throws(SpawnError) {
        guard let fd = standardInput else {
            throw SpawnError(code: .systemCall, program: program, errno: EBADF,
                             message: "the standard input of '\(program)' is not an open pipe")
        }
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let (n, e) = array.withUnsafeBytes { buf in
                ChildProcess.writeWithoutSIGPIPE(fd, buf.baseAddress! + offset, buf.count - offset)
            }
            if n < 0 {
                if e == EINTR { continue }
                throw SpawnError(code: .systemCall, program: program, errno: e,
                                 message: "cannot write to the standard input of '\(program)': \(SpawnError.errnoText(e))")
            }
            offset += n
        }
    }

    /// Reads `fd` to end of file keeping at most `limit` bytes (the rest is read and dropped), or until `timeout`.
    public static func readAll(fd: Int32, limit: Int, timeout: Duration? = nil) -> CappedBytes {
        var reader = CappedReader(fd: fd, limit: limit)
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        while !reader.done {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = deadline.map { ChildProcess.milliseconds(until: $0, clock: clock) } ?? -1
            if wait == 0 { reader.result.timedOut = true; break }
            let r = Glibc.poll(&pfd, 1, wait)
            if r < 0 && errno == EINTR { continue }
            if r == 0 { continue }  // loop re-checks the deadline
            reader.readOnce()
        }
        return reader.result
    }

    /// What `communicate` gathered.
    public struct Output: Sendable {
        public var standardOutput: CappedBytes
        public var standardError: CappedBytes
        /// The deadline passed before both pipes reached end of file.
        public var timedOut: Bool
        /// Time left until the deadline when it returned (nil without a timeout).
        public var remaining: Duration?
    }

    /// Writes `input` to standard input (then closes it) while reading standard output and error (those that are
    /// pipes) until end of file on both or `timeout`. Each stream keeps at most `outputLimit` bytes; reading goes on
    /// past the cap so the child never blocks on a full pipe. Does not wait for the child.
    public func communicate(input: [UInt8]? = nil, outputLimit: Int = 64 * 1024, timeout: Duration? = nil) -> Output {
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        let (inFD, outFD, errFD) = state.withLock { ($0.stdinFD, $0.stdoutFD, $0.stderrFD) }
        var out = CappedReader(fd: outFD, limit: outputLimit)
        var err = CappedReader(fd: errFD, limit: outputLimit)
        var pending = input ?? []
        var written = 0
        var writing = inFD >= 0
        if writing {
            if pending.isEmpty { closeStandardInput(); writing = false }
            else { _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK) }
        }
        var timedOut = false
        while !(out.done && err.done && !writing) {
            var fds: [pollfd] = []
            if !out.done { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
            if !err.done { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
            if writing { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
            let wait = deadline.map { ChildProcess.milliseconds(until: $0, clock: clock) } ?? -1
            if wait == 0 { timedOut = true; break }
            let r = Glibc.poll(&fds, nfds_t(fds.count), wait)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { continue }
            for p in fds where p.revents != 0 {
                if p.fd == outFD && !out.done { out.readOnce() }
                else if p.fd == errFD && !err.done { err.readOnce() }
                else if writing && p.fd == inFD {
                    let (n, e) = pending.withUnsafeBytes { buf in
                        ChildProcess.writeWithoutSIGPIPE(inFD, buf.baseAddress! + written, buf.count - written)
                    }
                    if n > 0 { written += n }
                    if written == pending.count || (n < 0 && e != EAGAIN && e != EINTR) {
                        pending = []
                        writing = false
                        closeStandardInput()
                    }
                }
            }
        }
        if writing { closeStandardInput() }
        var output = Output(standardOutput: out.result, standardError: err.result, timedOut: timedOut, remaining: nil)
        output.standardOutput.timedOut = timedOut && !out.done
        output.standardError.timedOut = timedOut && !err.done
        if let deadline { output.remaining = max(.zero, deadline - clock.now) }
        return output
    }

    // MARK: Helpers

    private static func milliseconds(until deadline: ContinuousClock.Instant, clock: ContinuousClock) -> Int32 {
        let left = deadline - clock.now
        if left <= .zero { return 0 }
        let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(1, ms + 1))
    }

    /// `write(2)` with `SIGPIPE` blocked on this thread; a `SIGPIPE` raised by this write is consumed.
    static func writeWithoutSIGPIPE(_ fd: Int32, _ buf: UnsafeRawPointer, _ count: Int) -> (Int, Int32) {
        var pipeSet = sigset_t()
        sigemptyset(&pipeSet)
        sigaddset(&pipeSet, SIGPIPE)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSet, &old)
        var pendingBefore = sigset_t()
        sigpending(&pendingBefore)
        let wasPending = sigismember(&pendingBefore, SIGPIPE) == 1
        let n = write(fd, buf, count)
        let e = n < 0 ? errno : 0
        if e == EPIPE && !wasPending {
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeSet, nil, &zero)
        }
        pthread_sigmask(SIG_SETMASK, &old, nil)
        return (n, e)
    }
}

/// Reads one pipe into a capped buffer.
private struct CappedReader {
    let fd: Int32
    let limit: Int
    var result = CappedBytes()
    var done: Bool

    init(fd: Int32, limit: Int) {
        self.fd = fd
        self.limit = max(0, limit)
        self.done = fd < 0
    }

    /// One `read`: appends up to the cap, marks `done` at end of file or on error.
    mutating func readOnce() {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return }
            done = true
            return
        }
        if n == 0 { done = true; return }
        let room = limit - result.bytes.count
        if room > 0 { result.bytes.append(contentsOf: chunk[0..<min(room, n)]) }
        if n > room { result.truncated = true }
    }
}

/// glibc functions that Swift's `Glibc` module does not show (they are behind `_GNU_SOURCE`), resolved once with
/// `dlsym` so that they are called with the C calling convention. All exist since glibc 2.34 (Debian 12 has 2.36).
private enum GNUExtensions {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static func symbol<T>(_ name: String, as type: T.Type) -> T {
        guard let p = dlsym(nil, name) else {
            preconditionFailure("glibc has no \(name) (needs glibc 2.34 or later)")
        }
        return unsafeBitCast(p, to: type)
    }

    /// `pipe2(2)`: both ends created with the given flags atomically (no window for another thread's fork).
    static let pipe2 = symbol("pipe2", as: Pipe2.self)
    /// `posix_spawn_file_actions_addclosefrom_np(3)`.
    static let addCloseFrom = symbol("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)
    /// `posix_spawn_file_actions_addchdir_np(3)`.
    static let addChdir = symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)
}

/// A NULL-terminated `char *[]` built from Swift strings (for argv and envp).
private struct CStringArray {
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    func withPointer<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    func free() {
        for p in pointers { Glibc.free(p) }
    }
}

extension SpawnError {
    static func openFailed(_ path: String, stream: Int, program: String, errno e: Int32) -> SpawnError {
        let name = ["standard input", "standard output", "standard error"][stream]
        return SpawnError(code: .cannotOpenFile, program: program, errno: e,
                          message: "cannot open '\(path)' as the \(name) of '\(program)': \(errnoText(e))"
                              + " — check that the directory exists and is writable by this user")
    }

    static func spawnFailed(_ program: String, searchedPath: Bool, errno e: Int32) -> SpawnError {
        switch e {
        case ENOENT:
            let where_ = searchedPath
                ? "not found in PATH (\(getenv("PATH").map { String(cString: $0) } ?? ""))"
                : "no such file"
            return SpawnError(code: .notFound, program: program, errno: e,
                              message: "cannot start '\(program)': \(where_) — install it or give its full path")
        case EACCES, ENOEXEC, EPERM, EISDIR:
            return SpawnError(code: .notExecutable, program: program, errno: e,
                              message: "cannot start '\(program)': \(errnoText(e)) — check that it is an executable"
                                  + " file and that this user may run it")
        default:
            return SpawnError(code: .systemCall, program: program, errno: e,
                              message: "cannot start '\(program)': posix_spawn failed: \(errnoText(e))")
        }
    }
}
