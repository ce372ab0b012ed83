/// Every quiet period the routine detector saw, with its context: what an evaluation needs to say how early an
/// oracle that knew each day's quiets could have raised the alarm. Off unless an evaluation sets it (one append per
/// sign of life, never per sample otherwise).
public final class QuietTrace: @unchecked Sendable {
    // @unchecked Sendable: appended to on the detector thread only, read after that thread was joined.
    public struct Period: Sendable, Equatable {
        public var start: Double
        /// NaN while it lasts (the capture ended in it).
        public var end: Double
        public var context: RoutineContext
    }

    public private(set) var periods: [Period] = []

    public init() {}

    /// A sign of life at `t`: the open period ends, the next begins in `context`.
    func next(at t: Double, context: RoutineContext) {
        if let last = periods.indices.last, periods[last].end.isNaN { periods[last].end = t }
        periods.append(Period(start: t, end: .nan, context: context))
    }
}
