import CareSupport

/// The context of a quiet period: what the person was last seen doing, where. Pressure sensors win over rooms
/// (someone on the bed is in bed, whatever room the bed is in); the front door makes the person possibly out.
public enum RoutineContext: Int, Sendable, CaseIterable {
    case bed, seat, bedroom, bathroom, kitchen, living, other
    /// Just came home (a door event after a long quiet that began with the door).
    case arrived
    /// The last activity was the front door (possibly out of the house: `not-home`, never `inactivity`).
    case out
    /// Every at-home context pooled: the fallback where one context has too few observations.
    case home

    public var name: String {
        switch self {
        case .bed: "bed"
        case .seat: "seat"
        case .bedroom: "bedroom"
        case .bathroom: "bathroom"
        case .kitchen: "kitchen"
        case .living: "living"
        case .other: "other"
        case .arrived: "arrived"
        case .out: "out"
        case .home: "home"
        }
    }

    public init?(name: String) {
        guard let c = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = c
    }

    /// Contexts in which a person may be asleep (the night's rest and the wake-up are learned from their quiets).
    var mayBeAsleep: Bool {
        switch self {
        case .bed, .seat, .bedroom, .bathroom, .living, .other: true
        default: false
        }
    }
}

/// What the routine detector has learned about one person, in local time. Plain values: the state directory's
/// `learned.json` holds it as readable JSON (`json` / `init(json:)`).
///
/// - **Longest quiets by start**, per context and 15-minute slot: the `topK` longest whole quiet periods that began
///   then, and how many began there (the tail the `inactivity` limit is fitted to).
/// - **Quiet envelope**, per context and 15-minute slot of the local day: the longest time already quiet that was
///   seen at that time of day ("at 14:00, after the kitchen, she has been quiet for up to 64 min"), and how many
///   quiet periods were alive in that slot. A quiet period updates every slot it spans, so the envelope says how
///   long a normal quiet can have lasted *by this time of day* — the same question the detector asks.
/// - **Wake-ups and bedtimes** of the last `historyDays` days (local minutes of day).
/// - **Bathroom visits** (minutes, daytime) and per-day counts (night bathroom trips, kitchen visits) for
///   `bathroom-dwell` and `routine-drift`.
public struct RoutineModel: Sendable, Equatable {
    /// 2: `longestFromStartMinutes` holds the `topK` longest quiets per slot (1 kept only the longest).
    public static let version = 2
    /// Longest quiets kept per context and start slot (the tail fit uses at most this many).
    public static let topK = 10
    public static let slotSeconds = 900.0
    public static let slots = 96
    public static let historyDays = 28
    static let contexts = RoutineContext.allCases.count

    /// Longest quiet (seconds) reached in each slot, by context: `[context * slots + slot]`.
    public var longest: [Double]
    /// Quiet periods alive in each slot, by context.
    public var observations: [Double]
    /// The `topK` longest whole quiet periods (seconds, longest first, 0 = none) that began in each slot, by context:
    /// `[(context * slots + slot) * topK + rank]`; and how many began there (`[context * slots + slot]`).
    public var longestFromStart: [Double]
    public var starts: [Double]
    /// Local days with at least one activity (learning takes `learningDays` of them).
    public var learnedDays = 0
    /// The local day number of the last day counted.
    public var lastDay = Int.min
    public var firstSeen = Double.nan
    public var lastSeen = Double.nan
    /// Local seconds of day, most recent last.
    public var wakeUps: [Double] = []
    public var bedtimes: [Double] = []
    /// Daytime bathroom visits, seconds, most recent last (at most 200).
    public var bathroomVisits: [Double] = []
    /// Per local day, most recent last: bathroom trips in the night that ended that morning; kitchen visits.
    public var nightBathroomTrips: [Double] = []
    public var kitchenVisits: [Double] = []

    public init() {
        longest = Array(repeating: 0, count: Self.contexts * Self.slots)
        observations = Array(repeating: 0, count: Self.contexts * Self.slots)
        longestFromStart = Array(repeating: 0, count: Self.contexts * Self.slots * Self.topK)
        starts = Array(repeating: 0, count: Self.contexts * Self.slots)
    }

    @inline(__always) static func index(_ c: RoutineContext, _ slot: Int) -> Int { c.rawValue * slots + slot }

    /// Learns one finished quiet period `[start, end)` that began in `context`: every slot it spans records how long
    /// it had lasted by the end of its stay in that slot. DST-safe (slots are local time; a repeated hour records twice,
    /// a skipped one not at all).
    public mutating func learn(start: Double, end: Double, context: RoutineContext, localTime: LocalTime) {
        guard end > start, start.isFinite, end.isFinite else { return }
        let first = min(Self.slots - 1, Int(localTime.secondsOfDay(at: start) / Self.slotSeconds))
        for c in context == .out ? [context] : [context, .home] {
            let i = Self.index(c, first)
            insertTop(end - start, at: i * Self.topK)
            starts[i] += 1
        }
        var t = start
        var steps = 0
        while t < end && steps < 4 * Self.slots {
            let sod = localTime.secondsOfDay(at: t)
            let slot = min(Self.slots - 1, Int(sod / Self.slotSeconds))
            let stepEnd = min(end, t + (Self.slotSeconds - sod.truncatingRemainder(dividingBy: Self.slotSeconds)))
            record(context, slot, elapsed: stepEnd - start)
            if context != .out { record(.home, slot, elapsed: stepEnd - start) }
            t = stepEnd
            steps += 1
        }
    }

    /// Inserts `value` into the descending top-`topK` list at `base`.
    mutating func insertTop(_ value: Double, at base: Int) {
        var r = Self.topK
        while r > 0 && longestFromStart[base + r - 1] < value { r -= 1 }
        guard r < Self.topK else { return }
        var j = Self.topK - 1
        while j > r { longestFromStart[base + j] = longestFromStart[base + j - 1]; j -= 1 }
        longestFromStart[base + r] = value
    }

    @inline(__always) mutating func record(_ c: RoutineContext, _ slot: Int, elapsed: Double) {
        let i = Self.index(c, slot)
        if elapsed > longest[i] { longest[i] = elapsed }
        observations[i] += 1
    }

    /// The longest normal quiet around `secondsOfDay` for `context`, and the observations behind it: within
    /// ± `windowSlots`, widened (×2, ×4, then the whole day) until `minimumObservations` are reached; a context that
    /// has too few even over the whole day falls back to the pooled home context. `allDay` looks at the whole day
    /// at once (sitting sessions move through the day).
    public func envelope(_ context: RoutineContext, secondsOfDay: Double, windowSlots: Int,
                         minimumObservations: Double, allDay: Bool = false, fromStart: Bool = false)
        -> (longest: Double, observations: Double, context: RoutineContext, windowSlots: Int) {
        let k = min(Self.slots - 1, max(0, Int(secondsOfDay / Self.slotSeconds)))
        func scan(_ c: RoutineContext, _ w: Int) -> (Double, Double) {
            var m = 0.0, n = 0.0
            let lo = w >= Self.slots / 2 ? 0 : k - w
            let hi = w >= Self.slots / 2 ? Self.slots - 1 : k + w
            for j in lo...hi {
                let s = (j % Self.slots + Self.slots) % Self.slots
                let i = Self.index(c, s)
                let l = fromStart ? longestFromStart[i * Self.topK] : longest[i]
                if l > m { m = l }
                n += fromStart ? starts[i] : observations[i]
            }
            return (m, n)
        }
        let tiers = allDay ? [Self.slots / 2] : [windowSlots, windowSlots * 2, windowSlots * 4, Self.slots / 2]
        var last = (0.0, 0.0)
        for w in tiers {
            last = scan(context, w)
            if last.1 >= minimumObservations || context == .out || context == .home { return (last.0, last.1, context, w) }
        }
        let (hm, hn) = scan(.home, windowSlots)
        return (hm, hn, .home, windowSlots)
    }

    /// The tail of the quiets that began around `secondsOfDay` in `context`: the `k` longest whole quiets (longest
    /// first, into `top`, which must hold `k`; fewer when fewer were seen), how many quiets began in the window, the
    /// context used and the window (± slots; `slots / 2` = the whole day). The window widens like `envelope`'s
    /// (×2, ×4, whole day) until `minimumObservations` began in it, then falls back to the pooled home context.
    public func startTail(_ context: RoutineContext, secondsOfDay: Double, windowSlots: Int, minimumObservations: Double,
                          allDay: Bool = false, k: Int, into top: inout [Double])
        -> (count: Int, observations: Double, context: RoutineContext, windowSlots: Int) {
        let slot = min(Self.slots - 1, max(0, Int(secondsOfDay / Self.slotSeconds)))
        let k = min(k, Self.topK, top.count)
        func scan(_ c: RoutineContext, _ w: Int, _ top: inout [Double]) -> (Int, Double) {
            var count = 0, n = 0.0
            let lo = w >= Self.slots / 2 ? 0 : slot - w
            let hi = w >= Self.slots / 2 ? Self.slots - 1 : slot + w
            for j in lo...hi {
                let s = (j % Self.slots + Self.slots) % Self.slots
                let i = Self.index(c, s)
                n += starts[i]
                for r in 0..<Self.topK {
                    let v = longestFromStart[i * Self.topK + r]
                    if v <= 0 || (count == k && v <= top[k - 1]) { break }
                    // Insert v into the descending top-k.
                    var p = count == k ? k - 1 : count
                    while p > 0 && top[p - 1] < v { top[p] = top[p - 1]; p -= 1 }
                    top[p] = v
                    if count < k { count += 1 }
                }
            }
            return (count, n)
        }
        let tiers = allDay ? [Self.slots / 2] : [windowSlots, windowSlots * 2, windowSlots * 4, Self.slots / 2]
        for w in tiers {
            let (count, n) = scan(context, w, &top)
            if n >= minimumObservations || context == .out || context == .home { return (count, n, context, w) }
        }
        let (count, n) = scan(.home, windowSlots, &top)
        return (count, n, .home, windowSlots)
    }

    static func push(_ value: Double, to array: inout [Double], limit: Int) {
        array.append(value)
        if array.count > limit { array.removeFirst(array.count - limit) }
    }

    // MARK: JSON

    static func clock(_ seconds: Double) -> String {
        let m = Int((seconds / 60).rounded()) % 1440
        let h = m / 60, mm = m % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (mm < 10 ? "0" : "") + String(mm)
    }

    static func seconds(clock text: String) -> Double? {
        let p = text.split(separator: ":")
        guard p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return Double(h * 3600 + m * 60)
    }

    static func minutes(_ s: Double) -> JSONValue { .number((s / 6).rounded() / 10) }

    /// The readable form kept in `learned.json`.
    public var json: JSONValue {
        var o = JSONObject()
        o["version"] = .number(Double(Self.version))
        o["slotMinutes"] = .number(Self.slotSeconds / 60)
        o["learnedDays"] = .number(Double(learnedDays))
        o["lastDay"] = lastDay == Int.min ? .null : .number(Double(lastDay))
        o["firstSeen"] = firstSeen.isFinite ? .string(Timestamp.rfc3339(firstSeen)) : .null
        o["lastSeen"] = lastSeen.isFinite ? .string(Timestamp.rfc3339(lastSeen)) : .null
        var ctx = JSONObject()
        for c in RoutineContext.allCases {
            let range = Self.index(c, 0)..<Self.index(c, 0) + Self.slots
            ctx[c.name] = .object([
                "longestQuietMinutes": .array(longest[range].map { Self.minutes($0) }),
                "observations": .array(observations[range].map { .number($0) }),
                "longestFromStartMinutes": .array(range.map { i in
                    .array(longestFromStart[i * Self.topK..<(i + 1) * Self.topK].filter { $0 > 0 }.map { Self.minutes($0) })
                }),
                "starts": .array(starts[range].map { .number($0) }),
            ])
        }
        o["quietBySlot"] = .object(ctx)
        o["wakeUps"] = .array(wakeUps.map { .string(Self.clock($0)) })
        o["bedtimes"] = .array(bedtimes.map { .string(Self.clock($0)) })
        o["bathroomVisitsMinutes"] = .array(bathroomVisits.map { Self.minutes($0) })
        o["nightBathroomTrips"] = .array(nightBathroomTrips.map { .number($0) })
        o["kitchenVisits"] = .array(kitchenVisits.map { .number($0) })
        return .object(o)
    }

    /// Reads what `json` wrote; any other version or shape is a typed error naming the field.
    public init(json: JSONValue) throws(DetectorStateError) {
        self.init()
        guard let o = json.objectValue else { throw DetectorStateError("routine: expected an object, found \(json.typeName)") }
        guard let v = o["version"]?.doubleValue else { throw DetectorStateError("routine.version: missing") }
        guard Int(v) == Self.version else {
            throw DetectorStateError("routine.version: \(JSONWriter.format(v)) is not \(Self.version) (made by another careMonitord version: move it away and bootstrap again with `careMonitord learn`)")
        }
        if let s = o["slotMinutes"]?.doubleValue, s != Self.slotSeconds / 60 {
            throw DetectorStateError("routine.slotMinutes: \(JSONWriter.format(s)) is not \(JSONWriter.format(Self.slotSeconds / 60))")
        }
        func number(_ key: String) throws(DetectorStateError) -> Double {
            guard let n = o[key]?.doubleValue, n.isFinite, n >= 0 else { throw DetectorStateError("routine.\(key): expected a non-negative number") }
            return n
        }
        func numbers(_ value: JSONValue?, _ path: String, count: Int? = nil, scale: Double = 1) throws(DetectorStateError) -> [Double] {
            guard let a = value?.arrayValue else { throw DetectorStateError("\(path): expected an array of numbers") }
            var out: [Double] = []
            out.reserveCapacity(a.count)
            for (i, x) in a.enumerated() {
                guard let n = x.doubleValue, n.isFinite, n >= 0 else { throw DetectorStateError("\(path)[\(i)]: expected a non-negative number") }
                out.append(n * scale)
            }
            if let count, out.count != count { throw DetectorStateError("\(path): expected \(count) values, found \(out.count)") }
            return out
        }
        func clocks(_ key: String) throws(DetectorStateError) -> [Double] {
            guard let a = o[key]?.arrayValue else { throw DetectorStateError("routine.\(key): expected an array of \"HH:MM\"") }
            var out: [Double] = []
            for (i, x) in a.enumerated() {
                guard let s = x.stringValue, let v = Self.seconds(clock: s) else { throw DetectorStateError("routine.\(key)[\(i)]: expected \"HH:MM\"") }
                out.append(v)
            }
            return Array(out.suffix(Self.historyDays))
        }
        learnedDays = Int(try number("learnedDays"))
        if let d = o["lastDay"]?.doubleValue { lastDay = Int(d) }
        if let s = o["firstSeen"]?.stringValue { firstSeen = Timestamp.parse(s) ?? .nan }
        if let s = o["lastSeen"]?.stringValue { lastSeen = Timestamp.parse(s) ?? .nan }
        guard let ctx = o["quietBySlot"]?.objectValue else { throw DetectorStateError("routine.quietBySlot: expected an object") }
        for key in ctx.keys where RoutineContext(name: key) == nil {
            throw DetectorStateError("routine.quietBySlot.\(key): unknown context; known: \(RoutineContext.allCases.map(\.name).joined(separator: ", "))")
        }
        for c in RoutineContext.allCases {
            guard let e = ctx[c.name] else { continue }
            let l = try numbers(e["longestQuietMinutes"], "routine.quietBySlot.\(c.name).longestQuietMinutes", count: Self.slots, scale: 60)
            let n = try numbers(e["observations"], "routine.quietBySlot.\(c.name).observations", count: Self.slots)
            let path = "routine.quietBySlot.\(c.name).longestFromStartMinutes"
            guard let lsa = e["longestFromStartMinutes"]?.arrayValue, lsa.count == Self.slots else {
                throw DetectorStateError("\(path): expected \(Self.slots) arrays of at most \(Self.topK) numbers")
            }
            var ls: [[Double]] = []
            for (s, x) in lsa.enumerated() {
                let v = try numbers(x, "\(path)[\(s)]", scale: 60)
                guard v.count <= Self.topK else { throw DetectorStateError("\(path)[\(s)]: more than \(Self.topK) values") }
                ls.append(v.sorted(by: >))
            }
            let ns = try numbers(e["starts"], "routine.quietBySlot.\(c.name).starts", count: Self.slots)
            for s in 0..<Self.slots {
                longest[Self.index(c, s)] = l[s]
                observations[Self.index(c, s)] = n[s]
                for (r, v) in ls[s].enumerated() { longestFromStart[Self.index(c, s) * Self.topK + r] = v }
                starts[Self.index(c, s)] = ns[s]
            }
        }
        wakeUps = try clocks("wakeUps")
        bedtimes = try clocks("bedtimes")
        bathroomVisits = Array(try numbers(o["bathroomVisitsMinutes"], "routine.bathroomVisitsMinutes", scale: 60).suffix(200))
        nightBathroomTrips = Array(try numbers(o["nightBathroomTrips"], "routine.nightBathroomTrips").suffix(Self.historyDays))
        kitchenVisits = Array(try numbers(o["kitchenVisits"], "routine.kitchenVisits").suffix(Self.historyDays))
    }
}

/// Small robust statistics for the routine model.
enum RobustStats {
    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }

    /// Median absolute deviation scaled to a normal standard deviation (× 1.4826).
    static func sigma(_ xs: [Double]) -> Double {
        let m = median(xs)
        return 1.4826 * median(xs.map { abs($0 - m) })
    }

    /// Circular median of clock times (seconds of day) around a reference, so 23:50 and 00:10 average to midnight:
    /// values are unwrapped to within 12 h of the plain median first.
    static func clockMedian(_ xs: [Double]) -> (median: Double, sigma: Double) {
        guard !xs.isEmpty else { return (.nan, .nan) }
        // Reference: the value whose circular distances to the others are smallest in total.
        var best = xs[0], bestCost = Double.infinity
        for r in xs {
            var c = 0.0
            for x in xs { let d = abs(x - r); c += min(d, 86_400 - d) }
            if c < bestCost { bestCost = c; best = r }
        }
        let unwrapped = xs.map { x -> Double in
            var d = x - best
            if d > 43_200 { d -= 86_400 } else if d < -43_200 { d += 86_400 }
            return best + d
        }
        var m = median(unwrapped)
        let s = sigma(unwrapped)
        m = m.truncatingRemainder(dividingBy: 86_400)
        if m < 0 { m += 86_400 }
        return (m, s)
    }
}
