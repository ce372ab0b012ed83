#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread running a closure: for the pipeline's consumer and the MQTT loop, which must be real
/// threads (they block in futex/poll), not tasks of Swift's cooperative pool (2 threads on this machine).
public final class OSThread: @unchecked Sendable {
    // @unchecked Sendable: `handle` is written once in `init` before any other thread can see this object, and
    // read only by `join`, which must be called by one thread once.
    private var handle = pthread_t()
    private var joined = false

    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    /// Starts `body` on a new thread; `name` is for diagnostics.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&handle, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(String(cString: strerror(rc)))")
    }

    /// Starts `body` on a detached thread (nobody joins it; its resources go when it ends): for blocking work
    /// handed off the cooperative pool.
    public static func detached(_ body: @escaping @Sendable () -> Void) {
        let t = OSThread(name: "detached", body)
        pthread_detach(t.handle)
        t.joined = true
    }

    /// Waits for the thread to finish.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}
