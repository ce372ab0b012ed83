import Synchronization

/// A request to pause some detector families between two times (the person is away: nobody is home to be inactive),
/// set from any thread, taken by the engine at its next time-based check, so a sample costs nothing more than the
/// bit mask the engine already applies.
///
/// Paused families get no samples and no ticks; when the window ends they are told (`Detector.resume(at:)`) so that
/// time spent paused is neither learned nor counted as quiet.
public final class FamilyPause: Sendable {
    /// `[from, until)` in epoch seconds.
    public struct Window: Sendable, Equatable {
        public var from: Double
        public var until: Double
        public init(from: Double, until: Double) { self.from = from; self.until = until }
        public func contains(_ t: Double) -> Bool { t >= from && t < until }
    }

    /// The families this pause applies to (`DetectorRegistry` names).
    public let families: [String]
    /// Called on the detector thread when the engine starts (true) or ends (false) a pause, with the sample time.
    let onChange: @Sendable (Bool, Double, Window) -> Void
    private let window = Mutex<Window?>(nil)
    private let generation = Atomic<Int>(0)

    public init(families: [String], onChange: @escaping @Sendable (Bool, Double, Window) -> Void = { _, _, _ in }) {
        self.families = families
        self.onChange = onChange
    }

    /// Sets (or with nil, cancels) the window; the engine takes it at its next check.
    public func set(_ w: Window?) {
        window.withLock { $0 = w }
        generation.add(1, ordering: .releasing)
    }

    public var current: Window? { window.withLock { $0 } }

    /// Changes since the engine last looked (one relaxed load; the window itself is read only when it changed).
    func changed(since seen: Int) -> (generation: Int, window: Window?)? {
        let g = generation.load(ordering: .acquiring)
        guard g != seen else { return nil }
        return (g, current)
    }
}
