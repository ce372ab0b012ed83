import CareSupport

/// Alarms that sensors raise themselves, passed through as detections with their source: SOS / emergency buttons
/// (`sos`), vendor fall events from radar sensors and watches (`fall`), smoke, carbon monoxide and water-leak alarms.
///
/// Rules (parameters under `detectors.alarms`, defaults in brackets):
/// - `sos`, vendor `fall`: every press/event raises (a device that repeats one press within
///   `repeatSuppressSeconds` [10] raises once); a vendor sensor that later reports `false` clears it.
/// - A press of a button named in `sosButtons` [none] (its device, or device/channel, as `explain` shows it) raises
///   `sos` like an SOS key, with the press (`single`, `double`, `long`, `hold`…) in the detail; a release is not a
///   press.
/// - `smoke`, `co`: raised on the rising edge, cleared on the falling edge.
/// - `water-leak`: raised when the sensor stays wet for `waterLeakConfirmSeconds` [120]: a real leak stays wet, while a
///   toilet-flush float switch or a splash goes dry within a minute or so (up to 71 s in the shared homes); cleared when it reports dry.
public final class AlarmDetector: Detector {
    public static let name = "alarms"
    public static let kinds: [DetectionKind] = [.sos, .fall, .smoke, .co, .waterLeak]

    let context: DetectorContext
    let repeatSuppressSeconds: Double
    let waterLeakConfirmSeconds: Double
    let sosButtons: Set<String>

    struct SlotState {
        var kind: DetectionKind
        var signal: SignalID
        var active = false        // raised and not cleared
        var wetSince = Double.nan // water leak: wet, not yet confirmed
        var lastRaise = -Double.infinity
        var isButton = false
    }
    var slots: [SlotState] = []
    var slotOfSignal = SignalSlots()

    public static func make(_ settings: JSONObject?, _ path: String, _ context: DetectorContext) throws(DetectorConfigurationError) -> any Detector {
        var r = SettingsReader(settings, path: path)
        let repeatSuppress = r.number("repeatSuppressSeconds", default: 10, range: 0...600)
        let confirm = r.number("waterLeakConfirmSeconds", default: 120, range: 0...3600)
        let sosButtons = r.strings("sosButtons", default: [])
        r.rejectUnknown(["repeatSuppressSeconds", "waterLeakConfirmSeconds", "sosButtons"])
        try r.finish()
        return AlarmDetector(context: context, repeatSuppressSeconds: repeatSuppress, waterLeakConfirmSeconds: confirm,
                             sosButtons: sosButtons)
    }

    /// The device raised less than `repeatSuppressSeconds` ago: the same press or event again (a clock step back
    /// never suppresses).
    @inline(__always) func repeats(_ s: Int, at t: Double) -> Bool {
        t - slots[s].lastRaise < repeatSuppressSeconds && t >= slots[s].lastRaise
    }

    init(context: DetectorContext, repeatSuppressSeconds: Double, waterLeakConfirmSeconds: Double, sosButtons: [String] = []) {
        self.context = context
        self.repeatSuppressSeconds = repeatSuppressSeconds
        self.waterLeakConfirmSeconds = waterLeakConfirmSeconds
        self.sosButtons = Set(sosButtons)
    }

    static func kind(of signal: SignalKind) -> DetectionKind? {
        switch signal {
        case .sos: .sos
        case .fall: .fall
        case .smoke: .smoke
        case .carbonMonoxide: .co
        case .waterLeak: .waterLeak
        default: nil
        }
    }

    public func accepts(_ signal: SignalInfo) -> Bool {
        let isSOSButton = signal.kind == .button
            && (sosButtons.contains(signal.device) || sosButtons.contains(signal.deviceName))
        guard let kind = isSOSButton ? .sos : Self.kind(of: signal.kind) else { return false }
        slotOfSignal.assign(signal.id, slot: slots.count)
        slots.append(SlotState(kind: kind, signal: signal.id, isButton: isSOSButton))
        return true
    }

    /// Button words that end a press rather than make one (Zigbee2MQTT `release`, `hold_release`, `long_release`).
    static func isRelease(_ word: String) -> Bool { word.hasSuffix("release") || word.hasSuffix("released") }

    public func process(_ sample: Sample) {
        guard let s = slotOfSignal.slot(of: sample.signal) else { return }
        if slots[s].isButton { return press(s, sample) }
        let on = sample.value != 0
        switch slots[s].kind {
        case .sos, .fall:
            if on {
                if !repeats(s, at: sample.time) {
                    slots[s].lastRaise = sample.time
                    slots[s].active = true
                    emit(s, .raised, sample.time, detail: ["source": "device", "value": .bool(true)])
                }
            } else if slots[s].active {
                slots[s].active = false
                emit(s, .cleared, sample.time, detail: ["source": "device", "value": .bool(false)])
            }
        case .waterLeak:
            if on {
                if !slots[s].active && slots[s].wetSince.isNaN { slots[s].wetSince = sample.time }
                checkWet(s, at: sample.time)
            } else {
                slots[s].wetSince = .nan
                if slots[s].active {
                    slots[s].active = false
                    emit(s, .cleared, sample.time, detail: ["wet": false])
                }
            }
        default:
            if on && !slots[s].active {
                slots[s].active = true
                emit(s, .raised, sample.time, detail: ["value": .bool(true)])
            } else if !on && slots[s].active {
                slots[s].active = false
                emit(s, .cleared, sample.time, detail: ["value": .bool(false)])
            }
        }
    }

    /// A press of an SOS button. Its word is looked up only here, on a press of a marked button (rare), never for
    /// other signals.
    func press(_ s: Int, _ sample: Sample) {
        guard let word = context.signals.text(for: Int(sample.value), of: slots[s].signal), !Self.isRelease(word) else { return }
        guard !repeats(s, at: sample.time) else { return }
        slots[s].lastRaise = sample.time
        emit(s, .raised, sample.time, detail: ["source": "button", "press": .string(word)])
    }

    func checkWet(_ s: Int, at time: Double) {
        let since = slots[s].wetSince
        guard !since.isNaN, !slots[s].active else { return }
        if time < since { slots[s].wetSince = time; return }   // the clock stepped back: restart the wait
        if time - since >= waterLeakConfirmSeconds {
            slots[s].active = true
            slots[s].wetSince = .nan
            emit(s, .raised, time, detail: ["wetSince": .string(Timestamp.rfc3339(since)),
                                            "confirmedAfterSeconds": .number(time - since)])
        }
    }

    public func advance(to time: Double) {
        for s in slots.indices where slots[s].kind == .waterLeak { checkWet(s, at: time) }
    }

    func emit(_ s: Int, _ state: DetectionState, _ time: Double, detail: JSONObject) {
        context.emit(context.detection(slots[s].kind, state, time: time, signal: slots[s].signal, detail: detail))
    }
}
