/// The consumer end of the pipeline: takes samples in order on the detector thread.
///
/// Implementation requirements: called from one thread only; `process` is the per-sample hot path (no allocation,
/// no lock, no logging, no existential dispatch: resolve per-signal plans when a signal is first seen);
/// `advance(to:)` is called when the consumer wakes with no sample (a quiet night), so time-based checks still run.
public protocol SampleProcessor: AnyObject {
    func process(_ sample: Sample)
    /// Consecutive samples in ring order (the pipeline hands over what it drained at once). The same as calling
    /// `process(_:)` on each in order; a processor may do per-run work once (see `DetectorEngine`).
    func process(_ samples: UnsafeBufferPointer<Sample>)
    /// The clock moved to `time` (epoch seconds) without a sample: run time-based checks.
    func advance(to time: Double)
}


extension SampleProcessor {
    @inlinable
    public func process(_ samples: UnsafeBufferPointer<Sample>) {
        for s in samples { process(s) }
    }
}
