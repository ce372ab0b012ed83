import CareSupport

/// Runs a program with CareSupport's `ChildProcess.run` (posix_spawn, cleared signal mask, its own process group,
/// capped output, timeout then SIGTERM and SIGKILL) on a thread of its own: `run` blocks, and blocking the
/// cooperative pool (two threads on our gateways) would stall every other task.
enum ProgramRunner {
    static func run(_ program: String, arguments: [String], environment: [String: String], input: [UInt8],
                    timeout: Duration, outputLimit: Int) async throws(SpawnError) -> ProcessResult {
        let r: Result<ProcessResult, SpawnError> = await offCooperativePool {
            Result { () throws(SpawnError) in
                try ChildProcess.run(executable: program, arguments: arguments, environment: environment, input: input,
                                     outputLimit: outputLimit, timeout: timeout, killGrace: .milliseconds(200))
            }
        }
        return try r.get()
    }
}

/// Runs blocking work on a new thread and resumes when it is done.
func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { cont in
        OSThread.detached { cont.resume(returning: body()) }
    }
}
