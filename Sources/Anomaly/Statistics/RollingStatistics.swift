/// Rolling statistics of one signal over a sliding window: count, mean, sample variance, min, max, EWMA, rate and
/// the time since the last sample. The window holds the last `capacity` samples and, when `span` is finite, only
/// those newer than `span` seconds before the latest time (windows by sample count and by time).
///
/// ## Cost
/// `add(_:at:)` is O(1) amortized and never allocates: the storage (the window's values and times, two deques of
/// positions) is allocated once in `init`. Min and max of a count window (no `span`) come from blocks of
/// `capacity` values (van Herk / Gil–Werman): the running min/max of the current block against the suffix min/max of
/// the previous block, computed once per block — branch-free, 2 comparisons per sample. A time window uses monotonic
/// deques instead (its length varies): each position enters and leaves each deque once. In steady state of a count window (full) there is no division: `1/n` and `1/(n-1)` are cached when the
/// count changes.
///
/// ## Numerical stability (the choice)
/// Mean and variance come from *shifted* running sums `s1 = Σ(v − K)`, `s2 = Σ(v − K)²` with exact removal of the
/// oldest value and a *periodic exact recompute*:
/// - Removal subtracts the very same `v − K` that was added (same `v` read back from the window, same `K`), so adding
///   and removing never differ by a rounding of their own; only the running sums' rounding accumulates.
/// - The sums are recomputed exactly from the window (two passes, in extended order: shift first) and the shift `K`
///   moved to the window's mean (or to its value, when the window is constant: its variance is then exactly 0)
///   every `ringSize` additions (≥ the capacity), which bounds the accumulated rounding to ~2 × ringSize
///   operations on values of the recent window's scale; and *early*, whenever that bound could exceed 1e-9 of the
///   variance's numerator `s2 − s1²/n`: the bound is `4 · ε · ringSize · max(v − K)²` over the values added since
///   the last recompute (one `max` per sample). This catches a level shift (values far from `K`: epoch-scale
///   values after zeros), a window that became constant or quiet after large values left it, and cancellation.
/// - Because `K` sits near the mean, `s2 − s1²/n` does not cancel: epoch-scale values (1.8e9 + noise of 1e-3) keep
///   their noise's variance to ~1e-9 relative, where naive `Σv²` keeps nothing (and the Welford removal
///   `mean = (n·mean − old)/(n−1)` of the C reference loses ~1e-4 absolute at that scale).
/// A recompute is O(count); the periodic one comes every `ringSize` samples (O(1) amortized: a short loop, ≈ 2
/// extra operations per sample), the early one only after a change of scale (at most a few per level shift).
///
/// Non-finite values are not added (counted in `rejected`). Times are expected non-decreasing; a time that goes
/// backwards (a clock step) is recorded as given: the time window then evicts nothing until time passes it again.
///
/// A noncopyable value (it owns its storage, freed by `deinit`): a local `var` keeps its state in registers across a
/// loop of `add`s. `RollingStatistics` is the same as a final class, for arrays of per-signal statistics.
/// Not thread-safe: one instance belongs to the detector thread. `@inlinable` hot paths (the benchmark and other
/// modules call them across module boundaries).
public struct RollingWindow: ~Copyable {
    /// The most samples the window holds.
    public let capacity: Int
    /// The longest time the window covers, seconds (`.infinity`: a count window only).
    public let span: Double
    /// The EWMA's weight of a new sample.
    public let ewmaAlpha: Double

    @usableFromInline let ringMask: Int
    @usableFromInline let values: UnsafeMutablePointer<Double>
    @usableFromInline let times: UnsafeMutablePointer<Double>
    @usableFromInline let minQueue: UnsafeMutablePointer<Int>   // positions, values increasing
    @usableFromInline let maxQueue: UnsafeMutablePointer<Int>   // positions, values decreasing
    @usableFromInline let minValues: UnsafeMutablePointer<Double>   // the values of minQueue's positions (no indirection)
    @usableFromInline let maxValues: UnsafeMutablePointer<Double>
    /// Count windows (`span` infinite) find min and max by blocks (van Herk / Gil–Werman) instead of deques.
    @usableFromInline let blockMode: Bool
    @usableFromInline let suffixMin: UnsafeMutablePointer<Double>   // capacity + 1: of the last complete block
    @usableFromInline let suffixMax: UnsafeMutablePointer<Double>
    @usableFromInline var blockOffset = 0
    @usableFromInline var prefixMin = Double.infinity
    @usableFromInline var prefixMax = -Double.infinity

    /// Positions: the window is [head, tail); positions only grow.
    @usableFromInline var head = 0
    @usableFromInline var tail = 0
    @usableFromInline var minFirst = 0, minEnd = 0, maxFirst = 0, maxEnd = 0
    @usableFromInline var shift = 0.0          // K
    @usableFromInline var s1 = 0.0             // Σ(v − K) over the window
    @usableFromInline var s2 = 0.0             // Σ(v − K)² over the window
    @usableFromInline var inverseCount = 0.0   // 1/n
    @usableFromInline var inverseCountLess1 = 0.0   // 1/(n−1), 0 when n < 2
    @usableFromInline var addsUntilRecompute: Int
    /// max (v − K)² of the values added since the last recompute (their rounding scale).
    @usableFromInline var largestSquare = 0.0
    /// 4 · ε · ringSize / 1e-9: the early-recompute factor (see the type's documentation).
    @usableFromInline let errorFactor: Double
    @usableFromInline var ewmaValue = Double.nan
    @usableFromInline var lastTime = -Double.infinity
    @usableFromInline var previousTime = -Double.infinity
    @usableFromInline var added = 0
    @usableFromInline var refused = 0
    /// Samples ever added (the window's count is `count`).
    @inlinable public var total: Int { added }
    /// Non-finite values refused.
    @inlinable public var rejected: Int { refused }

    /// - Parameters:
    ///   - capacity: the most samples in the window (≥ 1; storage is rounded up to a power of two).
    ///   - span: seconds of time the window covers (`.infinity` for a count window only).
    ///   - ewmaAlpha: the EWMA's weight of a new sample, in (0, 1]; default 2/(capacity+1).
    public init(capacity: Int, span: Double = .infinity, ewmaAlpha: Double? = nil) {
        precondition(capacity >= 1, "a rolling window holds at least one sample")
        precondition(span > 0, "a time window spans a positive number of seconds")
        var size = 1
        while size < capacity { size <<= 1 }
        self.capacity = capacity
        self.span = span
        let alpha = ewmaAlpha ?? 2 / (Double(capacity) + 1)
        precondition(alpha > 0 && alpha <= 1, "the EWMA weight is in (0, 1]")
        self.ewmaAlpha = alpha
        ringMask = size - 1
        values = .allocate(capacity: size)
        times = .allocate(capacity: size)
        minQueue = .allocate(capacity: size)
        maxQueue = .allocate(capacity: size)
        minValues = .allocate(capacity: size)
        maxValues = .allocate(capacity: size)
        minValues.initialize(repeating: 0, count: size)
        maxValues.initialize(repeating: 0, count: size)
        values.initialize(repeating: 0, count: size)
        times.initialize(repeating: 0, count: size)
        minQueue.initialize(repeating: 0, count: size)
        maxQueue.initialize(repeating: 0, count: size)
        blockMode = span == .infinity
        suffixMin = .allocate(capacity: capacity + 1)
        suffixMax = .allocate(capacity: capacity + 1)
        suffixMin.initialize(repeating: .infinity, count: capacity + 1)
        suffixMax.initialize(repeating: -.infinity, count: capacity + 1)
        addsUntilRecompute = size
        errorFactor = 4 * Double.ulpOfOne * Double(size) * 1e9
    }

    deinit {
        values.deallocate(); times.deallocate(); minQueue.deallocate(); maxQueue.deallocate()
        minValues.deallocate(); maxValues.deallocate(); suffixMin.deallocate(); suffixMax.deallocate()
    }

    // MARK: Hot path

    /// Adds one sample taken at `time` (epoch seconds), evicting what leaves the window.
    @inlinable @inline(__always)
    public mutating func add(_ value: Double, at time: Double) {
        guard value.isFinite else { refused &+= 1; return }
        // Evict by count (at most one) and by time.
        let full = tail &- head == capacity
        if full { removeOldest() }
        let evicted = span < .infinity && evictOlder(than: time - span)
        if head == tail && added == 0 { shift = value; ewmaValue = value }
        let position = tail
        let slot = position & ringMask
        values[slot] = value
        times[slot] = time
        let d = value - shift
        let dd = d * d
        s1 += d
        s2 += dd
        largestSquare = Swift.max(largestSquare, dd)
        tail = position &+ 1
        if blockMode {
            // Min and max of the last `capacity` values: the running prefix of the current block against the
            // suffix of the previous one (branch-free; the suffixes are computed once per block).
            prefixMin = Swift.min(prefixMin, value)
            prefixMax = Swift.max(prefixMax, value)
            blockOffset &+= 1
            if blockOffset == capacity { finishBlock() }
        } else {
            // Monotonic deques: drop values not smaller (larger) than the new one, then append it.
            var e = minEnd
            let mf = minFirst
            while e != mf && minValues[(e &- 1) & ringMask] >= value { e &-= 1 }
            minQueue[e & ringMask] = position
            minValues[e & ringMask] = value
            minEnd = e &+ 1
            e = maxEnd
            let xf = maxFirst
            while e != xf && maxValues[(e &- 1) & ringMask] <= value { e &-= 1 }
            maxQueue[e & ringMask] = position
            maxValues[e & ringMask] = value
            maxEnd = e &+ 1
        }
        ewmaValue += ewmaAlpha * (value - ewmaValue)
        previousTime = lastTime
        lastTime = time
        added &+= 1
        // The count changed unless exactly one left as this one came.
        if !full || evicted || addsUntilRecompute <= 1 { countChanged() } else { addsUntilRecompute &-= 1 }
        // Early recompute when the rounding bound could reach 1e-9 of the variance's numerator (rare: a change of scale).
        if s2 - s1 * s1 * inverseCount < largestSquare * errorFactor { recomputeIfUseful() }
    }

    /// Removes the oldest sample of the window.
    @inlinable @inline(__always)
    mutating func removeOldest() {
        let position = head
        let d = values[position & ringMask] - shift
        s1 -= d
        s2 -= d * d
        head = position &+ 1
        if minFirst != minEnd && minQueue[minFirst & ringMask] == position { minFirst &+= 1 }
        if maxFirst != maxEnd && maxQueue[maxFirst & ringMask] == position { maxFirst &+= 1 }
    }

    /// A block of `capacity` values is complete: its suffix minima and maxima serve the next block's windows.
    @usableFromInline
    mutating func finishBlock() {
        let first = tail &- capacity
        var low = Double.infinity, high = -Double.infinity
        suffixMin[capacity] = low
        suffixMax[capacity] = high
        var j = capacity
        while j > 0 {
            j &-= 1
            let v = values[(first &+ j) & ringMask]
            low = Swift.min(low, v); high = Swift.max(high, v)
            suffixMin[j] = low; suffixMax[j] = high
        }
        blockOffset = 0
        prefixMin = .infinity
        prefixMax = -.infinity
    }

    /// Time-window eviction: samples at or before `limit` leave.
    @inlinable @discardableResult
    mutating func evictOlder(than limit: Double) -> Bool {
        var removed = false
        while head != tail && times[head & ringMask] <= limit { removeOldest(); removed = true }
        if removed { countChanged() }
        return removed
    }

    /// Slow path: the count changed (filling, time eviction) or the periodic recompute is due.
    @usableFromInline
    mutating func countChanged() {
        addsUntilRecompute &-= 1
        if addsUntilRecompute <= 0 { recompute() }
        let n = tail &- head
        inverseCount = n > 0 ? 1 / Double(n) : 0
        inverseCountLess1 = n > 1 ? 1 / Double(n - 1) : 0
        if n == 0 { s1 = 0; s2 = 0 }
    }

    /// The early recompute, unless the window is already exact (constant since the last recompute: nothing to fix).
    @usableFromInline
    mutating func recomputeIfUseful() {
        if largestSquare == 0 { return }
        recompute()
    }

    /// Exact two-pass recompute of the sums, with the shift moved to the window's mean.
    @usableFromInline
    mutating func recompute() {
        addsUntilRecompute = ringMask + 1
        let n = tail &- head
        guard n > 0 else { s1 = 0; s2 = 0; largestSquare = 0; return }
        var sum = 0.0
        var p = head
        while p != tail { sum += values[p & ringMask] - shift; p &+= 1 }
        // A constant window gets its value as the shift: its variance is then exactly 0 from here on.
        let low = min, high = max
        let newShift = low == high ? low : shift + sum / Double(n)
        var a = 0.0, b = 0.0
        p = head
        while p != tail {
            let d = values[p & ringMask] - newShift
            a += d; b += d * d
            p &+= 1
        }
        shift = newShift; s1 = a; s2 = b
        // The rounding scale of the window's values around the new shift (they are still in the sums).
        let spread = Swift.max(high - newShift, newShift - low)
        largestSquare = spread * spread
    }

    /// Time moved to `now` without a sample: a time window evicts what is older than `now − span`.
    @inlinable
    public mutating func advance(to now: Double) {
        if span < .infinity { _ = evictOlder(than: now - span) }
    }

    // MARK: Results

    /// Samples in the window.
    @inlinable public var count: Int { tail &- head }

    /// The window's mean (NaN when empty).
    @inlinable public var mean: Double { tail == head ? .nan : shift + s1 * inverseCount }

    /// The window's sample variance (n − 1 in the denominator; 0 with fewer than 2 samples; never negative).
    @inlinable public var variance: Double {
        let v = (s2 - s1 * s1 * inverseCount) * inverseCountLess1
        return v > 0 ? v : 0
    }

    @inlinable public var standardDeviation: Double { variance.squareRoot() }

    /// The smallest value in the window (NaN when empty).
    @inlinable public var min: Double {
        if blockMode { return tail == head ? .nan : Swift.min(prefixMin, suffixMin[blockOffset]) }
        return minFirst == minEnd ? .nan : minValues[minFirst & ringMask]
    }

    /// The largest value in the window (NaN when empty).
    @inlinable public var max: Double {
        if blockMode { return tail == head ? .nan : Swift.max(prefixMax, suffixMax[blockOffset]) }
        return maxFirst == maxEnd ? .nan : maxValues[maxFirst & ringMask]
    }

    /// The exponentially weighted moving average of every sample added (not limited to the window; NaN before the
    /// first sample, which seeds it).
    @inlinable public var ewma: Double { ewmaValue }

    /// Samples per second over the window's time extent (0 with fewer than 2 samples or no extent).
    @inlinable public var rate: Double {
        let n = tail &- head
        guard n > 1 else { return 0 }
        let extent = times[(tail &- 1) & ringMask] - times[head & ringMask]
        return extent > 0 ? Double(n - 1) / extent : 0
    }

    /// The time of the latest sample (−∞ before the first).
    @inlinable public var latestTime: Double { lastTime }

    /// Seconds between the two latest samples (NaN before the second).
    @inlinable public var lastInterval: Double { previousTime.isFinite ? lastTime - previousTime : .nan }

    /// Seconds since the latest sample at `now` (∞ before the first).
    @inlinable public func timeSinceLastSample(at now: Double) -> Double { now - lastTime }

    /// Empties the window and the EWMA (the storage stays).
    public mutating func reset() {
        head = 0; tail = 0; minFirst = 0; minEnd = 0; maxFirst = 0; maxEnd = 0
        blockOffset = 0; prefixMin = .infinity; prefixMax = -.infinity
        suffixMin.update(repeating: .infinity, count: capacity + 1)
        suffixMax.update(repeating: -.infinity, count: capacity + 1)
        shift = 0; s1 = 0; s2 = 0; largestSquare = 0; inverseCount = 0; inverseCountLess1 = 0
        addsUntilRecompute = ringMask + 1
        ewmaValue = .nan; lastTime = -.infinity; previousTime = -.infinity; added = 0; refused = 0
    }

    #if DEBUG
    /// Checks the invariants (debug builds; tests): window within capacity, deques monotonic and inside the window.
    public func checkInvariants() {
        precondition(tail &- head >= 0 && tail &- head <= capacity)
        var p = minFirst
        while p != minEnd {
            let q = minQueue[p & ringMask]
            precondition(q >= head && q < tail)
            if p &+ 1 != minEnd { precondition(values[q & ringMask] == minValues[p & ringMask] && minValues[p & ringMask] < minValues[(p &+ 1) & ringMask]) }
            p &+= 1
        }
        p = maxFirst
        while p != maxEnd {
            let q = maxQueue[p & ringMask]
            precondition(q >= head && q < tail)
            if p &+ 1 != maxEnd { precondition(values[q & ringMask] == maxValues[p & ringMask] && maxValues[p & ringMask] > maxValues[(p &+ 1) & ringMask]) }
            p &+= 1
        }
    }
    #endif
}

/// `RollingWindow` as a final class: per-signal statistics kept in arrays by detectors (same semantics, same cost
/// model; see `RollingWindow`). Its one mutable property is `@exclusivity(unchecked)` (no dynamic exclusivity check
/// per access, ~10 ns each on the hot path): safe because one thread uses an instance and no method re-enters
/// another while it modifies the window.
public final class RollingStatistics {
    @usableFromInline @exclusivity(unchecked) var window: RollingWindow

    /// See `RollingWindow.init(capacity:span:ewmaAlpha:)`.
    public init(capacity: Int, span: Double = .infinity, ewmaAlpha: Double? = nil) {
        window = RollingWindow(capacity: capacity, span: span, ewmaAlpha: ewmaAlpha)
    }

    public var capacity: Int { window.capacity }
    public var span: Double { window.span }
    public var ewmaAlpha: Double { window.ewmaAlpha }

    @inlinable @inline(__always) public func add(_ value: Double, at time: Double) { window.add(value, at: time) }
    @inlinable public func advance(to now: Double) { window.advance(to: now) }
    @inlinable public var count: Int { window.count }
    @inlinable public var mean: Double { window.mean }
    @inlinable public var variance: Double { window.variance }
    @inlinable public var standardDeviation: Double { window.standardDeviation }
    @inlinable public var min: Double { window.min }
    @inlinable public var max: Double { window.max }
    @inlinable public var ewma: Double { window.ewma }
    @inlinable public var rate: Double { window.rate }
    @inlinable public var latestTime: Double { window.latestTime }
    @inlinable public var lastInterval: Double { window.lastInterval }
    @inlinable public func timeSinceLastSample(at now: Double) -> Double { window.timeSinceLastSample(at: now) }
    @inlinable public var total: Int { window.total }
    @inlinable public var rejected: Int { window.rejected }
    public func reset() { window.reset() }

    #if DEBUG
    public func checkInvariants() { window.checkInvariants() }
    #endif
}
