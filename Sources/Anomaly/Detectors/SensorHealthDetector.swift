import CareSupport

/// Whether the home's sensors still protect the person: each health detection says which protection is lost
/// ("fall detection is off since 14:00: the wristband band1 is silent").
///
/// Rules (parameters under `detectors.health`, defaults in brackets):
/// - **`sensor-silent`** [info, per device]: a device sent nothing for longer than its limit; cleared by its next
///   message. Devices that report by themselves — any signal other than events, i.e. measurements, battery,
///   link quality, accelerometers (Zigbee2MQTT adds `linkquality`/`battery` to every message and sends them as a
///   heartbeat) — have a *learned* limit: `silentFactor` [4] × their learned reporting interval, at least
///   `minimumSilentSeconds` [900]. The interval is a slowly decaying maximum of the gaps between their samples: a
///   longer gap is taken at once, a shorter one pulls it down by `intervalDecay` [0.01] of the difference per
///   message, so both a 50 Hz wristband (floor) and a door contact with an hourly heartbeat (hours) get a fitting
///   limit. While a device has been known for less than `learningSeconds` [86400] its limit is at least
///   `learningSilentSeconds` [10800], and every gap is learned; after that a gap longer than the limit is an outage
///   and is not learned. Event-only devices (motion, contacts, buttons… without any heartbeat field) are legitimately
///   silent for days (a washing machine door, 10 days in a shared home): `eventSilentSeconds` [1209600 = 14 d].
///   The learned intervals persist (`learnedState`), by device name.
/// - **`battery-low`** [info, per device]: battery below `batteryLowPercent` [15 %] (cleared at or above
///   `batteryClearPercent` [25 %]: a new battery); a device reporting only its battery voltage: below
///   `batteryLowVolts` [2.5 V] (cleared at `batteryClearVolts` [2.7 V]; coin cells and 2×AA read ~3 V new).
/// - **`not-worn`** [info, per device]: a wearable's accelerometer shows no movement at all — the mean of each axis
///   over blocks of `stillBlockSeconds` [1] stays within `stillToleranceG` [0.05 g] of where it came to rest — for
///   `notWornSeconds` [7200] of the day (local `dayStartHour` [8] to `dayEndHour` [22]; night still time does not
///   count, so a band left on the nightstand is reported from 10:00, not at 08:00), while the home showed at least
///   `notWornHomeEvents` [3] activity events (motion, doors, appliances, buttons of other devices) in that time.
///   Cleared when it moves.
/// - **`device-offline`** [info, per device]: the device's availability (Zigbee2MQTT `…/availability`, a bridge's
///   last will) says offline for `offlineConfirmSeconds` [60] (a restart that comes back at once raises nothing);
///   cleared when it says online.
/// - Time: a sample time that goes backwards restarts every wait and fires nothing; a forward jump of more than
///   `clockStepSeconds` [21600] between two consecutive times (an NTP step after a boot without a real-time clock,
///   or a gap in a capture) is time nobody watched: silences restart counting from the new time.
///
/// Hot path: per-signal slots in dense arrays sized by `accepts`; the arrays are `@exclusivity(unchecked)` (no
/// dynamic exclusivity check per sample): safe because only the detector thread uses a detector and no method
/// re-enters another while it modifies them.
public final class SensorHealthDetector: Detector {
    public static let name = "health"
    public static let kinds: [DetectionKind] = [.sensorSilent, .batteryLow, .notWorn, .deviceOffline]

    public struct Settings: Sendable {
        public var silentFactor = 4.0, minimumSilentSeconds = 900.0, intervalDecay = 0.01
        public var learningSeconds = 86_400.0, learningSilentSeconds = 10_800.0, eventSilentSeconds = 1_209_600.0
        public var batteryLowPercent = 15.0, batteryClearPercent = 25.0, batteryLowVolts = 2.5, batteryClearVolts = 2.7
        public var stillBlockSeconds = 1.0, stillToleranceG = 0.05, notWornSeconds = 7200.0
        public var dayStartHour = 8.0, dayEndHour = 22.0, notWornHomeEvents = 3.0
        public var offlineConfirmSeconds = 60.0, clockStepSeconds = 21_600.0
        public init() {}
    }

    static let settingKeys = ["silentFactor", "minimumSilentSeconds", "intervalDecay", "learningSeconds",
                              "learningSilentSeconds", "eventSilentSeconds", "batteryLowPercent", "batteryClearPercent",
                              "batteryLowVolts", "batteryClearVolts", "stillBlockSeconds", "stillToleranceG",
                              "notWornSeconds", "dayStartHour", "dayEndHour", "notWornHomeEvents",
                              "offlineConfirmSeconds", "clockStepSeconds"]

    public static func make(_ settings: JSONObject?, _ path: String, _ context: DetectorContext) throws(DetectorConfigurationError) -> any Detector {
        var r = SettingsReader(settings, path: path)
        var s = Settings()
        s.silentFactor = r.number("silentFactor", default: s.silentFactor, range: 1...100)
        s.minimumSilentSeconds = r.number("minimumSilentSeconds", default: s.minimumSilentSeconds, range: 10...7 * 86_400)
        s.intervalDecay = r.number("intervalDecay", default: s.intervalDecay, range: 0...1)
        s.learningSeconds = r.number("learningSeconds", default: s.learningSeconds, range: 0...30 * 86_400)
        s.learningSilentSeconds = r.number("learningSilentSeconds", default: s.learningSilentSeconds, range: 0...30 * 86_400)
        s.eventSilentSeconds = r.number("eventSilentSeconds", default: s.eventSilentSeconds, range: 60...365 * 86_400)
        s.batteryLowPercent = r.number("batteryLowPercent", default: s.batteryLowPercent, range: 0...100)
        s.batteryClearPercent = r.number("batteryClearPercent", default: s.batteryClearPercent, range: 0...100)
        s.batteryLowVolts = r.number("batteryLowVolts", default: s.batteryLowVolts, range: 0...60)
        s.batteryClearVolts = r.number("batteryClearVolts", default: s.batteryClearVolts, range: 0...60)
        s.stillBlockSeconds = r.number("stillBlockSeconds", default: s.stillBlockSeconds, range: 0.05...60)
        s.stillToleranceG = r.number("stillToleranceG", default: s.stillToleranceG, range: 0.001...2)
        s.notWornSeconds = r.number("notWornSeconds", default: s.notWornSeconds, range: 60...86_400)
        s.dayStartHour = r.number("dayStartHour", default: s.dayStartHour, range: 0...24)
        s.dayEndHour = r.number("dayEndHour", default: s.dayEndHour, range: 0...24)
        s.notWornHomeEvents = r.number("notWornHomeEvents", default: s.notWornHomeEvents, range: 0...Double(homeEventCapacity))
        s.offlineConfirmSeconds = r.number("offlineConfirmSeconds", default: s.offlineConfirmSeconds, range: 0...86_400)
        s.clockStepSeconds = r.number("clockStepSeconds", default: s.clockStepSeconds, range: 600...30 * 86_400)
        if !(s.batteryLowPercent < s.batteryClearPercent) {
            r.issues.append(.init(path: "\(path).batteryClearPercent", message: "must be above batteryLowPercent (\(JSONWriter.format(s.batteryLowPercent))) for hysteresis"))
        }
        if !(s.batteryLowVolts < s.batteryClearVolts) {
            r.issues.append(.init(path: "\(path).batteryClearVolts", message: "must be above batteryLowVolts (\(JSONWriter.format(s.batteryLowVolts))) for hysteresis"))
        }
        if !(s.dayStartHour < s.dayEndHour) {
            r.issues.append(.init(path: "\(path).dayEndHour", message: "must be after dayStartHour (\(JSONWriter.format(s.dayStartHour)))"))
        }
        r.rejectUnknown(settingKeys)
        try r.finish()
        return SensorHealthDetector(context: context, settings: s)
    }

    static let homeEventCapacity = 64

    let context: DetectorContext
    public let settings: Settings

    enum Role: UInt8 { case report, homeEvent, acceleration, battery, batteryVoltage, availability }

    struct Slot {
        var role: Role
        var kind: SignalKind
        var device: Int
        var lastValue = Double.nan
    }

    /// What is known of one device (its names and its alarm states; read and written on slow paths).
    struct Device {
        var name: String
        var signal: SignalID          // the input named in detections (its first signal)
        var placement: String?
        var kinds: UInt64 = 0         // bit per SignalKind seen
        var hasBatteryPercent = false
        // Battery, availability
        var batteryActive = false
        var offlineSince = Double.nan
        var offlineActive = false
        // Movement (wearables)
        var rest = MovementBlocks.Rest()
        var stillSince = Double.nan
        var notWornActive = false
    }

    /// What every sample of one device updates: when it was seen, its learned interval, the running movement
    /// block. Kept apart from `Device` (which holds strings) so that the hot path can copy it in and out whole:
    /// one array access per sample instead of one per field, and no reference counting.
    struct Activity: BitwiseCopyable {
        var firstSeen = Double.nan
        var lastSeen = Double.nan
        var interval = 0.0            // learned reporting interval (decaying maximum of gaps)
        var blockStart = Double.nan
        var sumX: Float = 0, sumY: Float = 0, sumZ: Float = 0
        var blockCount: Int32 = 0
        var heartbeat = false         // reports by itself (see the rules)
        var silentActive = false

        /// The steady state of a wearable: a sample after the previous one, within the learned interval or at
        /// least shorter than `floor` (the shortest silence limit, so `seen` would learn it too), no silence to
        /// clear, inside the current movement block. Updates as `seen` and `move` would and returns true then;
        /// returns false (nothing changed) when anything else must happen: `seen` and `move` handle those.
        @inline(__always)
        mutating func steadyAccelerometerSample(_ x: Float, _ y: Float, _ z: Float, at t: Double,
                                                decay: Double, floor: Double, block: Double) -> Bool {
            let gap = t - lastSeen          // NaN before the first sample: not steady
            guard gap >= 0, gap <= interval || (heartbeat && gap < floor), !silentActive, t - blockStart < block
            else { return false }
            if gap > 0 {
                interval = gap <= interval ? interval + (gap - interval) * decay : gap
                lastSeen = t
            }
            sumX += x; sumY += y; sumZ += z
            blockCount &+= 1
            return true
        }
    }

    @exclusivity(unchecked) var slots: [Slot] = []
    @exclusivity(unchecked) var slotOfSignal = SignalSlots()
    @exclusivity(unchecked) var devices: [Device] = []
    @exclusivity(unchecked) var activity: [Activity] = []
    var deviceIndex: [String: Int] = [:]
    /// Times of the latest home-activity events (a ring; `homeEventTotal` counts them all).
    @exclusivity(unchecked) var homeEvents: [Double]
    @exclusivity(unchecked) var homeEventTotal = 0
    @exclusivity(unchecked) var lastTime = -Double.infinity
    /// Samples up to this much older than the latest one are reordering between devices, not a clock step.
    static let reorderToleranceSeconds = 60.0
    /// Learned intervals restored from an earlier run, by device name, taken when the device is first seen.
    var restored: [String: (interval: Double, firstSeen: Double, heartbeat: Bool)] = [:]

    public init(context: DetectorContext, settings: Settings = Settings()) {
        self.context = context
        self.settings = settings
        homeEvents = [Double](repeating: -.infinity, count: Self.homeEventCapacity)
        slots.reserveCapacity(64)
        devices.reserveCapacity(32)
        activity.reserveCapacity(32)
    }

    /// Kinds a device sends when something happens (not a measurement or a heartbeat): the report counts them as activity.
    public static func isEvent(_ kind: SignalKind) -> Bool {
        switch kind {
        case .motion, .contact, .button, .sos, .fall, .waterLeak, .smoke, .carbonMonoxide, .applianceOn, .region,
             .vibration, .tamper, .state, .availability: true
        default: false
        }
    }

    public func accepts(_ info: SignalInfo) -> Bool {
        let d: Int
        if let i = deviceIndex[info.device] {
            d = i
        } else {
            d = devices.count
            var a = Activity()
            if let r = restored[info.device] {
                a.interval = r.interval; a.firstSeen = r.firstSeen; a.heartbeat = r.heartbeat
            }
            devices.append(Device(name: info.device, signal: info.id, placement: info.placement))
            activity.append(a)
            deviceIndex[info.device] = d
        }
        devices[d].kinds |= 1 << UInt64(info.kind.rawValue)
        if devices[d].placement == nil { devices[d].placement = info.placement }
        if !Self.isEvent(info.kind) { activity[d].heartbeat = true }
        let role: Role
        switch info.kind {
        case .acceleration: role = .acceleration
        case .battery: role = .battery; devices[d].hasBatteryPercent = true
        case .batteryVoltage: role = .batteryVoltage
        case .availability: role = .availability
        case .motion, .contact, .button, .applianceOn, .waterLeak, .vibration:
            role = info.placement == nil ? .homeEvent : .report
        default: role = .report
        }
        slotOfSignal.assign(info.id, slot: slots.count)
        slots.append(Slot(role: role, kind: info.kind, device: d))
        return true
    }

    // MARK: Hot path

    public func process(_ sample: Sample) {
        guard let s = slotOfSignal.slot(of: sample.signal) else { return }
        let t = sample.time
        // Samples of several devices interleave a little out of time order (a wristband's batch arrives after a
        // door event): only a step back of more than `reorderToleranceSeconds` is a clock step.
        if t < lastTime - Self.reorderToleranceSeconds || t - lastTime > settings.clockStepSeconds {
            timeJumped(from: lastTime, to: t)
            lastTime = t
        } else if t > lastTime {
            lastTime = t
        }
        let d = slots[s].device
        switch slots[s].role {
        case .acceleration:
            seen(d, at: t)
            move(d, sample.x, sample.y, sample.z, at: t)
        case .report:
            seen(d, at: t)
        case .homeEvent:
            seen(d, at: t)
            let v = sample.value
            let kind = slots[s].kind
            if (kind == .motion || kind == .vibration) ? v != 0 : (v != slots[s].lastValue || kind == .button) {
                homeEvents[homeEventTotal & (Self.homeEventCapacity - 1)] = t
                homeEventTotal &+= 1
            }
            slots[s].lastValue = v
        case .battery:
            seen(d, at: t)
            guard sample.value >= 0 && sample.value <= 100 else { return }
            battery(d, low: sample.value < settings.batteryLowPercent, clear: sample.value >= settings.batteryClearPercent,
                    value: sample.value, unit: "%", at: t)
        case .batteryVoltage:
            seen(d, at: t)
            guard !devices[d].hasBatteryPercent, sample.value > 0 else { return }
            battery(d, low: sample.value < settings.batteryLowVolts, clear: sample.value >= settings.batteryClearVolts,
                    value: sample.value, unit: "V", at: t)
        case .availability:
            availability(d, online: sample.value != 0, at: t)
        }
    }

    /// Consecutive samples of one signal (the engine hands every sample over this way). A wearable's run keeps its
    /// device's `Activity` and the detector's latest time in locals while it is steady (`steadyAccelerometerSample`);
    /// anything else (a clock step, a silence to clear, a movement block to close) goes through `process(_:)` with
    /// the state written back first.
    public func process(_ run: UnsafeBufferPointer<Sample>) {
        guard let first = run.first, let s = slotOfSignal.slot(of: first.signal) else { return }
        guard slots[s].role == .acceleration else {
            for sample in run { process(sample) }
            return
        }
        let d = slots[s].device
        let decay = settings.intervalDecay, floor = settings.minimumSilentSeconds, block = settings.stillBlockSeconds
        let tolerance = Self.reorderToleranceSeconds, step = settings.clockStepSeconds
        var a = activity[d]
        var last = lastTime
        for sample in run {
            let t = sample.time
            if t < last - tolerance || t - last > step
                || !a.steadyAccelerometerSample(sample.x, sample.y, sample.z, at: t, decay: decay, floor: floor, block: block) {
                activity[d] = a
                lastTime = last
                process(sample)
                a = activity[d]
                last = lastTime
                continue
            }
            if t > last { last = t }
        }
        activity[d] = a
        lastTime = last
    }

    /// A message from device `d` at `t`: learn the gap, clear a silence.
    @inline(__always)
    func seen(_ d: Int, at t: Double) {
        let last = activity[d].lastSeen
        if last.isNaN {
            activity[d].lastSeen = t
            if activity[d].firstSeen.isNaN { activity[d].firstSeen = t }
            return
        }
        let gap = t - last
        // Samples of one message share its time (gap 0): only gaps between messages teach the interval.
        if gap > 0 {
            let interval = activity[d].interval
            if gap <= interval {
                activity[d].interval = interval + (gap - interval) * settings.intervalDecay
            } else if learning(d, at: t) || gap < limit(d, at: t) {
                activity[d].interval = gap
            }
            activity[d].lastSeen = t
        }
        if activity[d].silentActive { silenceEnded(d, at: t) }
    }

    func learning(_ d: Int, at t: Double) -> Bool { !(t - activity[d].firstSeen >= settings.learningSeconds) }

    /// The silence after which device `d` is reported.
    func limit(_ d: Int, at t: Double) -> Double {
        guard activity[d].heartbeat else { return settings.eventSilentSeconds }
        var l = max(settings.minimumSilentSeconds, settings.silentFactor * activity[d].interval)
        if learning(d, at: t) { l = max(l, settings.learningSilentSeconds) }
        return l
    }

    @inline(__always)
    func move(_ d: Int, _ x: Float, _ y: Float, _ z: Float, at t: Double) {
        let start = activity[d].blockStart
        if t - start < settings.stillBlockSeconds {
            activity[d].sumX += x; activity[d].sumY += y; activity[d].sumZ += z
            activity[d].blockCount &+= 1
            return
        }
        endBlock(d, at: t)
        activity[d].blockStart = t
        activity[d].sumX = x; activity[d].sumY = y; activity[d].sumZ = z
        activity[d].blockCount = 1
    }

    /// A block of accelerometer samples ended (slow path, once per `stillBlockSeconds`): did the device move?
    func endBlock(_ d: Int, at t: Double) {
        let n = Float(activity[d].blockCount)
        guard n > 0 else { return }
        let x = activity[d].sumX / n, y = activity[d].sumY / n, z = activity[d].sumZ / n
        if devices[d].rest.moved(x, y, z, tolerance: Float(settings.stillToleranceG)) {
            devices[d].stillSince = activity[d].blockStart.isNaN ? t : activity[d].blockStart
            if devices[d].notWornActive {
                devices[d].notWornActive = false
                emit(.notWorn, .cleared, d, t, ["movedAt": .string(Timestamp.rfc3339(t))])
            }
        }
    }

    // MARK: Time

    public func advance(to time: Double) {
        if time < lastTime - Self.reorderToleranceSeconds || time - lastTime > settings.clockStepSeconds {
            timeJumped(from: lastTime, to: time)
            lastTime = time
        } else if time > lastTime {
            lastTime = time
        }
        for d in devices.indices {
            checkSilence(d, at: time)
            if !devices[d].offlineSince.isNaN && !devices[d].offlineActive { checkOffline(d, at: time) }
            if devices[d].rest.known { checkNotWorn(d, at: time) }
        }
    }

    /// The clock went back, or jumped forward by more than `clockStepSeconds`: waits restart at `to`, nothing fires,
    /// nothing is learned from the jump.
    func timeJumped(from: Double, to t: Double) {
        guard from.isFinite else { return }
        let forward = t > from
        for d in devices.indices {
            if forward {
                // Unwatched time: shift what was seen by the jump, so silences keep what they had before it.
                if !activity[d].lastSeen.isNaN { activity[d].lastSeen += t - from }
                if !devices[d].stillSince.isNaN { devices[d].stillSince = t }
                if !devices[d].offlineSince.isNaN { devices[d].offlineSince = t }
                if !activity[d].firstSeen.isNaN { activity[d].firstSeen += t - from }
            } else {
                if activity[d].lastSeen > t { activity[d].lastSeen = t }
                if devices[d].stillSince > t { devices[d].stillSince = t }
                if devices[d].offlineSince > t { devices[d].offlineSince = t }
                if activity[d].firstSeen > t { activity[d].firstSeen = t }
            }
            activity[d].blockStart = .nan
        }
        for k in homeEvents.indices where homeEvents[k] > t { homeEvents[k] = -.infinity }
    }

    func checkSilence(_ d: Int, at t: Double) {
        guard !activity[d].silentActive, !devices[d].offlineActive else { return }
        let last = activity[d].lastSeen
        guard !last.isNaN else { return }
        let limit = limit(d, at: t)
        guard t - last > limit else { return }
        activity[d].silentActive = true
        let protection = protectionText(d)
        let message = lost(d, protection, since: last, "is silent")
        emit(.sensorSilent, .raised, d, t, ["message": .string(message), "protection": .string(protection.text),
                                            "lastSeen": .string(Timestamp.rfc3339(last)),
                                            "silentForSeconds": .number((t - last).rounded()),
                                            "limitSeconds": .number(limit.rounded()),
                                            "learnedIntervalSeconds": .number(activity[d].heartbeat ? activity[d].interval : .nan)])
    }

    func silenceEnded(_ d: Int, at t: Double) {
        activity[d].silentActive = false
        let protection = protectionText(d)
        emit(.sensorSilent, .cleared, d, t, ["message": .string("\(protection.text) \(protection.plural ? "are" : "is") back: \(deviceNoun(d)) reports again"),
                                             "protection": .string(protection.text)])
    }

    func battery(_ d: Int, low: Bool, clear: Bool, value: Double, unit: String, at t: Double) {
        if low && !devices[d].batteryActive {
            devices[d].batteryActive = true
            let protection = protectionText(d)
            emit(.batteryLow, .raised, d, t, ["battery": .number(value), "unit": .string(unit),
                                              "message": .string("\(deviceNoun(d)) needs a new battery (\(JSONWriter.format(value)) \(unit)): \(protection.text) will stop when it runs out"),
                                              "protection": .string(protection.text)])
        } else if clear && devices[d].batteryActive {
            devices[d].batteryActive = false
            emit(.batteryLow, .cleared, d, t, ["battery": .number(value), "unit": .string(unit)])
        }
    }

    func availability(_ d: Int, online: Bool, at t: Double) {
        if online {
            devices[d].offlineSince = .nan
            if devices[d].offlineActive {
                devices[d].offlineActive = false
                emit(.deviceOffline, .cleared, d, t, ["online": true])
            }
        } else if devices[d].offlineSince.isNaN && !devices[d].offlineActive {
            devices[d].offlineSince = t
            checkOffline(d, at: t)
        }
    }

    func checkOffline(_ d: Int, at t: Double) {
        let since = devices[d].offlineSince
        guard !since.isNaN, t - since >= settings.offlineConfirmSeconds else { return }
        devices[d].offlineActive = true
        devices[d].offlineSince = .nan
        let protection = protectionText(d)
        emit(.deviceOffline, .raised, d, t, [
            "message": .string(lost(d, protection, since: since, "is offline")),
            "protection": .string(protection.text), "offlineSince": .string(Timestamp.rfc3339(since))])
    }

    func checkNotWorn(_ d: Int, at t: Double) {
        guard !devices[d].notWornActive, !activity[d].silentActive else { return }
        let still = devices[d].stillSince
        guard !still.isNaN, !activity[d].lastSeen.isNaN, t - activity[d].lastSeen < settings.minimumSilentSeconds else { return }
        let local = context.localTime.secondsOfDay(at: t)
        let dayStart = settings.dayStartHour * 3600, dayEnd = settings.dayEndHour * 3600
        guard local >= dayStart && local < dayEnd else { return }
        let from = max(still, t - (local - dayStart))
        guard t - from >= settings.notWornSeconds else { return }
        // Home activity since `from`: the newest events of the ring.
        let needed = Int(settings.notWornHomeEvents)
        var found = 0
        var k = homeEventTotal
        while found < needed && k > 0 && homeEventTotal - k < Self.homeEventCapacity {
            k -= 1
            if homeEvents[k & (Self.homeEventCapacity - 1)] >= from { found += 1 } else { break }
        }
        guard found >= needed else { return }
        devices[d].notWornActive = true
        let protection = protectionText(d)
        emit(.notWorn, .raised, d, t, [
            "message": .string(lost(d, protection, since: from, "has not moved while the home is active")),
            "protection": .string(protection.text), "stillSince": .string(Timestamp.rfc3339(still)),
            "stillForSeconds": .number((t - from).rounded())])
    }

    // MARK: Words

    /// What device `d` protects, for people; `homeWide` when it is monitoring many devices share (activity,
    /// temperature, appliances), not her own wearable, an alarm or a vital sign.
    func protectionText(_ d: Int) -> (text: String, plural: Bool, homeWide: Bool) {
        let k = devices[d].kinds
        func has(_ kinds: SignalKind...) -> Bool { kinds.contains { k & (1 << UInt64($0.rawValue)) != 0 } }
        var parts: [String] = []
        if has(.acceleration, .fall) { parts.append("fall detection") }
        if has(.sos) { parts.append("the emergency button") }
        if has(.smoke) { parts.append("smoke detection") }
        if has(.carbonMonoxide) { parts.append("CO detection") }
        if has(.waterLeak) { parts.append("water-leak detection") }
        if has(.heartRate, .spo2) { parts.append("vital-sign monitoring") }
        let homeWide = parts.isEmpty
        if homeWide {
            if has(.motion, .contact, .button, .vibration) { parts.append("activity monitoring") }
            else if has(.temperature) { parts.append("temperature monitoring") }
            else if has(.applianceOn, .power) { parts.append("appliance monitoring") }
            else if has(.latitude, .region) { parts.append("location") }
            else { parts.append("monitoring") }
        }
        let text = parts.count == 1 ? parts[0] : parts.dropLast().joined(separator: ", ") + " and " + parts.last!
        return (text.prefix(1).uppercased() + text.dropFirst(), parts.count > 1, homeWide)
    }

    /// "Fall detection is off since 14:00: the wristband band1 is silent". For the home-wide monitoring many devices
    /// share (activity, temperature, appliances), while others have reported since: "Activity monitoring has lost
    /// washing_machine since 19:34 (it is silent); 12 other devices have reported since" (one quiet cupboard does
    /// not turn it off). A wearable, an alarm or a vital sign protects her or one room: off, whatever the others do.
    func lost(_ d: Int, _ protection: (text: String, plural: Bool, homeWide: Bool), since: Double, _ what: String) -> String {
        let clock = context.localTime.clockText(at: since)
        let off = "\(protection.text) \(protection.plural ? "are" : "is") off since \(clock): \(deviceNoun(d)) \(what)"
        guard protection.homeWide else { return off }
        var others = 0
        for e in devices.indices where e != d && activity[e].lastSeen > since && protectionText(e).text == protection.text {
            others += 1
        }
        guard others > 0 else { return off }
        return "\(protection.text) \(protection.plural ? "have" : "has") lost \(deviceNoun(d)) since \(clock) (it \(what)); "
            + "\(others) other device\(others == 1 ? " has" : "s have") reported since"
    }

    func deviceNoun(_ d: Int) -> String {
        switch devices[d].placement {
        case "wrist": "the wristband \(devices[d].name)"
        case "waist", "hip", "belt": "the waist sensor \(devices[d].name)"
        case let p?: "the \(p) sensor \(devices[d].name)"
        case nil: devices[d].name
        }
    }

    func emit(_ kind: DetectionKind, _ state: DetectionState, _ d: Int, _ t: Double, _ detail: JSONObject) {
        var detail = detail
        if detail["learnedIntervalSeconds"]?.doubleValue?.isNaN == true { detail["learnedIntervalSeconds"] = .null }
        context.emit(context.detection(kind, state, time: t, signal: devices[d].signal, detail: detail))
    }

    // MARK: Learned state

    public func learnedState() -> JSONValue? {
        var list = JSONObject()
        for (name, r) in restored where deviceIndex[name] == nil {
            list[name] = .object(["intervalSeconds": .number(r.interval), "firstSeen": .number(r.firstSeen), "heartbeat": .bool(r.heartbeat)])
        }
        for (d, a) in zip(devices, activity) where !a.firstSeen.isNaN {
            list[d.name] = .object(["intervalSeconds": .number(a.interval), "firstSeen": .number(a.firstSeen), "heartbeat": .bool(a.heartbeat)])
        }
        return .object(["version": 1, "devices": .object(list)])
    }

    public func restore(learnedState: JSONValue) throws(DetectorStateError) {
        guard let o = learnedState.objectValue, o["version"]?.doubleValue == 1, let list = o["devices"]?.objectValue else {
            throw DetectorStateError("expected {\"version\":1,\"devices\":{…}}")
        }
        var out: [String: (interval: Double, firstSeen: Double, heartbeat: Bool)] = [:]
        for m in list.members {
            guard let e = m.value.objectValue, let i = e["intervalSeconds"]?.doubleValue, i >= 0, i.isFinite,
                  let f = e["firstSeen"]?.doubleValue, f.isFinite, let h = e["heartbeat"]?.boolValue else {
                throw DetectorStateError("devices.\(m.key): expected {\"intervalSeconds\",\"firstSeen\",\"heartbeat\"}")
            }
            out[m.key] = (i, f, h)
        }
        restored = out
    }
}
