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
/// The quiet statistics are kept per local week (`weeks` buckets, the current one and the ones before it) and a
/// week older than that is forgotten, so a routine that changes is relearned within four weeks:
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
    /// 3: the quiet statistics by week (`weeks`), forgotten after four; 2 (read, as one week): all time at once.
    public static let version = 3
    /// Longest quiets kept per context and start slot (the tail fit uses at most this many).
    public static let topK = 10
    public static let slotSeconds = 900.0
    public static let slots = 96
    public static let historyDays = 28
    /// Weeks of quiet statistics kept: the current local week and the three before it (22 to 28 days).
    public static let weeks = 4
    static let contexts = RoutineContext.allCases.count
    static let perWeek = contexts * slots

    /// Longest quiet (seconds) reached in each slot, by week and context: `[week * perWeek + context * slots + slot]`.
    public var longest: [Double]
    /// Quiet periods alive in each slot, by week and context.
    public var observations: [Double]
    /// The `topK` longest whole quiet periods (seconds, longest first, 0 = none) that began in each slot, by week and
    /// context: `[(week * perWeek + context * slots + slot) * topK + rank]`; and how many began there.
    public var longestFromStart: [Double]
    public var starts: [Double]
    /// The local week (day number / 7, floored) each bucket holds (`Int.min`: none) and its days with activity.
    public var weekOfBucket: [Int]
    public var daysOfBucket: [Double]
    /// The newest local week seen: buckets older than `weeks` before it are forgotten.
    public var currentWeek = Int.min
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
        longest = Array(repeating: 0, count: Self.weeks * Self.perWeek)
        observations = Array(repeating: 0, count: Self.weeks * Self.perWeek)
        longestFromStart = Array(repeating: 0, count: Self.weeks * Self.perWeek * Self.topK)
        starts = Array(repeating: 0, count: Self.weeks * Self.perWeek)
        weekOfBucket = Array(repeating: .min, count: Self.weeks)
        daysOfBucket = Array(repeating: 0, count: Self.weeks)
    }

    /// The index of a context and slot within a week's bucket (add `bucket * perWeek`).
    @inline(__always) static func index(_ c: RoutineContext, _ slot: Int) -> Int { c.rawValue * slots + slot }

    static func week(ofDay d: Int) -> Int { d >= 0 ? d / 7 : (d - 6) / 7 }

    /// Whether bucket `b` holds one of the last `weeks` weeks.
    @inline(__always) func live(_ b: Int) -> Bool { weekOfBucket[b] != .min && weekOfBucket[b] > currentWeek - Self.weeks }

    /// The bucket for local week `w`, emptied when it held an older week; nil for a week already forgotten.
    mutating func bucket(week w: Int) -> Int? {
        if w > currentWeek { currentWeek = w }
        guard w > currentWeek - Self.weeks else { return nil }
        let b = (w % Self.weeks + Self.weeks) % Self.weeks
        if weekOfBucket[b] != w {
            let base = b * Self.perWeek
            for i in base..<base + Self.perWeek { longest[i] = 0; observations[i] = 0; starts[i] = 0 }
            for i in base * Self.topK..<(base + Self.perWeek) * Self.topK { longestFromStart[i] = 0 }
            weekOfBucket[b] = w
            daysOfBucket[b] = 0
        }
        return b
    }

    /// Counts a local day with activity (its week's bucket, and the days learning waits for).
    public mutating func countDay(_ d: Int) {
        guard d != lastDay else { return }
        lastDay = d
        learnedDays += 1
        if let b = bucket(week: Self.week(ofDay: d)) { daysOfBucket[b] += 1 }
    }

    /// Days with activity in the weeks kept.
    public var daysKept: Double { (0..<Self.weeks).reduce(0) { live($1) ? $0 + daysOfBucket[$1] : $0 } }

    /// Quiet periods at home per day in the weeks kept.
    public var quietsPerDay: Double {
        let days = daysKept
        guard days > 0 else { return 0 }
        var n = 0.0
        for b in 0..<Self.weeks where live(b) {
            let base = b * Self.perWeek + Self.index(.home, 0)
            for i in base..<base + Self.slots { n += starts[i] }
        }
        return n / days
    }

    /// Learns one finished quiet period `[start, end)` that began in `context` (into the week it ended in): every
    /// slot it spans records how long it had lasted by the end of its stay in that slot. DST-safe (slots are local
    /// time; a repeated hour records twice, a skipped one not at all).
    public mutating func learn(start: Double, end: Double, context: RoutineContext, localTime: LocalTime) {
        guard end > start, start.isFinite, end.isFinite,
              let b = bucket(week: Self.week(ofDay: localTime.dayNumber(at: end))) else { return }
        let base = b * Self.perWeek
        let first = min(Self.slots - 1, Int(localTime.secondsOfDay(at: start) / Self.slotSeconds))
        for c in context == .out ? [context] : [context, .home] {
            let i = base + Self.index(c, first)
            insertTop(end - start, at: i * Self.topK)
            starts[i] += 1
        }
        var t = start
        var steps = 0
        while t < end && steps < 4 * Self.slots {
            let sod = localTime.secondsOfDay(at: t)
            let slot = min(Self.slots - 1, Int(sod / Self.slotSeconds))
            let stepEnd = min(end, t + (Self.slotSeconds - sod.truncatingRemainder(dividingBy: Self.slotSeconds)))
            record(base + Self.index(context, slot), elapsed: stepEnd - start)
            if context != .out { record(base + Self.index(.home, slot), elapsed: stepEnd - start) }
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

    @inline(__always) mutating func record(_ i: Int, elapsed: Double) {
        if elapsed > longest[i] { longest[i] = elapsed }
        observations[i] += 1
    }

    /// The slots `k ± w` (the whole day when `w >= slots / 2`), wrapped, for every week kept: `body(i)` with the
    /// index of each into the per-slot arrays.
    @inline(__always) func forEachSlot(around k: Int, _ w: Int, _ c: RoutineContext, _ body: (Int) -> Void) {
        let lo = w >= Self.slots / 2 ? 0 : k - w
        let hi = w >= Self.slots / 2 ? Self.slots - 1 : k + w
        for b in 0..<Self.weeks where live(b) {
            for j in lo...hi { body(b * Self.perWeek + Self.index(c, (j % Self.slots + Self.slots) % Self.slots)) }
        }
    }

    /// The longest normal quiet around `secondsOfDay` for `context`, and the observations behind it: within
    /// ± `windowSlots`, widened (×2, ×4, then the whole day) until `minimumObservations` are reached; a context that
    /// has too few even over the whole day falls back to the pooled home context. `allDay` looks at the whole day
    /// at once (sitting sessions move through the day).
    public func envelope(_ context: RoutineContext, secondsOfDay: Double, windowSlots: Int,
                         minimumObservations: Double, allDay: Bool = false)
        -> (longest: Double, observations: Double, context: RoutineContext, windowSlots: Int) {
        let k = min(Self.slots - 1, max(0, Int(secondsOfDay / Self.slotSeconds)))
        func scan(_ c: RoutineContext, _ w: Int) -> (Double, Double) {
            var m = 0.0, n = 0.0
            forEachSlot(around: k, w, c) { i in
                if longest[i] > m { m = longest[i] }
                n += observations[i]
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
            forEachSlot(around: slot, w, c) { i in
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
        o["currentWeek"] = currentWeek == Int.min ? .null : .number(Double(currentWeek))
        o["weeks"] = .array((0..<Self.weeks).filter(live).sorted { weekOfBucket[$0] < weekOfBucket[$1] }.map { b in
            .object(["week": .number(Double(weekOfBucket[b])), "days": .number(daysOfBucket[b]), "quietBySlot": slotsJSON(b)])
        })
        o["wakeUps"] = .array(wakeUps.map { .string(Self.clock($0)) })
        o["bedtimes"] = .array(bedtimes.map { .string(Self.clock($0)) })
        o["bathroomVisitsMinutes"] = .array(bathroomVisits.map { Self.minutes($0) })
        o["nightBathroomTrips"] = .array(nightBathroomTrips.map { .number($0) })
        o["kitchenVisits"] = .array(kitchenVisits.map { .number($0) })
        return .object(o)
    }

    func slotsJSON(_ b: Int) -> JSONValue {
        var ctx = JSONObject()
        for c in RoutineContext.allCases {
            let range = b * Self.perWeek + Self.index(c, 0)..<b * Self.perWeek + Self.index(c, 0) + Self.slots
            ctx[c.name] = .object([
                "longestQuietMinutes": .array(longest[range].map { Self.minutes($0) }),
                "observations": .array(observations[range].map { .number($0) }),
                "longestFromStartMinutes": .array(range.map { i in
                    .array(longestFromStart[i * Self.topK..<(i + 1) * Self.topK].filter { $0 > 0 }.map { Self.minutes($0) })
                }),
                "starts": .array(starts[range].map { .number($0) }),
            ])
        }
        return .object(ctx)
    }

    /// Reads what `json` wrote, and version 2 (all time as one week, the week of its last day); any other version or
    /// shape is a typed error naming the field.
    public init(json: JSONValue) throws(DetectorStateError) {
        self.init()
        guard let o = json.objectValue else { throw DetectorStateError("routine: expected an object, found \(json.typeName)") }
        guard let v = o["version"]?.doubleValue else { throw DetectorStateError("routine.version: missing") }
        guard Int(v) == Self.version || Int(v) == 2 else {
            throw DetectorStateError("routine.version: \(JSONWriter.format(v)) is not 2 or \(Self.version) (made by another careMonitord version: move it away and bootstrap again with `careMonitord learn`)")
        }
        if let s = o["slotMinutes"]?.doubleValue, s != Self.slotSeconds / 60 {
            throw DetectorStateError("routine.slotMinutes: \(JSONWriter.format(s)) is not \(JSONWriter.format(Self.slotSeconds / 60))")
        }
        func number(_ key: String) throws(DetectorStateError) -> Double {
            guard let n = o[key]?.doubleValue, n.isFinite, n >= 0 else { throw DetectorStateError("routine.\(key): expected a non-negative number") }
            return n
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
        if Int(v) == 2 {
            guard let ctx = o["quietBySlot"] else { throw DetectorStateError("routine.quietBySlot: expected an object") }
            let w = lastDay == Int.min ? 0 : Self.week(ofDay: lastDay)
            currentWeek = w
            let b = bucket(week: w)!
            daysOfBucket[b] = Double(learnedDays)
            try readSlots(ctx, "routine.quietBySlot", into: b)
        } else {
            guard let weeks = o["weeks"]?.arrayValue else { throw DetectorStateError("routine.weeks: expected an array") }
            if let w = o["currentWeek"]?.doubleValue { currentWeek = Int(w) }
            for (i, e) in weeks.enumerated() {
                guard let w = e["week"]?.doubleValue, let days = e["days"]?.doubleValue, days >= 0, let ctx = e["quietBySlot"] else {
                    throw DetectorStateError("routine.weeks[\(i)]: expected {\"week\", \"days\", \"quietBySlot\"}")
                }
                guard let b = bucket(week: Int(w)), weekOfBucket[b] == Int(w), daysOfBucket[b] == 0 else {
                    throw DetectorStateError("routine.weeks[\(i)].week: \(JSONWriter.format(w)) is repeated or older than the last \(Self.weeks) weeks")
                }
                daysOfBucket[b] = days
                try readSlots(ctx, "routine.weeks[\(i)].quietBySlot", into: b)
            }
        }
        wakeUps = try clocks("wakeUps")
        bedtimes = try clocks("bedtimes")
        bathroomVisits = Array(try Self.numbers(o["bathroomVisitsMinutes"], "routine.bathroomVisitsMinutes", scale: 60).suffix(200))
        nightBathroomTrips = Array(try Self.numbers(o["nightBathroomTrips"], "routine.nightBathroomTrips").suffix(Self.historyDays))
        kitchenVisits = Array(try Self.numbers(o["kitchenVisits"], "routine.kitchenVisits").suffix(Self.historyDays))
    }

    static func numbers(_ value: JSONValue?, _ path: String, count: Int? = nil, scale: Double = 1) throws(DetectorStateError) -> [Double] {
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

    /// One week's `quietBySlot` object into bucket `b`.
    mutating func readSlots(_ value: JSONValue, _ path: String, into b: Int) throws(DetectorStateError) {
        guard let ctx = value.objectValue else { throw DetectorStateError("\(path): expected an object") }
        for key in ctx.keys where RoutineContext(name: key) == nil {
            throw DetectorStateError("\(path).\(key): unknown context; known: \(RoutineContext.allCases.map(\.name).joined(separator: ", "))")
        }
        for c in RoutineContext.allCases {
            guard let e = ctx[c.name] else { continue }
            let l = try Self.numbers(e["longestQuietMinutes"], "\(path).\(c.name).longestQuietMinutes", count: Self.slots, scale: 60)
            let n = try Self.numbers(e["observations"], "\(path).\(c.name).observations", count: Self.slots)
            let lsPath = "\(path).\(c.name).longestFromStartMinutes"
            guard let lsa = e["longestFromStartMinutes"]?.arrayValue, lsa.count == Self.slots else {
                throw DetectorStateError("\(lsPath): expected \(Self.slots) arrays of at most \(Self.topK) numbers")
            }
            var ls: [[Double]] = []
            for (s, x) in lsa.enumerated() {
                let v = try Self.numbers(x, "\(lsPath)[\(s)]", scale: 60)
                guard v.count <= Self.topK else { throw DetectorStateError("\(lsPath)[\(s)]: more than \(Self.topK) values") }
                ls.append(v.sorted(by: >))
            }
            let ns = try Self.numbers(e["starts"], "\(path).\(c.name).starts", count: Self.slots)
            for s in 0..<Self.slots {
                let i = b * Self.perWeek + Self.index(c, s)
                longest[i] = l[s]
                observations[i] = n[s]
                for (r, v) in ls[s].enumerated() { longestFromStart[i * Self.topK + r] = v }
                starts[i] = ns[s]
            }
        }
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
