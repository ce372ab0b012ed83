import CareSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the learned upright direction of a body-worn sensor is found (tools/fall/upright.py is the reference):
/// blocks of `block` s; a block is walking-like when the standard deviation of |a| is within
/// `stdLow…stdHigh` g and its mean |a| within 1 ± `meanTolerance` g; after `needRun` consecutive walking-like
/// blocks whose mean vectors agree within `agreeDegrees`, the block's mean direction is blended into the estimate
/// with weight `weight`. The direction is trusted after `needUpdates` blends (≈ 7 s of walking).
public struct FallUprightLearning: Sendable, Equatable {
    public var block = 1.0
    public var stdLow = 0.08
    public var stdHigh = 1.5
    public var meanTolerance = 0.3
    public var needRun = 3
    public var agreeDegrees = 25.0
    public var weight = 0.2
    public var needUpdates = 5
    public init() {}
}

/// The low-impact path of a body-worn (waist) sensor (tools/fall/reference.py `LOW_IMPACT`): older people fall more
/// slowly and land more softly, and many such falls never reach the model's trigger. Candidates from this lower
/// `trigger` whose peak stays below the model's trigger are decided only once the upright direction is known, and
/// only when the body turned ≥ `gateAngle`°, lies still after (std of |a| < `gatePostStd` g), lies after (≥
/// `gatePostTilt`° from upright) and the upright model scores them ≥ its threshold + `margin`: hard sit-downs and
/// lying down on a bed mostly fail one of these.
public struct FallLowImpact: Sendable, Equatable {
    public var trigger = 1.4
    public var gateAngle = 60.0
    public var gatePostStd = 0.1
    public var gatePostTilt = 60.0
    public var margin = 0.5
    public init() {}
}

/// Everything a `FallTrack` needs besides its samples (one per placement, made once from the settings).
public struct FallTrackConfiguration: Sendable {
    public var windows = FallWindows()
    public var upright = FallUprightLearning()
    /// The model used while the upright direction is unknown (or never learned: the wrist).
    public var model: FallModel
    /// The model used once the upright direction is known; nil: never learn it.
    public var uprightModel: FallModel?
    /// Candidates below the model's trigger, decided with the upright model only (nil: none; the wrist).
    public var lowImpact: FallLowImpact?
    /// A gap longer than this (or any step back in time) restarts the stream: the recent samples are dropped.
    public var maxGapSeconds = 5.0
    /// No second fall within this many seconds of one.
    public var refractorySeconds = 30.0
    /// Still no sign of getting up this long after the impact: raise again ("still lying").
    public var stillLyingSeconds = 30.0
    /// Watch for getting up (or lying on) this long after the impact.
    public var watchSeconds = 300.0
    /// Getting up: walking-like movement (the upright learning's `needRun` blocks) with the trunk within this many
    /// degrees of upright when that direction is known.
    public var gotUpTiltDegrees = 40.0

    public init(model: FallModel, uprightModel: FallModel?) {
        self.model = model
        self.uprightModel = uprightModel
    }
}

/// The mean acceleration vector of one posture block (an upright-learning block of `FallUprightLearning.block` s)
/// and when it started and closed.
struct FallPostureBlock {
    var start: Double
    var end: Double
    var x: Double, y: Double, z: Double
}

/// What one sample led to.
public enum FallEvent: Equatable, Sendable {
    case none
    /// A fall: its features, score and model are in the track's `lastFall` (kept there so that the per-sample
    /// result stays a few bytes: a payload of features made every sample copy ~130 bytes).
    case fall
    /// Still no getting up `stillLyingSeconds` after the impact at `impactTime`.
    case stillLying(impactTime: Double)
    /// Walking again after the impact at `impactTime`.
    case gotUp(impactTime: Double)
}

/// What the last fall decision saw (read by the detector when `process` returned `.fall`).
public struct FallDecision: Sendable, Equatable {
    public var features: FallFeatures
    public var score: Double
    public var uprightModel: Bool
}

/// The fall state machine of one accelerometer signal: a pure value fed samples in time order, returning what to
/// emit (habit 6). Allocation happens only in `init` (the ring); `release()` frees it.
///
/// Per sample: |a|, the ring, the upright blocks, the candidate impact and the decisions that fall due. A decision
/// (rare: candidates need |a| ≥ the trigger) walks the ring back over the windows once.
public struct FallTrack {
    let config: FallTrackConfiguration
    // Hot scalars copied out of `config` (the per-sample path reads no array and no class).
    /// What makes a candidate: the model's trigger, or the low-impact path's when lower.
    let trigger: Float
    /// The model's trigger: a candidate peaking below it takes the low-impact path.
    let impactTrigger: Float
    let merge: Double
    let decideAfter: Double
    let dtCap: Double
    let maxGap: Double
    let block: Double
    let learnsUpright: Bool

    var ring: FallSampleRing
    var lastTime = -Double.infinity

    // The candidate impact being merged, and those waiting for their decision (times of impacts, FIFO).
    var hasPending = false
    var pendingTime = 0.0
    var pendingPeak: Float = 0
    var queue: UnsafeMutablePointer<Double>
    static let queueCapacity = 16
    var queueHead = 0
    var queueCount = 0
    var suppressUntil = -Double.infinity

    // The current upright block and the learned direction.
    var blockStart = 0.0
    var blockN = 0
    var bx = 0.0, by = 0.0, bz = 0.0, ba = 0.0, baa = 0.0
    var prevX = 0.0, prevY = 0.0, prevZ = 0.0
    var run = 0
    var ux = 0.0, uy = 0.0, uz = 0.0
    var updates = 0

    // Earlier posture blocks (`FallWindows.historySeconds` > 0): start, end and mean vector of the last valid ones.
    let historySpan: Double
    var history: UnsafeMutablePointer<FallPostureBlock>
    static let historyCapacity = 16
    var historyHead = 0
    var historyCount = 0

    // After a fall: watching for getting up.
    var watching = false
    var impactTime = 0.0
    var stillLyingSent = false

    /// Sized for `maxRateHz` (samples beyond it only shorten the windows).
    public init(config: FallTrackConfiguration, maxRateHz: Double = 400) {
        self.config = config
        impactTrigger = Float(config.model.trigger)
        if let low = config.lowImpact, config.uprightModel != nil {
            trigger = min(impactTrigger, Float(low.trigger))
        } else {
            trigger = impactTrigger
        }
        merge = config.windows.merge
        decideAfter = config.windows.postTo
        dtCap = config.windows.dtCap
        maxGap = config.maxGapSeconds
        block = config.upright.block
        learnsUpright = config.uprightModel != nil
        let span = config.windows.lookBack + config.windows.postTo + 0.5
        ring = FallSampleRing(capacity: Int((maxRateHz * span).rounded(.up)))
        queue = .allocate(capacity: Self.queueCapacity)
        historySpan = config.windows.historySeconds
        history = .allocate(capacity: Self.historyCapacity)
    }

    /// Frees the ring and the queue (the owner calls it once, when it is done with the track).
    public func release() {
        ring.deallocate()
        queue.deallocate()
        history.deallocate()
    }

    /// Whether the upright direction is known.
    public var knowsUpright: Bool { learnsUpright && updates >= config.upright.needUpdates }

    /// Forgets the recent samples (a step back in time, a long gap); keeps the learned upright direction.
    mutating func restartStream() {
        ring.removeAll()
        lastTime = -.infinity
        hasPending = false
        queueCount = 0
        blockN = 0
        run = 0
        historyCount = 0
        watching = false
        suppressUntil = -.infinity
    }

    /// The features of the last `.fall` returned by `process`.
    public private(set) var lastFall: FallDecision?

    public mutating func process(_ s: Sample) -> FallEvent {
        let t = s.time
        if t < lastTime - 0.001 || t - lastTime > maxGap { restartStream() }
        let a = (s.x * s.x + s.y * s.y + s.z * s.z).squareRoot()
        let dt = lastTime.isFinite ? min(max(t - lastTime, 0), dtCap) : 0
        lastTime = t
        ring.push(FallRingEntry(time: t, x: s.x, y: s.y, z: s.z, magnitude: a, dt: Float(dt)))

        var event = FallEvent.none
        // Upright blocks (and getting up).
        if blockN > 0 && t >= blockStart + block {
            if closeBlock(at: t) { event = .gotUp(impactTime: impactTime) }
        }
        if blockN == 0 { blockStart = t; bx = 0; by = 0; bz = 0; ba = 0; baa = 0 }
        let xd = Double(s.x), yd = Double(s.y), zd = Double(s.z), ad = Double(a)
        bx += xd; by += yd; bz += zd; ba += ad; baa += ad * ad
        blockN += 1

        // Decisions that fell due.
        while queueCount > 0 {
            let tp = queue[queueHead]
            guard t > tp + decideAfter else { break }
            queueHead = (queueHead + 1) & (Self.queueCapacity - 1)
            queueCount -= 1
            if t < suppressUntil { continue }
            if event == .fall { continue }
            if let f = decide(tp, at: t) { event = f }
        }

        // The candidate impact.
        if hasPending && t - pendingTime >= merge {
            enqueue(pendingTime)
            hasPending = false
        }
        if a >= trigger && (!hasPending || a > pendingPeak) {
            hasPending = true
            pendingTime = t
            pendingPeak = a
        }

        // Lying on after a fall.
        if watching && event == .none {
            if t >= impactTime + config.watchSeconds {
                watching = false
            } else if !stillLyingSent && t >= impactTime + config.stillLyingSeconds {
                stillLyingSent = true
                event = .stillLying(impactTime: impactTime)
            }
        }
        return event
    }

    mutating func enqueue(_ tp: Double) {
        if queueCount == Self.queueCapacity {   // cannot happen with merge ≥ 0.2 s; drop the oldest
            queueHead = (queueHead + 1) & (Self.queueCapacity - 1)
            queueCount -= 1
        }
        queue[(queueHead + queueCount) & (Self.queueCapacity - 1)] = tp
        queueCount += 1
    }

    /// Closes the upright block at `t` (the first sample of the next one); true when it shows getting up.
    mutating func closeBlock(at t: Double) -> Bool {
        let p = config.upright
        let n = Double(blockN)
        let mx = bx / n, my = by / n, mz = bz / n, ma = ba / n
        let sd = max(0, baa / n - ma * ma).squareRoot()
        blockN = 0
        let valid = t - blockStart <= 1.5 * block && n >= 4
        if valid && historySpan > 0 {
            history[historyHead] = FallPostureBlock(start: blockStart, end: t, x: mx, y: my, z: mz)
            historyHead = (historyHead + 1) & (Self.historyCapacity - 1)
            historyCount = min(historyCount + 1, Self.historyCapacity)
        }
        let active = valid && sd >= p.stdLow && sd <= p.stdHigh && abs(ma - 1) <= p.meanTolerance
        if active && run > 0 {
            let c = Self.cosine(mx, my, mz, prevX, prevY, prevZ)
            run = c >= cos(p.agreeDegrees * .pi / 180) ? run + 1 : 1
        } else {
            run = active ? 1 : 0
        }
        prevX = mx; prevY = my; prevZ = mz
        guard run >= p.needRun else { return false }
        var gotUp = false
        if watching && blockStart > impactTime + decideAfter {
            gotUp = !knowsUpright || Self.degrees(Self.cosine(mx, my, mz, ux, uy, uz)) < config.gotUpTiltDegrees
            if gotUp { watching = false }
        }
        if learnsUpright {
            let norm = max((mx * mx + my * my + mz * mz).squareRoot(), 1e-9)
            let dx = mx / norm, dy = my / norm, dz = mz / norm
            if updates == 0 {
                ux = dx; uy = dy; uz = dz
            } else {
                let w = p.weight
                ux = (1 - w) * ux + w * dx; uy = (1 - w) * uy + w * dy; uz = (1 - w) * uz + w * dz
                let un = max((ux * ux + uy * uy + uz * uz).squareRoot(), 1e-9)
                ux /= un; uy /= un; uz /= un
            }
            updates += 1
        }
        return gotUp
    }

    static func cosine(_ ax: Double, _ ay: Double, _ az: Double, _ bx: Double, _ by: Double, _ bz: Double) -> Double {
        let d = (ax * ax + ay * ay + az * az).squareRoot() * (bx * bx + by * by + bz * bz).squareRoot()
        return (ax * bx + ay * by + az * bz) / max(d, 1e-9)
    }

    static func degrees(_ cosine: Double) -> Double { acos(min(1, max(-1, cosine))) * 180 / .pi }

    /// The features of the candidate at `tp`, from the ring (the newest entry is the sample at `now`, after the
    /// post window); nil when a window lacks samples or a gate fails.
    func features(_ tp: Double) -> FallFeatures? {
        let w = config.windows
        var postN = 0.0, postX = 0.0, postY = 0.0, postZ = 0.0, postA = 0.0, postAA = 0.0, postDev = 0.0
        var preN = 0.0, preX = 0.0, preY = 0.0, preZ = 0.0, preA = 0.0, preAA = 0.0
        var dip = 0.0, area = 0.0, peak = 0.0
        var postChecked = false
        let oldest = tp - w.lookBack
        for k in 0..<ring.count {
            let e = ring.back(k)
            let t = e.time
            if t < oldest { break }
            let a = Double(e.magnitude)
            if t > tp + w.postFrom {
                if t <= tp + w.postTo {
                    postN += 1; postX += Double(e.x); postY += Double(e.y); postZ += Double(e.z)
                    postA += a; postAA += a * a; postDev += abs(a - 1)
                }
                continue
            }
            if !postChecked {
                postChecked = true
                guard postN >= Double(w.minWindowSamples) else { return nil }
                let m = postA / postN
                guard max(0, postAA / postN - m * m).squareRoot() < w.gatePostStd,
                      postDev / postN < w.gatePostDev else { return nil }
            }
            if t >= tp - w.preFrom && t < tp - w.preTo {
                preN += 1; preX += Double(e.x); preY += Double(e.y); preZ += Double(e.z); preA += a; preAA += a * a
            }
            if t <= tp && t >= tp - w.dipSpan { dip += max(0, 1 - a) * Double(e.dt) }
            if t >= tp - w.areaSpan && t <= tp + w.areaSpan { area += abs(a - 1) * Double(e.dt) }
            if t == tp { peak = max(peak, a) }
        }
        guard postChecked, preN >= Double(w.minWindowSamples), peak > 0 else { return nil }
        let angle = Self.degrees(Self.cosine(preX, preY, preZ, postX, postY, postZ))
        guard angle >= w.gateAngle else { return nil }
        let postMean = postA / postN, preMean = preA / preN
        var f = FallFeatures(
            impactTime: tp, peak: peak, angle: angle,
            postStd: max(0, postAA / postN - postMean * postMean).squareRoot(), postDev: postDev / postN,
            dip: dip, preStd: max(0, preAA / preN - preMean * preMean).squareRoot(), area: area,
            preTilt: nil, postTilt: nil)
        if knowsUpright {
            f.preTilt = Self.degrees(Self.cosine(preX, preY, preZ, ux, uy, uz))
            f.postTilt = Self.degrees(Self.cosine(postX, postY, postZ, ux, uy, uz))
        }
        if historySpan > 0 {
            // The posture before counts as an earlier one (right after a restart it is the only one known).
            var best = angle
            for k in 0..<historyCount {
                let b = history[(historyHead - 1 - k) & (Self.historyCapacity - 1)]
                guard b.start >= tp - historySpan else { break }   // older still: all earlier blocks are too
                guard b.end <= tp - w.historyMargin else { continue }
                let a = Self.degrees(Self.cosine(b.x, b.y, b.z, postX, postY, postZ))
                if a < best { best = a }
            }
            guard best >= w.gateEarlierAngle else { return nil }
            f.earlierAngle = best
        }
        return f
    }

    /// Decides the candidate at `tp` at time `now`; a fall starts the watch.
    mutating func decide(_ tp: Double, at now: Double) -> FallEvent? {
        guard let f = features(tp) else { return nil }
        let upright = knowsUpright
        var margin = 0.0
        if f.peak < Double(impactTrigger) {
            // The low-impact path: lying still in a new posture, judged with the upright direction.
            guard upright, let low = config.lowImpact, f.angle >= low.gateAngle, f.postStd < low.gatePostStd,
                  let post = f.postTilt, post >= low.gatePostTilt else { return nil }
            margin = low.margin
        }
        let model = upright ? config.uprightModel! : config.model
        let score = model.score(f)
        guard score >= model.threshold + margin else { return nil }
        suppressUntil = now + config.refractorySeconds
        queueCount = 0
        watching = true
        impactTime = tp
        stillLyingSent = false
        lastFall = FallDecision(features: f, score: score, uprightModel: upright)
        return .fall
    }
}
