import CareSupport

// Timers run on CareSupport's `CareClock` (monotonic + wall); Escalation adds millisecond wall stamps and the pair
// of both read at one moment.

extension MonotonicInstant {
    public func advanced(by d: Duration) -> Self { Self(nanoseconds: nanoseconds &+ d.nanosecondsClamped) }
    public func duration(to other: Self) -> Duration { .nanoseconds(other.nanoseconds &- nanoseconds) }
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
    /// False while the wall clock is not plausible (before the journal's last record, or a gateway booted in 1970
    /// before NTP): rules of local time then fail safe (quiet hours, availability and away do not hold a page back).
    public var wallIsTrusted = true
    public init(monotonic: MonotonicInstant, wall: WallTime, wallIsTrusted: Bool = true) {
        self.monotonic = monotonic; self.wall = wall; self.wallIsTrusted = wallIsTrusted
    }
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

extension CareClock {
    /// Both clocks now: the monotonic one for timers, the wall one (to the millisecond) for stamps.
    public func moment() -> Moment {
        Moment(monotonic: monotonicNow(), wall: WallTime(milliseconds: Int64((wallNow() * 1000).rounded())))
    }
}
