import CareSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Falls from a wearable accelerometer (`acceleration` signals), at the wrist or at the waist, at any rate from 20
/// to 200 Hz with irregular timing and gaps, in any mounting orientation.
///
/// ## Rule
/// Per signal, a streaming state machine (`FallTrack`) on |a| and on the direction of the gravity vector — never on
/// a fixed axis:
/// 1. **Candidate impact**: |a| ≥ the placement's trigger (waist 1.8 g — 1.4 g for the low-impact path below — wrist
///    2.2 g); the largest such sample, while each next one comes within 0.5 s, is the impact at `tp`.
/// 2. **Decision** at the first sample after `tp + 2.5 s` (so the detection comes 2.5 s after the impact, well
///    inside the 4 s contract), from time windows (`FallWindows`; seconds, not samples): the posture before
///    (mean acceleration vector over [tp-2.5, tp-1.0) s) and after ((tp+1.0, tp+2.5] s) and the angle between
///    them; the stillness after (std and mean deviation from 1 g of |a|); the free fall before (∫max(0, 1-|a|)dt
///    over the last second); the impact energy (∫| |a|-1 |dt over ±0.5 s); the activity before (std of |a|).
///    Gates: the gravity direction turned ≥ 20° and the std of |a| after is < 0.5 g. Then a logistic model
///    (`FallModel`, coefficients fitted by tools/fall and hard-coded there) scores it; a fall when the score ≥ the
///    model's threshold.
///    **Wrist** (`FallWindows.wrist`): the arm swings and claps, so the turn says little; what says more is whether
///    it comes to rest in a *new* posture. The track keeps the mean vectors of its last 1 s posture blocks (those of
///    step 3); the earlier-posture angle is the smallest angle between the posture after and any block of
///    [tp-10, tp-0.5] s or the posture before: a fallen arm lies in a posture it did not hold before, hands lowered
///    after clapping, raising them or a phone call return to one they held seconds earlier. Gates: mean | |a|-1 |
///    after < 0.5 g and that angle ≥ 5° (so the turn too; no larger turn gate). Model inputs: that angle, the
///    activity before (clapping, hopping, jogging), the impact energy and the stillness after.
///    **Low-impact path** (body-worn sensors, `FallLowImpact`): older people fall more slowly and land more softly,
///    and many such falls never reach 1.8 g. A candidate from `waistLowTriggerG` (1.4 g) whose peak stays below the
///    trigger is decided only with the upright direction known, and is a fall only when the body turned ≥ 60°, the
///    std of |a| after is < 0.1 g, the posture after is ≥ 60° from upright (lying) and the upright model scores it
///    ≥ its threshold + 0.5 (the same model and inputs; its coefficients were fitted on the ≥ 1.8 g candidates only).
///    What it finds and costs: `tools/fall/README.md` (leave-one-subject-out, `python3 tools/fall/loso.py`).
/// 3. **Upright** (body-worn sensors only): the mean direction of gravity during sustained walking is learned
///    online (`FallUprightLearning`, ≈ 7 s of walking); once known, the model also uses how far from upright the
///    body was before (already lying, e.g. turning over in bed: not a fall) and after (lying).
/// 4. **After a fall** (`raised`, severity critical, `detail.phase` `impact`): if there is no walking-like movement
///    within `stillLyingSeconds` a second `raised` follows (`phase` `still-lying`, critical: the escalation groups
///    it with the first and keeps the highest severity); walking again (≥ 3 s of walking-like movement, upright when
///    the direction is known) within `watchSeconds` emits `raised` with severity warning (`phase` `got-up`): she
///    is moving again, but she fell and someone should still check. (A fall pages at once with the kind's default
///    severity, so "still lying" cannot raise it further: it adds the evidence; getting up lowers it. The
///    escalation's self-cancel window is separate.) No second fall is raised within `refractorySeconds`.
/// 5. **Time**: a step back in time or a gap over `maxGapSeconds` restarts the stream (nothing fires from samples
///    on either side; the learned upright direction is kept); the still-lying check runs on samples only (a silent
///    wristband is the sensor-health detector's to report).
///
/// Placement (`SignalInfo.placement`, the source's `placement`): `wrist` uses the wrist model; every other
/// placement (waist, hip, chest, back, pendant, pocket, thigh…) and none use the waist models, unless
/// `defaultPlacement` says `wrist` for sources without one.
///
/// ## Parameters (`detectors.fall`, defaults in brackets)
/// - `waistTriggerG` [1.8], `wristTriggerG` [2.2]: |a| that makes a candidate impact (g).
/// - `waistLowTriggerG` [1.4]: |a| that makes a low-impact candidate at the waist (g; the gates above; at or above
///   `waistTriggerG`: no low-impact path).
/// - `waistThreshold` [0], `wristThreshold` [-0.25]: the logistic score at or above which a candidate is a fall
///   (higher: fewer false alarms, more missed falls).
/// - `learnUpright` [true]: learn the upright direction of body-worn sensors.
/// - `stillLyingSeconds` [30], `watchSeconds` [300], `refractorySeconds` [30], `maxGapSeconds` [5].
/// - `defaultPlacement` [`waist`]: `waist` or `wrist`, for sources without a `placement`.
///
/// Leave-one-subject-out figures (odd subjects of the tuning sets): see `tools/fall/README.md`.
///
/// Hot path: one `FallTrack` per accepted signal, inline in an array indexed by a slot table; its ring (sized for
/// 400 Hz × 5.5 s) and its 16 posture blocks are allocated in `accepts` and freed in `deinit`; `process` does not allocate, lock or log.
public final class FallDetector: Detector {
    public static let name = "fall"
    public static let kinds: [DetectionKind] = [.fall]

    let context: DetectorContext
    let waist: FallTrackConfiguration
    let wrist: FallTrackConfiguration
    let defaultWrist: Bool

    var tracks: [FallTrack] = []
    var trackSignal: [SignalID] = []
    var trackPlacement: [String] = []
    var slotOfSignal = SignalSlots()

    public static let settingKeys = ["waistTriggerG", "waistLowTriggerG", "wristTriggerG", "waistThreshold", "wristThreshold",
                                     "learnUpright", "stillLyingSeconds", "watchSeconds", "refractorySeconds",
                                     "maxGapSeconds", "defaultPlacement"]

    public static func make(_ settings: JSONObject?, _ path: String, _ context: DetectorContext) throws(DetectorConfigurationError) -> any Detector {
        var r = SettingsReader(settings, path: path)
        var waistModel = FallModel.waist, uprightModel = FallModel.waistUpright, wristModel = FallModel.wrist
        let waistTrigger = r.number("waistTriggerG", default: waistModel.trigger, range: 1.1...16)
        waistModel.trigger = waistTrigger; uprightModel.trigger = waistTrigger
        var lowImpact = FallLowImpact()
        lowImpact.trigger = r.number("waistLowTriggerG", default: lowImpact.trigger, range: 1.1...16)
        wristModel.trigger = r.number("wristTriggerG", default: wristModel.trigger, range: 1.1...16)
        let waistThreshold = r.number("waistThreshold", default: 0, range: -20...20)
        waistModel.threshold = waistThreshold; uprightModel.threshold = waistThreshold
        wristModel.threshold = r.number("wristThreshold", default: wristModel.threshold, range: -20...20)
        let learn = r.bool("learnUpright", default: true)
        let stillLying = r.number("stillLyingSeconds", default: 30, range: 5...3600)
        let watch = r.number("watchSeconds", default: 300, range: 10...86400)
        let refractory = r.number("refractorySeconds", default: 30, range: 3...3600)
        let maxGap = r.number("maxGapSeconds", default: 5, range: 1...60)
        var defaultWrist = false
        if let v = r.object["defaultPlacement"], !v.isNull {
            switch v.stringValue {
            case "waist"?: defaultWrist = false
            case "wrist"?: defaultWrist = true
            default: r.issues.append(.init(path: "\(path).defaultPlacement", message: "expected \"waist\" or \"wrist\""))
            }
        }
        r.rejectUnknown(settingKeys)
        try r.finish()
        func configuration(_ model: FallModel, _ upright: FallModel?) -> FallTrackConfiguration {
            var c = FallTrackConfiguration(model: model, uprightModel: upright)
            if model.inputs == .wrist { c.windows = .wrist } else { c.lowImpact = lowImpact }
            c.stillLyingSeconds = stillLying; c.watchSeconds = watch
            c.refractorySeconds = refractory; c.maxGapSeconds = maxGap
            return c
        }
        return FallDetector(context: context, waist: configuration(waistModel, learn ? uprightModel : nil),
                            wrist: configuration(wristModel, nil), defaultWrist: defaultWrist)
    }

    init(context: DetectorContext, waist: FallTrackConfiguration, wrist: FallTrackConfiguration, defaultWrist: Bool) {
        self.context = context
        self.waist = waist
        self.wrist = wrist
        self.defaultWrist = defaultWrist
    }

    deinit {
        for t in tracks { t.release() }
    }

    public func accepts(_ signal: SignalInfo) -> Bool {
        guard signal.kind == .acceleration else { return false }
        guard slotOfSignal.slot(of: signal.id) == nil else { return true }
        let isWrist = signal.placement.map { $0 == "wrist" } ?? defaultWrist
        slotOfSignal.assign(signal.id, slot: tracks.count)
        tracks.append(FallTrack(config: isWrist ? wrist : waist))
        trackSignal.append(signal.id)
        trackPlacement.append(signal.placement ?? (defaultWrist ? "wrist" : "waist"))
        return true
    }

    public func process(_ sample: Sample) {
        guard let slot = slotOfSignal.slot(of: sample.signal) else { return }
        let event = tracks[slot].process(sample)
        if event != .none { emit(event, slot: slot, time: sample.time) }
    }

    /// Consecutive samples of one signal (see `DetectorEngine.process(_:)`): the slot is looked up once.
    public func process(_ run: UnsafeBufferPointer<Sample>) {
        guard let first = run.first, let slot = slotOfSignal.slot(of: first.signal) else { return }
        for sample in run {
            let event = tracks[slot].process(sample)
            if event != .none { emit(event, slot: slot, time: sample.time) }
        }
    }

    public func advance(to time: Double) {}

    /// Slow path: a detection (rare).
    func emit(_ event: FallEvent, slot: Int, time: Double) {
        var d = JSONObject()
        let state: DetectionState
        var severity: Severity? = nil
        switch event {
        case .none:
            return
        case .fall:
            guard let decision = tracks[slot].lastFall else { return }
            let (f, score, upright) = (decision.features, decision.score, decision.uprightModel)
            state = .raised
            d["phase"] = "impact"
            d["impactTime"] = .string(Timestamp.rfc3339(f.impactTime))
            d["placement"] = .string(trackPlacement[slot])
            d["peakG"] = .number(Self.round(f.peak, 2))
            d["turnDegrees"] = .number(Self.round(f.angle, 0))
            d["stillnessG"] = .number(Self.round(f.postStd, 3))
            d["freeFallGs"] = .number(Self.round(f.dip, 3))
            if let post = f.postTilt { d["tiltAfterDegrees"] = .number(Self.round(post, 0)) }
            if let e = f.earlierAngle { d["newPostureDegrees"] = .number(Self.round(e, 0)) }
            d["model"] = .string(upright ? "waist-upright" : (tracks[slot].config.model.name))
            d["score"] = .number(Self.round(score, 2))
            d["summary"] = .string("possible fall: an impact of \(JSONWriter.format(Self.round(f.peak, 1))) g, the body turned \(Int(f.angle.rounded()))° and lies still")
        case .stillLying(let impact):
            state = .raised
            d["phase"] = "still-lying"
            d["impactTime"] = .string(Timestamp.rfc3339(impact))
            d["lyingSeconds"] = .number(Self.round(time - impact, 0))
            d["summary"] = .string("still no sign of getting up \(Int((time - impact).rounded())) s after a fall")
        case .gotUp(let impact):
            // Getting up lowers the severity; it does not end the incident: she fell, and someone should still
            // check on her (the escalation decides; only a person's answer or a responder closes it).
            state = .raised
            severity = .warning
            d["phase"] = "got-up"
            d["impactTime"] = .string(Timestamp.rfc3339(impact))
            d["afterSeconds"] = .number(Self.round(time - impact, 0))
            d["summary"] = .string("walking again \(Int((time - impact).rounded())) s after a fall")
        }
        context.emit(context.detection(.fall, state, time: time, signal: trackSignal[slot], severity: severity, detail: d))
    }

    static func round(_ v: Double, _ digits: Int) -> Double {
        let p = pow(10, Double(digits))
        return (v * p).rounded() / p
    }
}
