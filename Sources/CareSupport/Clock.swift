#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// An instant on a monotonic clock, in nanoseconds since an arbitrary origin. Timers and "how long since" use it;
/// it never jumps when NTP steps the wall clock (a gateway without an RTC boots in 1970).
public struct MonotonicInstant: Sendable, Hashable, Comparable, BitwiseCopyable {
    public var nanoseconds: Int64
    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }
    public func advanced(bySeconds s: Double) -> Self { Self(nanoseconds: nanoseconds + Int64(s * 1e9)) }
    public func seconds(since other: Self) -> Double { Double(nanoseconds - other.nanoseconds) / 1e9 }
}

/// Where time comes from: a monotonic clock for timers, a wall clock only to stamp records. Injected everywhere,
/// so that replay and tests drive a `ManualClock` and "no movement for 3 hours" runs in microseconds.
public protocol CareClock: Sendable {
    /// Monotonic time for timers and durations.
    func monotonicNow() -> MonotonicInstant
    /// Wall time in seconds since the Unix epoch, for stamping records only.
    func wallNow() -> Double
}

/// The system's clocks: `CLOCK_MONOTONIC` and `CLOCK_REALTIME`.
public struct SystemClock: CareClock {
    public init() {}
    public func monotonicNow() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
    public func wallNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// A clock moved by hand (tests) or by the data (replay: the virtual time of the sample being processed).
/// Monotonic and wall time advance together; `setWall` lets a test step the wall clock alone (NTP step).
public final class ManualClock: CareClock {
    private struct State { var mono: Int64; var wall: Double }
    private let state: Mutex<State>

    public init(wall: Double = 1_763_856_000, monotonicNanoseconds: Int64 = 0) {
        state = Mutex(State(mono: monotonicNanoseconds, wall: wall))
    }
    public func monotonicNow() -> MonotonicInstant { state.withLock { MonotonicInstant(nanoseconds: $0.mono) } }
    public func wallNow() -> Double { state.withLock { $0.wall } }
    /// Moves both clocks forward by `seconds` (never backward).
    public func advance(by seconds: Double) {
        precondition(seconds >= 0, "a monotonic clock does not go backward")
        state.withLock { $0.mono += Int64(seconds * 1e9); $0.wall += seconds }
    }
    /// Steps the wall clock only, as NTP does after a boot without an RTC.
    public func setWall(_ wall: Double) { state.withLock { $0.wall = wall } }
}
