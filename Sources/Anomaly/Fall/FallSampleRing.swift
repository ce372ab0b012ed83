/// One accelerometer sample as the fall detector keeps it: time, axes and magnitude in g, and the time since the
/// previous sample of the stream (capped; 0 for the first sample after a reset).
@usableFromInline
struct FallRingEntry: BitwiseCopyable {
    @usableFromInline var time: Double
    @usableFromInline var x: Float
    @usableFromInline var y: Float
    @usableFromInline var z: Float
    @usableFromInline var magnitude: Float
    @usableFromInline var dt: Float

    @inlinable init(time: Double, x: Float, y: Float, z: Float, magnitude: Float, dt: Float) {
        self.time = time; self.x = x; self.y = y; self.z = z; self.magnitude = magnitude; self.dt = dt
    }
}

/// The recent samples of one accelerometer signal: a power-of-two ring that overwrites its oldest entry.
///
/// Memory: the storage is allocated once by `allocate(capacity:)` (when the detector accepts a signal) and freed
/// by `deallocate()` (the detector's `deinit`); `push` never allocates. It is a plain struct holding a pointer so
/// that per-signal state can live inline in one array without reference counting per sample.
///
/// Threading: used only by the detector thread (like the detector that owns it).
///
/// Invariants: `capacity` is a power of two, `mask == capacity - 1`, `0 <= count <= capacity`; entry `k` back from
/// the newest (`k < count`) is at `(head - 1 - k) & mask`; times are non-decreasing from oldest to newest (the
/// detector resets the ring when the clock steps back).
@usableFromInline
struct FallSampleRing {
    @usableFromInline var storage: UnsafeMutablePointer<FallRingEntry>
    @usableFromInline let mask: Int
    @usableFromInline var head = 0
    @usableFromInline var count = 0

    init(capacity requested: Int) {
        var c = 16
        while c < requested { c <<= 1 }
        storage = .allocate(capacity: c)
        mask = c - 1
    }

    var capacity: Int { mask + 1 }

    func deallocate() { storage.deallocate() }

    @inlinable mutating func push(_ e: FallRingEntry) {
        storage[head] = e
        head = (head + 1) & mask
        if count <= mask { count += 1 }
    }

    @inlinable mutating func removeAll() { count = 0 }

    /// The entry `k` places back from the newest (0 = newest); `k < count`.
    @inlinable func back(_ k: Int) -> FallRingEntry { storage[(head - 1 - k) & mask] }

    #if DEBUG
    func checkInvariants() {
        precondition(capacity & mask == 0 && count >= 0 && count <= capacity)
        var previous = Double.infinity
        for k in 0..<count {
            let t = back(k).time
            precondition(t <= previous, "ring times must not decrease")
            previous = t
        }
    }
    #endif
}
