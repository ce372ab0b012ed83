import Synchronization

/// PUBACKs matched to the callers waiting for them. The loop thread reports every acknowledged message id; a
/// caller waits for one id with a timeout.
///
/// A PUBACK can arrive before its caller starts waiting (the loop thread runs on), so the last ids acknowledged are
/// remembered in a small ring; ids nobody waits for (event lines) only pass through that ring, which never grows.
final class PublishAcknowledgements: Sendable {
    private struct State {
        var waiters: [Int32: CheckedContinuation<Bool, Never>] = [:]
        var recent = [Int32](repeating: 0, count: 256)
        var next = 0
    }
    private let state = Mutex(State())

    /// Called on the loop thread for each PUBACK.
    func acknowledged(_ mid: Int32) {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if let w = s.waiters.removeValue(forKey: mid) { return w }
            s.recent[s.next] = mid
            s.next = (s.next + 1) % s.recent.count
            return nil
        }
        waiter?.resume(returning: true)
    }

    /// True once `mid` is acknowledged; false after `timeout`.
    func wait(for mid: Int32, timeout: Duration) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let acknowledgedAlready = state.withLock { s -> Bool in
                if mid != 0, let i = s.recent.firstIndex(of: mid) {
                    s.recent[i] = 0
                    return true
                }
                s.waiters[mid] = c
                return false
            }
            if acknowledgedAlready { return c.resume(returning: true) }
            // Started only once the waiter is in place, so a timeout can never miss it; whichever of the PUBACK and
            // the timeout takes the waiter out resumes it, once.
            Task {
                try? await Task.sleep(for: timeout)
                let w = self.state.withLock { $0.waiters.removeValue(forKey: mid) }
                w?.resume(returning: false)
            }
        }
    }
}
