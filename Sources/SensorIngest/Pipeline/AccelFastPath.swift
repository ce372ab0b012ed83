/// The zero-copy, allocation-free decoder for `accel` batches on the hot path:
/// `{"t0": s, "hz": r, "unit": "g"|"m/s2", "x": [...], "y": [...], "z": [...]}`, the irregular form with `"t": [...]`
/// and the single sample `{"t": s, "x": n, "y": n, "z": n}`, keys in any order, unknown keys skipped.
///
/// It is an accelerator, not a second definition of the format: whatever it does not accept (SenML, Edge Impulse,
/// escapes in keys, malformed input) it declines, and the caller runs the general `AccelDecoder`, which is the
/// reference (a test checks both give the same samples on every fixture and generated batch).
public final class AccelFastPath: @unchecked Sendable {
    // @unchecked Sendable: scratch buffers owned by the one thread that feeds a pipeline.
    public let x = DoubleScratch()
    public let y = DoubleScratch()
    public let z = DoubleScratch()
    public let t = DoubleScratch()

    /// Timing of a decoded batch: sample i is at `t0 + i / hz`, or at `t[i]` when `explicitTimes`.
    public struct Batch: Sendable {
        public var count: Int
        public var t0: Double
        public var hz: Double
        public var explicitTimes: Bool
        public var scale: Double
        /// 1 / hz: sample i is at t0 + i × period (a multiplication per sample instead of a division; the
        /// difference is below a nanosecond).
        public var period: Double
        @inlinable init(count: Int, t0: Double, hz: Double, explicitTimes: Bool, scale: Double) {
            self.count = count; self.t0 = t0; self.hz = hz; self.explicitTimes = explicitTimes; self.scale = scale
            self.period = hz > 0 ? 1 / hz : 0
        }
    }

    /// 10^0 … 10^22, exact in binary64, owned by this instance (no global: no lazy initialisation per call).
    @usableFromInline let powersOfTen: UnsafeMutablePointer<Double>

    public init() {
        powersOfTen = .allocate(capacity: 23)
        var v = 1.0
        for e in 0...22 { powersOfTen[e] = v; v *= 10 }
    }

    deinit { powersOfTen.deallocate() }

    public static let standardGravity = 9.80665

    /// Decodes `payload` into the scratch axes; nil when the payload is not a plain accel batch (fall back).
    @inlinable
    public func scan(_ payload: UnsafeRawBufferPointer) -> Batch? {
        x.count = 0; y.count = 0; z.count = 0; t.count = 0
        var s = ByteScanner(payload)
        guard s.expect(UInt8(ascii: "{")) else { return nil }
        var t0 = Double.nan, hz = Double.nan, scale = 1.0
        var haveX = false, haveY = false, haveZ = false, haveTArray = false, single = false
        var singleX = 0.0, singleY = 0.0, singleZ = 0.0, singleT = Double.nan
        if s.expect(UInt8(ascii: "}")) { return nil }
        while true {
            guard let key = s.plainString(), s.expect(UInt8(ascii: ":")) else { return nil }
            if s.equals(key, "x") || s.equals(key, "y") || s.equals(key, "z") {
                let axis = s.p[key.lowerBound]
                let out = axis == UInt8(ascii: "x") ? x : axis == UInt8(ascii: "y") ? y : z
                if s.peek() == UInt8(ascii: "[") {
                    guard s.numberArray(into: out, powersOfTen: powersOfTen) else { return nil }
                } else {
                    guard let v = s.number() else { return nil }
                    single = true
                    if axis == UInt8(ascii: "x") { singleX = v } else if axis == UInt8(ascii: "y") { singleY = v } else { singleZ = v }
                }
                if axis == UInt8(ascii: "x") { haveX = true } else if axis == UInt8(ascii: "y") { haveY = true } else { haveZ = true }
            } else if s.equals(key, "t0") {
                guard let v = s.number() else { return nil }
                t0 = v
            } else if s.equals(key, "hz") {
                guard let v = s.number() else { return nil }
                hz = v
            } else if s.equals(key, "t") {
                if s.peek() == UInt8(ascii: "[") {
                    guard s.numberArray(into: t, powersOfTen: powersOfTen) else { return nil }
                    haveTArray = true
                } else {
                    guard let v = s.number() else { return nil }
                    singleT = v
                }
            } else if s.equals(key, "unit") {
                guard let u = s.plainString() else { return nil }
                if s.equals(u, "g") { scale = 1 }
                else if s.equals(u, "m/s2") || s.equals(u, "m/s^2") { scale = 1 / AccelFastPath.standardGravity }
                else { return nil }
            } else {
                guard s.skipValue() != nil else { return nil }
            }
            if s.expect(UInt8(ascii: ",")) { continue }
            if s.expect(UInt8(ascii: "}")) { break }
            return nil
        }
        s.skipSpace()
        guard s.atEnd, haveX, haveY, haveZ else { return nil }
        if single {
            guard x.count == 0, y.count == 0, z.count == 0, singleT.isFinite, !haveTArray else { return nil }
            x.append(singleX); y.append(singleY); z.append(singleZ)
            return Batch(count: 1, t0: singleT, hz: 1, explicitTimes: false, scale: scale)
        }
        let n = x.count
        guard n > 0, y.count == n, z.count == n else { return nil }
        if haveTArray {
            guard t.count == n, t0.isNaN, hz.isNaN else { return nil }
            return Batch(count: n, t0: t[0], hz: 0, explicitTimes: true, scale: scale)
        }
        guard t0.isFinite, hz >= 1, hz <= 2000 else { return nil }
        return Batch(count: n, t0: t0, hz: hz, explicitTimes: false, scale: scale)
    }

    /// The time of sample `i` of `batch`.
    @inlinable @inline(__always)
    public func time(of i: Int, in batch: Batch) -> Double {
        batch.explicitTimes ? t[i] : batch.t0 + Double(i) * batch.period
    }
}
