import CareSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SpawnTests {
    private func text(_ bytes: CappedBytes) -> String { String(decoding: bytes.bytes, as: UTF8.self) }

    @Test func runCapturesOutputErrorAndExitStatus() throws {
        let result = try ChildProcess.run(executable: "/bin/sh", arguments: ["-c", "echo hello; echo oops >&2; exit 3"])
        #expect(result.status == .exited(3))
        #expect(!result.timedOut)
        #expect(text(result.standardOutput) == "hello\n")
        #expect(text(result.standardError) == "oops\n")
    }

    @Test func childStartsWithAnEmptySignalMaskWhenTheParentBlocksSignals() throws {
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGTERM)
        sigaddset(&block, SIGUSR1)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let result = try ChildProcess.run(executable: "grep", arguments: ["SigBlk", "/proc/self/status"])
        #expect(result.status.isSuccess)
        #expect(text(result.standardOutput).trimmingCharacters(in: .whitespacesAndNewlines) == "SigBlk:\t0000000000000000")
    }

    @Test func ignoredSIGPIPEIsResetToDefaultInTheChild() throws {
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        var old = sigaction()
        sigaction(SIGPIPE, &ignore, &old)
        defer { sigaction(SIGPIPE, &old, nil) }
        let result = try ChildProcess.run(executable: "grep", arguments: ["SigIgn", "/proc/self/status"])
        let line = text(result.standardOutput).trimmingCharacters(in: .whitespacesAndNewlines)
        let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16)
        #expect(mask != nil, "unexpected /proc line: \(line)")
        #expect((mask ?? 1 << 12) & (1 << (UInt64(SIGPIPE) - 1)) == 0, "SIGPIPE still ignored in the child: \(line)")
    }

    @Test func missingProgramIsATypedErrorNamingIt() {
        #expect {
            _ = try ChildProcess.spawn(executable: "caremonitord-no-such-program")
        } throws: { error in
            guard let e = error as? SpawnError else { return false }
            return e.code == .notFound && e.errno == ENOENT && e.message.contains("caremonitord-no-such-program")
                && e.message.contains("PATH")
        }
    }

    @Test func bareNameIsSearchedInPATHOnlyWhenAsked() throws {
        let found = try ChildProcess.spawn(executable: "true")
        #expect(found.wait() == .exited(0))
        #expect(throws: SpawnError.self) {
            _ = try ChildProcess.spawn(executable: "true", workingDirectory: "/", searchPath: false)
        }
    }

    @Test func outputOverTheCapIsDroppedWithoutBlockingTheChild() throws {
        let result = try ChildProcess.run(executable: "/bin/sh", arguments: ["-c", "head -c 300000 /dev/zero; echo done >&2"],
                                          outputLimit: 1000, timeout: .seconds(20))
        #expect(result.status == .exited(0))
        #expect(result.standardOutput.bytes.count == 1000)
        #expect(result.standardOutput.truncated)
        #expect(!result.standardError.truncated)
        #expect(text(result.standardError) == "done\n")
    }

    @Test func timeoutTerminatesTheProgram() throws {
        let result = try ChildProcess.run(executable: "/bin/sh", arguments: ["-c", "sleep 30 & wait"],
                                          timeout: .milliseconds(300))
        #expect(result.timedOut)
        #expect(result.status == .signalled(SIGTERM))
    }

    @Test func waitWithTimeoutReturnsNilWhileRunningAndTerminateEndsIt() throws {
        let child = try ChildProcess.spawn(executable: "sleep", arguments: ["30"])
        #expect(child.wait(timeout: .milliseconds(50)) == nil)
        #expect(child.terminate())
        #expect(child.wait(timeout: .seconds(10)) == .signalled(SIGTERM))
        #expect(!child.terminate(), "a reaped child must not be signalled (its pid may be reused)")
        #expect(child.wait() == .signalled(SIGTERM))
    }

    @Test func inputIsWrittenToTheStandardInputPipe() throws {
        let result = try ChildProcess.run(executable: "cat", input: Array("care\nmonitor".utf8))
        #expect(text(result.standardOutput) == "care\nmonitor")
    }

    @Test func writingToAChildThatExitedIsAnErrorNotASIGPIPE() throws {
        let child = try ChildProcess.spawn(executable: "true", stdin: .pipe)
        #expect(child.wait(timeout: .seconds(10)) == .exited(0))
        #expect(throws: SpawnError.self) {
            try child.writeStandardInput(Array(repeating: UInt8(ascii: "x"), count: 200_000))
        }
    }

    @Test func outputFileIsTruncatedOrAppended() throws {
        let path = NSTemporaryDirectory() + "spawn-\(UInt32.random(in: 0...UInt32.max)).txt"
        defer { unlink(path) }
        for (word, mode) in [("one", ChildProcess.FileMode.truncate), ("two", .append)] {
            let child = try ChildProcess.spawn(executable: "echo", arguments: [word], stdout: .file(path, mode))
            #expect(child.wait() == .exited(0))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one\ntwo\n")
        let again = try ChildProcess.spawn(executable: "echo", arguments: ["three"], stdout: .file(path))
        again.wait()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "three\n")
    }

    @Test func unopenableOutputFileIsAnErrorNamingTheFile() {
        #expect {
            _ = try ChildProcess.spawn(executable: "true", stdout: .file("/nonexistent-dir/x.log"))
        } throws: { error in
            guard let e = error as? SpawnError else { return false }
            return e.code == .cannotOpenFile && e.message.contains("/nonexistent-dir/x.log") && e.message.contains("standard output")
        }
    }

    @Test func environmentAndWorkingDirectoryAreApplied() throws {
        let result = try ChildProcess.run(executable: "/bin/sh", arguments: ["-c", "echo \"$CARE_VALUE\"; pwd"],
                                          environment: ["CARE_VALUE": "42", "PATH": "/usr/bin:/bin"], workingDirectory: "/tmp")
        #expect(text(result.standardOutput) == "42\n/tmp\n")
    }

    @Test func parentDescriptorsDoNotLeakIntoTheChild() throws {
        let fd = open("/dev/null", O_RDONLY)  // deliberately without O_CLOEXEC
        #expect(fd >= 0)
        #expect(dup2(fd, 200) == 200)
        close(fd)
        defer { close(200) }
        let result = try ChildProcess.run(executable: "ls", arguments: ["/proc/self/fd"])
        let fds = text(result.standardOutput).split(separator: "\n").map(String.init)
        #expect(fds.contains("0") && fds.contains("1") && fds.contains("2"))
        #expect(!fds.contains("200"), "descriptor 200 leaked: \(fds)")
    }
}
