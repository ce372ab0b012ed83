import CareSupport

/// The time windows around a candidate impact at `tp` (seconds; any sampling rate) from which its features are
/// computed. The model coefficients were fitted with these values (tools/fall/features.py `DEFAULT`): change them
/// only together with a refit.
public struct FallWindows: Sendable, Equatable {
    /// A candidate impact: |a| at or above the placement's trigger (g). The largest |a| among such samples, merged
    /// while each next one comes within `merge` s of the current peak, is the impact `tp`.
    public var merge = 0.5
    /// Posture before: the mean acceleration vector over `[tp - preFrom, tp - preTo)`.
    public var preFrom = 2.5
    public var preTo = 1.0
    /// Posture and activity after: `(tp + postFrom, tp + postTo]`; the decision is made at the first sample after
    /// `tp + postTo` (so 2.5 s after the impact, well inside the 4 s contract).
    public var postFrom = 1.0
    public var postTo = 2.5
    /// Free fall before the impact: ∫ max(0, 1 - |a|) dt over `[tp - dipSpan, tp]` (g·s).
    public var dipSpan = 1.0
    /// Impact energy: ∫ | |a| - 1 | dt over `[tp - areaSpan, tp + areaSpan]` (g·s).
    public var areaSpan = 0.5
    /// The dt of a sample is the time since the previous one, at most this (a BLE gap is not a free fall).
    public var dtCap = 0.1
    /// Each posture window needs at least this many samples, else the candidate is dropped (data lost).
    public var minWindowSamples = 4
    /// Cheap gates before the model: the gravity direction turned at least `gateAngle` degrees and the body is
    /// fairly still afterwards (standard deviation of |a| below `gatePostStd` g, mean | |a| - 1 | below
    /// `gatePostDev` g).
    public var gateAngle = 20.0
    public var gatePostStd = 0.5
    public var gatePostDev = Double.infinity
    /// Earlier postures (0: not used): the smallest angle between the posture after and the mean acceleration
    /// vector of any 1 s posture block (`FallUprightLearning.block`; ≥ 4 samples, spanning ≤ 1.5 block) that starts
    /// at or after `tp - historySeconds` and ends at or before `tp - historyMargin`, or of the posture before (held
    /// before too; right after the stream starts it is the only one known).
    public var historySeconds = 0.0
    public var historyMargin = 0.5
    /// Gate (with a history): the posture after differs from every earlier one by at least this many degrees (an
    /// arm that rests exactly as before did not fall: a knock, a tap on the sensor). Applied when deciding only; the
    /// model was fitted on the candidates below it too.
    public var gateEarlierAngle = 0.0

    public init() {}

    /// The wrist (tools/fall/features.py `WRIST`): no turn gate (the earlier-posture angle says more at the
    /// wrist), the arm at rest after (mean | |a| - 1 | < 0.5 g), 10 s of earlier postures, and a posture after at
    /// least 5° from each of them and from the posture before.
    public static var wrist: FallWindows {
        var w = FallWindows()
        w.gateAngle = 0
        w.gatePostStd = .infinity
        w.gatePostDev = 0.5
        w.historySeconds = 10
        w.gateEarlierAngle = 5
        return w
    }

    /// How far back a decision looks (s).
    var lookBack: Double { max(preFrom, dipSpan, areaSpan) }
}

/// What a candidate impact looked like (see `FallWindows`); angles in degrees, magnitudes in g.
public struct FallFeatures: Sendable, Equatable {
    public var impactTime: Double
    public var peak: Double
    public var angle: Double
    public var postStd: Double
    public var postDev: Double
    public var dip: Double
    public var preStd: Double
    public var area: Double
    /// Tilt of the posture before / after from the learned upright direction (nil: not learned yet, or a wrist).
    public var preTilt: Double?
    public var postTilt: Double?
    /// The smallest angle between the posture after and an earlier posture (`FallWindows.historySeconds`; nil when
    /// not used).
    public var earlierAngle: Double? = nil
}

/// A logistic fall model: `score = b + Σ wᵢ·xᵢ`, a fall when `score >= threshold`. Inputs `x` (`Inputs`):
/// - `body` (waist): 1 ln(peak), 2 angle/90, 3 ln(postDev + 0.02), 4 10·dip, 5 ln(preStd + 0.02), 6 2·area, and for
///   the model that uses the learned upright direction 7 max(0, preTilt - 45)/45 (already lying before: not a fall)
///   and 8 min(postTilt, 75)/75 (lying after);
/// - `wrist`: 1 min(earlierAngle, 90)/90 (the arm rests in a posture it did not hold in the 10 s before: lying;
///   not hands lowered after clapping, raising them or a call), 2 ln(preStd + 0.02) (busy before: clapping, hopping,
///   jogging), 3 2·area (impact energy), 4 ln(postDev + 0.02) (the arm at rest after).
/// Fitted by tools/fall (L2-regularised logistic regression on the odd SisFall / UMAFall subjects' candidates,
/// leave-one-subject-out cross-validated; see docs in FallDetector).
public struct FallModel: Sendable, Equatable {
    public enum Inputs: Sendable, Equatable { case body, wrist }
    public var name: String
    public var trigger: Double
    public var weights: [Double]
    public var intercept: Double
    public var threshold: Double
    public var inputs: Inputs = .body

    public var usesUpright: Bool { inputs == .body && weights.count == 8 }

    /// Waist (belt), with the learned upright direction. SisFall odd subjects, 200 Hz and 50 Hz candidates.
    public static let waistUpright = FallModel(
        name: "waist-upright", trigger: 1.8,
        weights: [2.4759, 3.8205, 0.1904, 0.8189, 1.2259, 3.3369, -3.7622, 4.3977], intercept: -6.4858, threshold: 0)
    /// Waist before the upright direction is learned (the first minute of walking after the sensor is worn).
    public static let waist = FallModel(
        name: "waist", trigger: 1.8,
        weights: [2.3994, 5.5111, 0.3797, 0.4991, 1.2005, 5.6472], intercept: -5.3073, threshold: 0)
    /// Wrist (with `FallWindows.wrist`). UMAFall odd subjects (~20 Hz, irregular). The arm turns and claps: the
    /// turn says little here; whether it comes to rest in a new posture says more.
    public static let wrist = FallModel(
        name: "wrist", trigger: 2.2,
        weights: [4.0445, -0.9266, 1.4041, -1.7938], intercept: -9.3672, threshold: -0.25, inputs: .wrist)

    @inlinable
    public func score(_ f: FallFeatures) -> Double {
        var s = intercept
        if inputs == .wrist {
            s += weights[0] * min(f.earlierAngle ?? 90, 90) / 90
            s += weights[1] * log(f.preStd + 0.02)
            s += weights[2] * 2 * f.area
            s += weights[3] * log(f.postDev + 0.02)
            return s
        }
        s += weights[0] * log(f.peak)
        s += weights[1] * f.angle / 90
        s += weights[2] * log(f.postDev + 0.02)
        s += weights[3] * 10 * f.dip
        s += weights[4] * log(f.preStd + 0.02)
        s += weights[5] * 2 * f.area
        if weights.count == 8 {
            s += weights[6] * max(0, (f.preTilt ?? 30) - 45) / 45
            s += weights[7] * min(f.postTilt ?? 90, 75) / 75
        }
        return s
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
