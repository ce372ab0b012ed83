import CareSupport

/// Fixed, per-person limits on what sensors measure: a cold or hot home, vital signs out of range, an appliance left
/// on. Every rule has hysteresis (it clears at a level on the safe side of the one that raised it) and a minimum
/// duration (a passing reading raises nothing). The limits are per person: each person's config has its own
/// `detectors.thresholds` section.
///
/// Rules (parameters under `detectors.thresholds`, defaults in brackets):
/// - **`cold-home`** [warning, home-level]: a room's temperature stays below `coldBelow` [16 °C] for
///   `temperatureMinimumSeconds` [1800]; cleared once every cold room stayed at or above `coldClearAt` [17 °C] for
///   `temperatureClearSeconds` [600]. UK guidance for older people (UKHSA "Cold weather and health", Age UK): keep
///   the home at 18 °C or more; below 16 °C breathing problems rise, below 12 °C blood pressure and heart risk.
/// - **`hot-home`** [warning, home-level]: a room stays above `hotAbove` [28 °C] for `temperatureMinimumSeconds`;
///   cleared at or below `hotClearAt` [27 °C] for `temperatureClearSeconds` (UKHSA "Beat the heat": indoor
///   temperatures above 26–28 °C put older people at risk).
///   Room temperatures are the `temperature` signals of devices that are not wearables (no `placement`) and whose
///   name has none of `temperatureIgnoreWords` [fridge, freezer, outdoor, outside, garden]. The two kinds are about
///   the home: raised once when the first room crosses, cleared when no room is still over; `detail.room` names the
///   sensor, with its temperature and the limit.
/// - **`vital-out-of-range`** [warning, per device]: heart rate below `heartRateLow` [40 bpm] (cleared at
///   `heartRateLowClear` [45]) or above `heartRateHigh` [130 bpm] (cleared at `heartRateHighClear` [120]) for
///   `heartRateMinimumSeconds` [600]; SpO₂ below `spo2Low` [90 %] (cleared at `spo2Clear` [92 %]) for
///   `spo2MinimumSeconds` [300]; cleared after `vitalClearSeconds` [120] back in range. Readings below
///   `heartRateValidMin` [25 bpm] or `spo2ValidMin` [50 %] are a sensor without skin contact, not a vital sign:
///   ignored. One detection per device: raised by the first vital out of range, cleared when all are back.
/// - **`appliance-left-on`** [warning, per device]: an appliance is in use for longer than its limit. Appliances are
///   the `appliance_on` and `power` signals of devices whose name contains a word (or is a full name) listed in
///   `applianceLimits` (seconds; merged over the defaults [kettle 900, hob 3600, cooktop 3600, stove 3600,
///   cooker 7200, oven 7200]; 0 turns one off), e.g. `"applianceLimits": {"kitchen plug 2": 1800}`. A device that
///   reports power is on while above `applianceOnWatts` [5 W] (a plug left switched on with the kettle off draws
///   nothing); otherwise its on/off state counts. Thermostats cycle: an appliance off for less than
///   `applianceOffGraceSeconds` [300] is still in use. Cleared when it has been off for that grace time.
/// - Common: a value older than `staleSeconds` [10800] raises nothing (a silent sensor is the health detector's
///   job), and a reading after such a silence restarts the wait. Time that jumps forward by more than
///   `staleSeconds` at once (an NTP step after a boot without a real-time clock, a gap in a capture) was not
///   watched: every wait and appliance episode restarts; a time that goes backwards restarts the waits too. Neither
///   fires anything.
///
/// Hot path: per-signal slots in dense arrays sized by `accepts`; the arrays are `@exclusivity(unchecked)` (no
/// dynamic exclusivity check per sample): safe because only the detector thread uses a detector and no method
/// re-enters another while it modifies them.
public final class ThresholdDetector: Detector {
    public static let name = "thresholds"
    public static let kinds: [DetectionKind] = [.coldHome, .hotHome, .vitalOutOfRange, .applianceLeftOn]

    public struct Settings: Sendable {
        public var coldBelow = 16.0, coldClearAt = 17.0, hotAbove = 28.0, hotClearAt = 27.0
        public var temperatureMinimumSeconds = 1800.0, temperatureClearSeconds = 600.0
        public var temperatureIgnoreWords = ["fridge", "freezer", "outdoor", "outside", "garden"]
        public var heartRateLow = 40.0, heartRateLowClear = 45.0, heartRateHigh = 130.0, heartRateHighClear = 120.0
        public var heartRateMinimumSeconds = 600.0, heartRateValidMin = 25.0
        public var spo2Low = 90.0, spo2Clear = 92.0, spo2MinimumSeconds = 300.0, spo2ValidMin = 50.0
        public var vitalClearSeconds = 120.0
        public var applianceLimits: [String: Double] = ["kettle": 900, "hob": 3600, "cooktop": 3600, "stove": 3600,
                                                       "cooker": 7200, "oven": 7200]
        public var applianceOnWatts = 5.0, applianceOffGraceSeconds = 300.0
        public var staleSeconds = 10800.0
        public init() {}
    }

    static let settingKeys = ["coldBelow", "coldClearAt", "hotAbove", "hotClearAt", "temperatureMinimumSeconds",
                              "temperatureClearSeconds", "temperatureIgnoreWords", "heartRateLow", "heartRateLowClear",
                              "heartRateHigh", "heartRateHighClear", "heartRateMinimumSeconds", "heartRateValidMin",
                              "spo2Low", "spo2Clear", "spo2MinimumSeconds", "spo2ValidMin", "vitalClearSeconds",
                              "applianceLimits", "applianceOnWatts", "applianceOffGraceSeconds", "staleSeconds"]

    public static func make(_ settings: JSONObject?, _ path: String, _ context: DetectorContext) throws(DetectorConfigurationError) -> any Detector {
        var r = SettingsReader(settings, path: path)
        var s = Settings()
        s.coldBelow = r.number("coldBelow", default: s.coldBelow, range: -20...30)
        s.coldClearAt = r.number("coldClearAt", default: s.coldClearAt, range: -20...35)
        s.hotAbove = r.number("hotAbove", default: s.hotAbove, range: 15...50)
        s.hotClearAt = r.number("hotClearAt", default: s.hotClearAt, range: 10...50)
        s.temperatureMinimumSeconds = r.number("temperatureMinimumSeconds", default: s.temperatureMinimumSeconds, range: 0...86_400)
        s.temperatureClearSeconds = r.number("temperatureClearSeconds", default: s.temperatureClearSeconds, range: 0...86_400)
        s.temperatureIgnoreWords = r.strings("temperatureIgnoreWords", default: s.temperatureIgnoreWords).map { $0.lowercased() }
        s.heartRateLow = r.number("heartRateLow", default: s.heartRateLow, range: 0...300)
        s.heartRateLowClear = r.number("heartRateLowClear", default: s.heartRateLowClear, range: 0...300)
        s.heartRateHigh = r.number("heartRateHigh", default: s.heartRateHigh, range: 0...300)
        s.heartRateHighClear = r.number("heartRateHighClear", default: s.heartRateHighClear, range: 0...300)
        s.heartRateMinimumSeconds = r.number("heartRateMinimumSeconds", default: s.heartRateMinimumSeconds, range: 0...86_400)
        s.heartRateValidMin = r.number("heartRateValidMin", default: s.heartRateValidMin, range: 0...300)
        s.spo2Low = r.number("spo2Low", default: s.spo2Low, range: 0...100)
        s.spo2Clear = r.number("spo2Clear", default: s.spo2Clear, range: 0...100)
        s.spo2MinimumSeconds = r.number("spo2MinimumSeconds", default: s.spo2MinimumSeconds, range: 0...86_400)
        s.spo2ValidMin = r.number("spo2ValidMin", default: s.spo2ValidMin, range: 0...100)
        s.vitalClearSeconds = r.number("vitalClearSeconds", default: s.vitalClearSeconds, range: 0...86_400)
        s.applianceOnWatts = r.number("applianceOnWatts", default: s.applianceOnWatts, range: 0...10_000)
        s.applianceOffGraceSeconds = r.number("applianceOffGraceSeconds", default: s.applianceOffGraceSeconds, range: 0...86_400)
        s.staleSeconds = r.number("staleSeconds", default: s.staleSeconds, range: 60...7 * 86_400)
        if let v = r.object["applianceLimits"], !v.isNull {
            if let o = v.objectValue {
                for m in o.members {
                    if let n = m.value.doubleValue, n >= 0, n <= 7 * 86_400 {
                        s.applianceLimits[m.key.lowercased()] = n
                    } else {
                        r.issues.append(.init(path: "\(path).applianceLimits.\(m.key)", message: "expected seconds (0…604800; 0 = not watched), found \(m.value)"))
                    }
                }
            } else {
                r.issues.append(.init(path: "\(path).applianceLimits", message: "expected an object of device name or word → seconds, found \(v.typeName)"))
            }
        }
        func order(_ a: String, _ la: Double, _ b: String, _ lb: Double) {
            if !(la < lb) { r.issues.append(.init(path: "\(path).\(b)", message: "must be above \(a) (\(JSONWriter.format(la))) for hysteresis, found \(JSONWriter.format(lb))")) }
        }
        order("coldBelow", s.coldBelow, "coldClearAt", s.coldClearAt)
        order("hotClearAt", s.hotClearAt, "hotAbove", s.hotAbove)
        order("coldClearAt", s.coldClearAt, "hotClearAt", s.hotClearAt)
        order("heartRateLow", s.heartRateLow, "heartRateLowClear", s.heartRateLowClear)
        order("heartRateHighClear", s.heartRateHighClear, "heartRateHigh", s.heartRateHigh)
        order("heartRateLowClear", s.heartRateLowClear, "heartRateHighClear", s.heartRateHighClear)
        order("spo2Low", s.spo2Low, "spo2Clear", s.spo2Clear)
        r.rejectUnknown(settingKeys)
        try r.finish()
        return ThresholdDetector(context: context, settings: s)
    }

    let context: DetectorContext
    public let settings: Settings

    /// What a slot watches.
    enum Role: UInt8 { case temperature, heartRate, spo2, appliancePower, applianceState }

    struct Slot {
        var role: Role
        var signal: SignalID
        /// The device's index in `devices` (vitals, appliances); the room's own index for temperatures.
        var device: Int
        var low = SustainedCondition()    // cold, heart rate low/high, SpO₂ low
        var high = SustainedCondition()   // hot
        var lastValue = Double.nan
        var lastTime = -Double.infinity
    }

    /// A device's shared state: vitals (one detection for all its vitals), appliances (one episode).
    struct Device {
        var name: String
        var signal: SignalID          // the input named in detections
        var vitalActive = false
        var hasPower = false
        var applianceLimit = 0.0
        var onSince = Double.nan      // in use since
        var offSince = Double.nan     // off (within the grace time) since
        var applianceActive = false
        var lastWatts = Double.nan
    }

    @exclusivity(unchecked) var slots: [Slot] = []
    @exclusivity(unchecked) var slotOfSignal = SignalSlots()
    @exclusivity(unchecked) var devices: [Device] = []
    var deviceIndex: [String: Int] = [:]
    @exclusivity(unchecked) var coldActive = false, hotActive = false
    @exclusivity(unchecked) var lastTime = -Double.infinity

    public init(context: DetectorContext, settings: Settings = Settings()) {
        self.context = context
        self.settings = settings
        slots.reserveCapacity(64)
        devices.reserveCapacity(32)
    }

    /// Lower-cased words of a device name (split at anything not a letter or digit).
    static func words(_ name: String) -> [String] {
        name.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// The limit of an appliance named `device` (nil: not an appliance we watch).
    func applianceLimit(_ device: String) -> Double? {
        if let l = settings.applianceLimits[device.lowercased()] { return l > 0 ? l : nil }
        var best: Double?
        for w in Self.words(device) { if let l = settings.applianceLimits[w] { best = min(best ?? l, l) } }
        return best.flatMap { $0 > 0 ? $0 : nil }
    }

    func device(_ info: SignalInfo) -> Int {
        if let d = deviceIndex[info.deviceName] { return d }
        devices.append(Device(name: info.deviceName, signal: info.id))
        deviceIndex[info.deviceName] = devices.count - 1
        return devices.count - 1
    }

    public func accepts(_ info: SignalInfo) -> Bool {
        let role: Role
        var d = -1
        switch info.kind {
        case .temperature:
            guard info.placement == nil else { return false }
            let w = Self.words(info.deviceName)
            guard !w.contains(where: settings.temperatureIgnoreWords.contains) else { return false }
            role = .temperature
        case .heartRate:
            role = .heartRate; d = device(info)
        case .spo2:
            role = .spo2; d = device(info)
        case .power, .applianceOn:
            guard let limit = applianceLimit(info.deviceName) else { return false }
            role = info.kind == .power ? .appliancePower : .applianceState
            d = device(info)
            devices[d].applianceLimit = limit
            if role == .appliancePower { devices[d].hasPower = true; devices[d].signal = info.id }
        default:
            return false
        }
        slotOfSignal.assign(info.id, slot: slots.count)
        slots.append(Slot(role: role, signal: info.id, device: d))
        return true
    }

    // MARK: Hot path

    public func process(_ sample: Sample) {
        guard let s = slotOfSignal.slot(of: sample.signal) else { return }
        let v = sample.value, t = sample.time
        // Readings of several sensors interleave a little out of time order: only a step back of more than
        // `reorderToleranceSeconds` is a clock step.
        if t < lastTime - Self.reorderToleranceSeconds {
            clockWentBack(to: t)
            lastTime = t
        } else if t - lastTime > settings.staleSeconds {
            clockSteppedForward(to: t)
            lastTime = t
        } else if t > lastTime {
            lastTime = t
        }
        let st = settings
        // The previous reading is stale (a silent sensor, a forward clock step): whether the condition held in
        // between is unknown, so a wait in progress restarts now.
        if t - slots[s].lastTime > st.staleSeconds { slots[s].low.restartWait(at: t); slots[s].high.restartWait(at: t) }
        switch slots[s].role {
        case .temperature:
            slots[s].lastValue = v; slots[s].lastTime = t
            slots[s].low.observe(outside: v < st.coldBelow, recovered: v >= st.coldClearAt, at: t)
            slots[s].high.observe(outside: v > st.hotAbove, recovered: v <= st.hotClearAt, at: t)
            checkTemperature(s, at: t)
        case .heartRate:
            guard v >= st.heartRateValidMin else { return }
            slots[s].lastValue = v; slots[s].lastTime = t
            slots[s].low.observe(outside: v < st.heartRateLow || v > st.heartRateHigh,
                                 recovered: v >= st.heartRateLowClear && v <= st.heartRateHighClear, at: t)
            checkVital(s, at: t)
        case .spo2:
            guard v >= st.spo2ValidMin else { return }
            slots[s].lastValue = v; slots[s].lastTime = t
            slots[s].low.observe(outside: v < st.spo2Low, recovered: v >= st.spo2Clear, at: t)
            checkVital(s, at: t)
        case .appliancePower:
            let d = slots[s].device
            devices[d].lastWatts = v
            appliance(d, on: v > st.applianceOnWatts, at: t)
        case .applianceState:
            let d = slots[s].device
            if devices[d].hasPower { return }
            appliance(d, on: v != 0, at: t)
        }
    }

    /// Readings up to this much older than the latest one are reordering between sensors, not a clock step.
    static let reorderToleranceSeconds = 60.0

    public func advance(to time: Double) {
        if time < lastTime - Self.reorderToleranceSeconds {
            clockWentBack(to: time)
            lastTime = time
        } else if time - lastTime > settings.staleSeconds {
            clockSteppedForward(to: time)
            lastTime = time
        } else if time > lastTime {
            lastTime = time
        }
        for s in slots.indices {
            switch slots[s].role {
            case .temperature: checkTemperature(s, at: time)
            case .heartRate, .spo2: checkVital(s, at: time)
            case .appliancePower, .applianceState: break
            }
        }
        for d in devices.indices where !devices[d].onSince.isNaN { checkAppliance(d, at: time) }
    }

    /// A clock step backwards: every wait restarts from `time`; nothing fires.
    func clockWentBack(to time: Double) {
        for s in slots.indices {
            slots[s].low.restart(at: time); slots[s].high.restart(at: time)
            if slots[s].lastTime > time { slots[s].lastTime = time }
        }
        for d in devices.indices {
            if devices[d].onSince > time { devices[d].onSince = time }
            if devices[d].offSince > time { devices[d].offSince = time }
        }
    }

    /// Time jumped forward by more than `staleSeconds` at once (an NTP step, a gap in a capture): nobody watched
    /// that time, so every wait and every appliance episode restarts at `time`; nothing fires because of the jump.
    func clockSteppedForward(to time: Double) {
        guard lastTime.isFinite else { return }
        for s in slots.indices { slots[s].low.restartWait(at: time); slots[s].high.restartWait(at: time) }
        for d in devices.indices {
            if !devices[d].onSince.isNaN && !devices[d].applianceActive { devices[d].onSince = time }
            if !devices[d].offSince.isNaN { devices[d].offSince = time }
        }
    }

    // MARK: Rules

    func checkTemperature(_ s: Int, at t: Double) {
        let fresh = t - slots[s].lastTime <= settings.staleSeconds
        switch slots[s].low.check(at: t, raiseAfter: settings.temperatureMinimumSeconds,
                                  clearAfter: settings.temperatureClearSeconds, fresh: fresh) {
        case .raised:
            if !coldActive { coldActive = true; emitRoom(.coldHome, .raised, s, t, limit: settings.coldBelow) }
        case .cleared:
            if coldActive && !slots.contains(where: { $0.role == .temperature && $0.low.isActive }) {
                coldActive = false; emitRoom(.coldHome, .cleared, s, t, limit: settings.coldClearAt)
            }
        case .none: break
        }
        switch slots[s].high.check(at: t, raiseAfter: settings.temperatureMinimumSeconds,
                                   clearAfter: settings.temperatureClearSeconds, fresh: fresh) {
        case .raised:
            if !hotActive { hotActive = true; emitRoom(.hotHome, .raised, s, t, limit: settings.hotAbove) }
        case .cleared:
            if hotActive && !slots.contains(where: { $0.role == .temperature && $0.high.isActive }) {
                hotActive = false; emitRoom(.hotHome, .cleared, s, t, limit: settings.hotClearAt)
            }
        case .none: break
        }
    }

    func checkVital(_ s: Int, at t: Double) {
        let heart = slots[s].role == .heartRate
        let fresh = t - slots[s].lastTime <= settings.staleSeconds
        let change = slots[s].low.check(at: t, raiseAfter: heart ? settings.heartRateMinimumSeconds : settings.spo2MinimumSeconds,
                                        clearAfter: settings.vitalClearSeconds, fresh: fresh)
        let d = slots[s].device
        switch change {
        case .raised where !devices[d].vitalActive:
            devices[d].vitalActive = true
            emitVital(.raised, s, t)
        case .cleared where devices[d].vitalActive:
            if !slots.contains(where: { $0.device == d && ($0.role == .heartRate || $0.role == .spo2) && $0.low.isActive }) {
                devices[d].vitalActive = false
                emitVital(.cleared, s, t)
            }
        default: break
        }
    }

    func appliance(_ d: Int, on: Bool, at t: Double) {
        if on {
            if devices[d].onSince.isNaN { devices[d].onSince = t }
            devices[d].offSince = .nan
        } else if !devices[d].onSince.isNaN && devices[d].offSince.isNaN {
            devices[d].offSince = t
        }
        if !devices[d].onSince.isNaN { checkAppliance(d, at: t) }
    }

    func checkAppliance(_ d: Int, at t: Double) {
        let onSince = devices[d].onSince
        let offSince = devices[d].offSince
        if !offSince.isNaN && t - offSince >= settings.applianceOffGraceSeconds {
            if devices[d].applianceActive {
                devices[d].applianceActive = false
                var detail: JSONObject = ["appliance": .string(devices[d].name), "offSince": .string(Timestamp.rfc3339(offSince)),
                                          "onForSeconds": .number((offSince - onSince).rounded())]
                if !devices[d].lastWatts.isNaN { detail["power"] = .number(devices[d].lastWatts) }
                context.emit(context.detection(.applianceLeftOn, .cleared, time: t, signal: devices[d].signal, detail: detail))
            }
            devices[d].onSince = .nan; devices[d].offSince = .nan
            return
        }
        if !devices[d].applianceActive && t - onSince >= devices[d].applianceLimit {
            devices[d].applianceActive = true
            var detail: JSONObject = ["appliance": .string(devices[d].name), "onSince": .string(Timestamp.rfc3339(onSince)),
                                      "onForSeconds": .number((t - onSince).rounded()), "limitSeconds": .number(devices[d].applianceLimit),
                                      "message": .string("\(devices[d].name) has been on since \(context.localTime.clockText(at: onSince))")]
            if !devices[d].lastWatts.isNaN { detail["power"] = .number(devices[d].lastWatts) }
            context.emit(context.detection(.applianceLeftOn, .raised, time: t, signal: devices[d].signal, detail: detail))
        }
    }

    // MARK: Events

    func emitRoom(_ kind: DetectionKind, _ state: DetectionState, _ s: Int, _ t: Double, limit: Double) {
        let info = context.signals.info(slots[s].signal)
        let condition = kind == .coldHome ? slots[s].low : slots[s].high
        var detail: JSONObject = ["room": .string(info?.deviceName ?? "\(slots[s].signal)"),
                                  "temperature": .number(slots[s].lastValue), "limit": .number(limit)]
        if let topic = info?.topic { detail["topic"] = .string(topic) }
        if state == .raised { detail["since"] = .string(Timestamp.rfc3339(condition.since)) }
        context.emit(context.detection(kind, state, time: t, signal: nil, detail: detail))
    }

    func emitVital(_ state: DetectionState, _ s: Int, _ t: Double) {
        let heart = slots[s].role == .heartRate
        var detail: JSONObject = ["vital": .string(heart ? "heart_rate" : "spo2"), "value": .number(slots[s].lastValue),
                                  "unit": .string(heart ? "bpm" : "%")]
        if state == .raised {
            let v = slots[s].lastValue
            detail["limit"] = .number(heart ? (v < settings.heartRateLow ? settings.heartRateLow : settings.heartRateHigh) : settings.spo2Low)
            detail["since"] = .string(Timestamp.rfc3339(slots[s].low.since))
        }
        context.emit(context.detection(.vitalOutOfRange, state, time: t, signal: slots[s].signal, detail: detail))
    }
}

/// A condition that must hold for a minimum time before it raises, and whose recovery (on the safe side of a
/// hysteresis band) must hold for a minimum time before it clears. A pure value: feed readings with `observe`, ask
/// `check` at any time (a reading or a tick).
struct SustainedCondition {
    enum Phase: UInt8 { case normal, pending, active, clearing }
    enum Change { case none, raised, cleared }

    private(set) var phase = Phase.normal
    /// When the current phase's wait started (pending: first reading outside; clearing: first reading recovered).
    private(set) var since = 0.0
    private var outside = false
    private var recovered = true

    var isActive: Bool { phase == .active || phase == .clearing }

    /// A reading: `outside` the raise limit; `recovered` past the clear limit.
    mutating func observe(outside: Bool, recovered: Bool, at t: Double) {
        self.outside = outside
        self.recovered = recovered
        switch phase {
        case .normal: if outside { phase = .pending; since = t }
        case .pending: if !outside { phase = .normal }
        case .active: if recovered { phase = .clearing; since = t }
        case .clearing: if !recovered { phase = .active }
        }
    }

    /// The time-based part. `fresh`: the last reading is recent enough to raise on.
    mutating func check(at t: Double, raiseAfter: Double, clearAfter: Double, fresh: Bool) -> Change {
        switch phase {
        case .pending where fresh && t - since >= raiseAfter:
            phase = .active
            return .raised
        case .clearing where t - since >= clearAfter:
            phase = .normal
            return .cleared
        default:
            return .none
        }
    }

    /// Whether the condition held up to `t` is unknown: a wait in progress restarts at `t`.
    mutating func restartWait(at t: Double) {
        if phase == .pending || phase == .clearing { since = t }
    }

    /// The clock went back to `t`: a wait in progress restarts there.
    mutating func restart(at t: Double) {
        if (phase == .pending || phase == .clearing) && since > t { since = t }
    }
}
