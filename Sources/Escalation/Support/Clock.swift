#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// CareSupport has no clock yet: this lives here until the lead moves it there (see the issue 5 report).

/// A point on a monotonic clock, in nanoseconds since an arbitrary origin (boot, or zero for a manual clock).
/// Timers are measured on it; it never steps when NTP corrects the wall clock.
public struct MonotonicInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }
    public func advanced(by d: Duration) -> Self { Self(nanoseconds: nanoseconds &+ d.nanosecondsClamped) }
    public func duration(to other: Self) -> Duration { .nanoseconds(other.nanoseconds &- nanoseconds) }
    public var description: String { "mono+\(nanoseconds / 1_000_000)ms" }
}

/// Wall-clock time in milliseconds since the Unix epoch: only stamped on records and shown to people.
public struct WallTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }
    public static func < (a: Self, b: Self) -> Bool { a.milliseconds < b.milliseconds }
    public func adding(seconds: Int64) -> Self { Self(milliseconds: milliseconds + seconds * 1000) }
    public var description: String { RFC3339.format(self) }
}

/// Both clocks read at one moment: the monotonic one drives timers, the wall one is stamped on records.
public struct Moment: Sendable, Hashable {
    public var monotonic: MonotonicInstant
    public var wall: WallTime
    public init(monotonic: MonotonicInstant, wall: WallTime) { self.monotonic = monotonic; self.wall = wall }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (s, a) = components
        let (m, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return s < 0 ? .min : .max }
        return m &+ a / 1_000_000_000
    }
    var secondsDouble: Double { Double(nanosecondsClamped) / 1e9 }
}

/// Where the escalation engine reads time. Implementation requirements: `now().monotonic` never decreases;
/// `now().wall` may jump (NTP steps, a gateway that boots in 1970) and is never used to decide when a timer fires.
public protocol EscalationClock: Sendable {
    func now() -> Moment
}

/// The machine's clocks: `CLOCK_MONOTONIC` for timers and `CLOCK_REALTIME` for stamps.
public struct SystemClock: EscalationClock {
    public init() {}
    public func now() -> Moment {
        var m = timespec(), w = timespec()
        clock_gettime(CLOCK_MONOTONIC, &m)
        clock_gettime(CLOCK_REALTIME, &w)
        return Moment(monotonic: MonotonicInstant(nanoseconds: Int64(m.tv_sec) * 1_000_000_000 + Int64(m.tv_nsec)),
                      wall: WallTime(milliseconds: Int64(w.tv_sec) * 1000 + Int64(w.tv_nsec) / 1_000_000))
    }
}

/// A clock that moves only when told: tests and replay drive it, so "45 minutes later" runs in microseconds.
public final class ManualClock: EscalationClock {
    private let state: Mutex<Moment>
    public init(wall: WallTime, monotonic: MonotonicInstant = MonotonicInstant(nanoseconds: 0)) {
        state = Mutex(Moment(monotonic: monotonic, wall: wall))
    }
    public func now() -> Moment { state.withLock { $0 } }
    /// Moves both clocks forward together.
    public func advance(by d: Duration) {
        state.withLock {
            $0.monotonic = $0.monotonic.advanced(by: d)
            $0.wall = WallTime(milliseconds: $0.wall.milliseconds + d.nanosecondsClamped / 1_000_000)
        }
    }
    /// Steps the wall clock only (NTP correction): timers must not notice.
    public func stepWall(to wall: WallTime) { state.withLock { $0.wall = wall } }
}
