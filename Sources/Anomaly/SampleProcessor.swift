/// The consumer end of the pipeline: takes samples in order on the detector thread.
///
/// Implementation requirements: called from one thread only; `process` is the per-sample hot path (no allocation,
/// no lock, no logging, no existential dispatch: resolve per-signal plans when a signal is first seen);
/// `advance(to:)` is called when the consumer wakes with no sample (a quiet night), so time-based checks still run.
public protocol SampleProcessor: AnyObject {
    func process(_ sample: Sample)
    /// The clock moved to `time` (epoch seconds) without a sample: run time-based checks.
    func advance(to time: Double)
}

/// Per-signal state kept by the engine, in a dense array indexed by `SignalID`.
public struct SignalState: Sendable {
    public var count: Int = 0
    public var firstTime: Double = .nan
    public var lastTime: Double = .nan
    public var lastValue: Double = .nan
    public init() {}
}

/// The detector engine of one person/home: holds per-signal state, indexed densely by `SignalID`.
///
/// Issue "Detectors" adds the statistics and the detectors here; today it keeps what every detector needs (how many
/// samples, when last seen, last value) so that sensor health and replay summaries have real numbers.
public final class DetectorEngine: SampleProcessor, @unchecked Sendable {
    // @unchecked Sendable: made on one thread and handed to the detector thread, which alone uses it from then on
    // (the pipeline's consumer loop); readers look at it only after that thread was joined.
    public var signals: [SignalState]
    public var samples = 0
    public var latestTime: Double = -.infinity

    public init(expectedSignals: Int = 256) {
        signals = []
        signals.reserveCapacity(expectedSignals)
    }

    @inlinable
    public func process(_ sample: Sample) {
        let i = Int(sample.signal.rawValue)
        if i >= signals.count { growSignals(to: i + 1) }
        signals.withUnsafeMutableBufferPointer { s in
            if s[i].count == 0 { s[i].firstTime = sample.time }
            s[i].count &+= 1
            s[i].lastTime = sample.time
            s[i].lastValue = sample.value
        }
        samples &+= 1
        if sample.time > latestTime { latestTime = sample.time }
    }

    public func advance(to time: Double) {
        if time > latestTime { latestTime = time }
    }

    @usableFromInline func growSignals(to n: Int) {
        while signals.count < n { signals.append(SignalState()) }
    }
}
