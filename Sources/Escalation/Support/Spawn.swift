#if canImport(Glibc)
import Glibc
#endif
import Foundation

// CareSupport has no spawn helper yet: this lives here until the lead moves it there (see the issue 5 report).
// Foundation.Process is not used: it hangs when spawning from async code on our gateways.

/// What a finished child did.
public struct SpawnResult: Sendable {
    /// The exit status, or nil when it was killed by a signal (`signal` says which).
    public var exitStatus: Int32?
    public var signal: Int32?
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// True when the child ran past its timeout and was killed (with its process group).
    public var timedOut: Bool
    /// True when stdout or stderr was longer than the cap (the rest was read and dropped).
    public var truncated: Bool
}

public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public var program: String
    public var errno: Int32
    public var description: String {
        "cannot start \(program): \(String(cString: strerror(errno))); check that the path is absolute, exists and is executable"
    }
}

/// Runs a program with `posix_spawn`: no shell, a cleared signal mask and default signal dispositions in the
/// child, its own process group (so a timeout kills grandchildren too), input on stdin, stdout and stderr captured up
/// to `outputCap` bytes each. The blocking `poll` loop runs on its own thread, never on the cooperative pool.
public enum Spawn {
    public static func run(_ program: String, arguments: [String], environment: [String]? = nil, stdin input: [UInt8],
                           timeout: Duration, outputCap: Int = 64 * 1024) async throws(SpawnError) -> SpawnResult {
        let r: Result<SpawnResult, SpawnError> = await withCheckedContinuation { cont in
            let t = Thread {
                cont.resume(returning: runBlocking(program, arguments: arguments, environment: environment, input: input,
                                                   timeout: timeout, outputCap: outputCap))
            }
            t.start()
        }
        return try r.get()
    }

    static func runBlocking(_ program: String, arguments: [String], environment: [String]?, input: [UInt8],
                            timeout: Duration, outputCap: Int) -> Result<SpawnResult, SpawnError> {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard cloexecPipe(&inPipe) else { return .failure(SpawnError(program: program, errno: errno)) }
        guard cloexecPipe(&outPipe) else {
            let e = errno; close(inPipe[0]); close(inPipe[1]); return .failure(SpawnError(program: program, errno: e))
        }
        guard cloexecPipe(&errPipe) else {
            let e = errno; for fd in inPipe + outPipe { close(fd) }; return .failure(SpawnError(program: program, errno: e))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let env = (environment ?? ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]).map { strdup($0) } + [nil]
        defer { for p in argv + env { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attr, argv, env)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            return .failure(SpawnError(program: program, errno: rc))
        }
        // Never let a child that closed stdin early kill us with SIGPIPE: the write returns EPIPE instead.
        _ = fcntl(inPipe[1], F_SETFL, fcntl(inPipe[1], F_GETFL) | O_NONBLOCK)
        var stdinFD: Int32 = inPipe[1]
        var written = 0
        if input.isEmpty { close(stdinFD); stdinFD = -1 }
        var out: [UInt8] = [], err: [UInt8] = []
        var openOut = true, openErr = true, truncated = false, timedOut = false
        let deadline = monotonicNow() + timeout.nanosecondsClamped
        var buf = [UInt8](repeating: 0, count: 16384)
        while openOut || openErr || stdinFD >= 0 {
            let remaining = deadline - monotonicNow()
            if remaining <= 0 { timedOut = true; break }
            var fds: [pollfd] = []
            if openOut { fds.append(pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0)) }
            if openErr { fds.append(pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)) }
            if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(remaining / 1_000_000 + 1, 1000)))
            if n < 0 { if errno == EINTR { continue }; break }
            for p in fds where p.revents != 0 {
                if p.fd == stdinFD {
                    let w = input.withUnsafeBytes { write(stdinFD, $0.baseAddress! + written, input.count - written) }
                    if w > 0 { written += w }
                    if w < 0 && errno != EAGAIN && errno != EINTR || written >= input.count { close(stdinFD); stdinFD = -1 }
                    continue
                }
                let r = buf.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, 16384) }
                if r <= 0 {
                    if r < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    if p.fd == outPipe[0] { openOut = false } else { openErr = false }
                    continue
                }
                if p.fd == outPipe[0] {
                    let room = max(0, outputCap - out.count); out += buf[0..<min(r, room)]; if r > room { truncated = true }
                } else {
                    let room = max(0, outputCap - err.count); err += buf[0..<min(r, room)]; if r > room { truncated = true }
                }
            }
        }
        if stdinFD >= 0 { close(stdinFD) }
        close(outPipe[0]); close(errPipe[0])
        var status: Int32 = 0
        if timedOut {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        } else {
            // Output closed: the child is exiting; give it until the deadline, then kill it.
            while true {
                let w = waitpid(pid, &status, WNOHANG)
                if w == pid { return .success(result(status, out, err, truncated, false)) }
                if w < 0 && errno != EINTR { break }
                if monotonicNow() > deadline { timedOut = true; kill(-pid, SIGKILL); kill(pid, SIGKILL); break }
                usleep(2000)
            }
        }
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return .success(result(status, out, err, truncated, timedOut))
    }

    static func result(_ status: Int32, _ out: [UInt8], _ err: [UInt8], _ truncated: Bool, _ timedOut: Bool) -> SpawnResult {
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return SpawnResult(exitStatus: signaled ? nil : (status >> 8) & 0xff, signal: signaled ? status & 0x7f : nil,
                           stdout: out, stderr: err, timedOut: timedOut, truncated: truncated)
    }

    /// `pipe(2)` then `FD_CLOEXEC` on both ends (Glibc's module map hides `pipe2`): the child gets only the ends
    /// that posix_spawn dup2s onto 0, 1 and 2.
    static func cloexecPipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    static func monotonicNow() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
