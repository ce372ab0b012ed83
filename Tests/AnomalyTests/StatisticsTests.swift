import Anomaly
import CareSupport
import Foundation
import Testing

/// A deterministic random source for the Anomaly tests (CareSupport's SplitMix64, Box–Muller normals).
struct TestRandom {
    var generator: SplitMix64
    init(state: UInt64) { generator = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { generator.next() }
    /// Uniform in (0, 1].
    mutating func unit() -> Double { generator.unit() }
    mutating func normal() -> Double { (-2 * log(unit())).squareRoot() * cos(2 * Double.pi * unit()) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// The stream the statistics are checked on: segments of random data, epoch-scale offsets, constant runs and sudden
/// changes of scale, with their times (regular, irregular, and repeated times).
struct StatisticsStream {
    var random: TestRandom
    var time = 1_795_392_000.0
    var segment = 0
    var left = 0
    var kind = 0

    init(seed: UInt64) { random = TestRandom(state: seed) }

    mutating func next() -> (value: Double, time: Double) {
        if left == 0 {
            kind = segment % 9
            segment += 1
            left = 200 + random.below(3000)
        }
        left -= 1
        let dt: Double
        switch random.below(10) {
        case 0: dt = 0                                  // two samples at the same time
        case 1: dt = random.unit() * 30                 // a pause
        default: dt = 0.005 + random.unit() * 0.02
        }
        time += dt
        let v: Double
        switch kind {
        case 0: v = random.normal()                                            // plain noise
        case 1: v = 1.8e9 + random.normal() * 1e-3                             // epoch-scale value, small noise
        case 2: v = 42.125                                                      // a constant run
        case 3: v = random.normal() * 1e6                                       // large scale…
        case 4: v = 1e-6 * random.normal()                                      // …then tiny (variance falls 1e24×)
        case 5: v = time                                                        // epoch timestamps themselves
        case 6: v = Double(random.below(3))                                     // ties for min/max
        case 7: v = -1.8e9 - Double(random.below(5)) * 0.25                     // negative epoch scale, exact steps
        default: v = 0                                                          // zeros
        }
        return (v, time)
    }
}

/// The exact window statistics, recomputed from scratch in extended precision (two passes).
struct ExactWindow {
    var mean: Double, variance: Double, min: Double, max: Double, count: Int
    /// The largest |v − mean| over the window: the scale that rounding errors are measured against.
    var spread: Double

    init(values: ArraySlice<Double>) {
        count = values.count
        var sum: Float80 = 0
        for v in values { sum += Float80(v) }
        let m = sum / Float80(count)
        var sq: Float80 = 0
        var spread: Float80 = 0
        for v in values {
            let d = Float80(v) - m
            sq += d * d
            spread = Swift.max(spread, abs(d))
        }
        mean = Double(m)
        variance = count > 1 ? Double(sq / Float80(count - 1)) : 0
        min = values.min()!
        max = values.max()!
        self.spread = Double(spread)
    }
}

@Suite("Rolling statistics")
struct StatisticsTests {
    static var long: Bool { ProcessInfo.processInfo.environment["CM_LONG"] == "1" }

    /// Runs `samples` through a window and checks every `stride`-th sample against an exact recompute.
    /// `scaleHistory`: the largest |v − mean| of any value added in the last 2 × storage samples, the scale of the
    /// running sums' rounding before the periodic recompute clears it.
    func check(capacity: Int, span: Double, samples: Int, stride: Int, seed: UInt64) {
        let stats = RollingStatistics(capacity: capacity, span: span, ewmaAlpha: 0.1)
        var stream = StatisticsStream(seed: seed)
        var values: [Double] = [], times: [Double] = []
        values.reserveCapacity(samples); times.reserveCapacity(samples)
        var ewma: Float80 = 0
        var start = 0   // the exact window's first index
        var storage = 1
        while storage < capacity { storage <<= 1 }
        var failures = 0
        var worstMean = 0.0, worstVariance = 0.0
        for i in 0..<samples {
            let (v, t) = stream.next()
            values.append(v); times.append(t)
            stats.add(v, at: t)
            ewma = i == 0 ? Float80(v) : ewma + 0.1 * (Float80(v) - ewma)
            while i - start + 1 > capacity || times[start] <= t - span { start += 1 }
            guard i % stride == 0 || i == samples - 1 else { continue }
            let exact = ExactWindow(values: values[start...i])
            // The rounding scale of the mean: values still in the running sums' history (≤ 2 storages back).
            var range = 0.0, magnitude = 0.0
            for k in Swift.max(0, i - 2 * storage)...i { range = Swift.max(range, abs(values[k] - exact.mean)) }
            for k in Swift.max(0, i - 400)...i { magnitude = Swift.max(magnitude, abs(values[k])) }
            let eps = Double.ulpOfOne
            let meanTolerance = 4 * eps * abs(exact.mean) + 4 * Double(storage) * eps * range
            // The variance is held to 1e-8 relative (the type promises ~1e-9 of its numerator), exactly 0 for a
            // constant window.
            let varianceTolerance = 1e-8 * exact.variance
            let meanError = abs(stats.mean - exact.mean), varianceError = abs(stats.variance - exact.variance)
            worstMean = Swift.max(worstMean, meanError / Swift.max(meanTolerance, .leastNormalMagnitude))
            worstVariance = Swift.max(worstVariance, varianceError / Swift.max(varianceTolerance, .leastNormalMagnitude))
            if exact.variance == 0 && stats.variance != 0 { worstVariance = .infinity }
            let ok = stats.count == exact.count && meanError <= meanTolerance && varianceError <= varianceTolerance
                && stats.min == exact.min && stats.max == exact.max
                && abs(stats.ewma - Double(ewma)) <= 1e-12 * Swift.max(1, magnitude)
            if !ok {
                failures += 1
                if failures <= 5 {
                    Issue.record("""
                        sample \(i) (capacity \(capacity), span \(span)): count \(stats.count) vs \(exact.count), \
                        mean \(stats.mean) vs \(exact.mean) (±\(meanTolerance)), variance \(stats.variance) vs \
                        \(exact.variance) (±\(varianceTolerance)), min \(stats.min) vs \(exact.min), max \(stats.max) vs \
                        \(exact.max), ewma \(stats.ewma) vs \(Double(ewma))
                        """)
                }
            }
        }
        #expect(failures == 0, "worst error / tolerance: mean \(worstMean), variance \(worstVariance)")
        #if DEBUG
        stats.checkInvariants()
        #endif
    }

    @Test func countWindowMatchesAnExactRecomputeOnRandomEpochScaleAndConstantData() {
        let n = Self.long ? 10_000_000 : 100_000
        check(capacity: 256, span: .infinity, samples: n, stride: Self.long ? 61 : 1, seed: 1)
    }

    @Test func countWindowOfAnOddCapacityMatchesAnExactRecompute() {
        let n = Self.long ? 10_000_000 : 100_000
        check(capacity: 100, span: .infinity, samples: n, stride: Self.long ? 59 : 1, seed: 2)
    }

    @Test func timeWindowMatchesAnExactRecomputeWithPausesAndRepeatedTimes() {
        let n = Self.long ? 10_000_000 : 100_000
        check(capacity: 512, span: 2.5, samples: n, stride: Self.long ? 53 : 1, seed: 3)
    }

    @Test func tinyWindowsMatchAnExactRecompute() {
        check(capacity: 1, span: .infinity, samples: 20_000, stride: 1, seed: 4)
        check(capacity: 2, span: .infinity, samples: 20_000, stride: 1, seed: 5)
        check(capacity: 3, span: 0.05, samples: 20_000, stride: 1, seed: 6)
    }

    @Test func epochScaleNoiseKeepsItsVarianceWhereNaiveSumsLoseIt() {
        let stats = RollingStatistics(capacity: 256)
        var random = TestRandom(state: 9)
        var naive1 = 0.0, naive2 = 0.0
        var window: [Double] = []
        for i in 0..<50_000 {
            let v = 1.8e9 + random.normal() * 1e-3
            stats.add(v, at: Double(i))
            window.append(v); naive1 += v; naive2 += v * v
            if window.count > 256 { let o = window.removeFirst(); naive1 -= o; naive2 -= o * o }
        }
        let exact = ExactWindow(values: window[...])
        #expect(abs(stats.variance - exact.variance) <= 1e-9 * exact.variance)
        #expect(abs(stats.mean - exact.mean) <= 4 * Double.ulpOfOne * exact.mean)
        let naiveVariance = (naive2 - naive1 * naive1 / 256) / 255
        #expect(abs(naiveVariance - exact.variance) > exact.variance, "naive sums lose the noise entirely (the reason for the shift)")
    }

    @Test func aWindowThatBecameConstantHasVarianceExactlyZeroAfterOneRecompute() {
        let stats = RollingStatistics(capacity: 256)
        var random = TestRandom(state: 10)
        for i in 0..<1000 { stats.add(random.normal() * 1e6, at: Double(i)) }
        for i in 1000..<(1000 + 3 * 256) { stats.add(1.8e9 + 0.5, at: Double(i)) }
        #expect(stats.variance == 0)
        #expect(stats.mean == 1.8e9 + 0.5)
        #expect(stats.min == stats.max)
    }

    @Test func timeWindowEmptiesWhenTimeAdvancesWithoutSamplesAndReportsRateAndSilence() {
        let stats = RollingStatistics(capacity: 1024, span: 60)
        for i in 0..<100 { stats.add(20 + Double(i % 2), at: 1000 + Double(i) * 0.5) }
        #expect(stats.count == 100)
        #expect(abs(stats.rate - 2) < 1e-9)
        #expect(stats.lastInterval == 0.5)
        #expect(stats.timeSinceLastSample(at: 1100) == 1100 - 1049.5)
        stats.advance(to: 1049.5 + 30)
        #expect(stats.count == 60)   // samples newer than 1019.5
        stats.advance(to: 1049.5 + 60)
        #expect(stats.count == 0)
        #expect(stats.mean.isNaN && stats.min.isNaN && stats.max.isNaN)
        #expect(stats.variance == 0)
        stats.add(7, at: 1200)
        #expect(stats.mean == 7 && stats.min == 7 && stats.max == 7 && stats.count == 1)
    }

    @Test func nonFiniteValuesAreRefusedAndCounted() {
        let stats = RollingStatistics(capacity: 8)
        stats.add(1, at: 0)
        stats.add(.nan, at: 1)
        stats.add(.infinity, at: 2)
        stats.add(3, at: 3)
        #expect(stats.count == 2 && stats.rejected == 2 && stats.mean == 2 && stats.max == 3)
    }

    @Test func aClockStepBackwardsKeepsTheWindowAndItsStatistics() {
        let stats = RollingStatistics(capacity: 64, span: 10)
        for i in 0..<20 { stats.add(Double(i), at: 1_000_000 + Double(i)) }
        let before = (stats.count, stats.mean)
        stats.add(100, at: 5)   // the clock went back to 1970
        #expect(stats.count == before.0 + 1)
        #expect(stats.max == 100)
        #expect(stats.timeSinceLastSample(at: 6) == 1)
    }
}
