#if canImport(Glibc)
import Glibc
#endif

/// A time zone read from the system's zone data (`/usr/share/zoneinfo`, Debian's `tzdata`, or `$TZDIR`): the
/// same data `check-config` checks names against and `apt` keeps current, with no ICU behind it.
///
/// Reads the TZif file (RFC 8536, version 2 or later: the 64-bit transitions) and its footer, the POSIX TZ rule
/// that holds after the last transition (`GMT0BST,M3.5.0/1,M10.5.0`). Immutable once read: share one instance.
public final class ZoneInfo: Sendable, Hashable, CustomStringConvertible {
    public let identifier: String
    /// Transition times (UTC epoch seconds), ascending, and the UTC offset from each one on.
    private let transitions: [Int64]
    private let offsets: [Int32]
    /// The offset before the first transition (the first time type, RFC 8536 §3.2).
    private let initialOffset: Int32
    private let rule: PosixRule?

    public var description: String { identifier }

    /// Zones are equal when they are the same zone (the same name).
    public static func == (a: ZoneInfo, b: ZoneInfo) -> Bool { a.identifier == b.identifier }
    public func hash(into h: inout Hasher) { h.combine(identifier) }

    /// The zone `identifier` ("Europe/London", "UTC"), or nil when the system has no such zone or its file is not
    /// TZif.
    public convenience init?(identifier: String) {
        guard !identifier.isEmpty, !identifier.hasPrefix("/"), !identifier.split(separator: "/").contains("..") else { return nil }
        let dir = getenv("TZDIR").map { String(cString: $0) } ?? "/usr/share/zoneinfo"
        guard let bytes = DurableFile.read("\(dir)/\(identifier)", limit: 1 << 20) else {
            if identifier == "UTC" || identifier == "Etc/UTC" { self.init(utc: identifier); return }
            return nil
        }
        self.init(identifier: identifier, tzif: bytes)
    }

    private init(utc identifier: String) {
        self.identifier = identifier
        transitions = []; offsets = []; initialOffset = 0; rule = nil
    }

    /// Parses TZif data.
    public init?(identifier: String, tzif b: [UInt8]) {
        func u32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        func i64(_ i: Int) -> Int64 {
            var v: UInt64 = 0
            for k in 0..<8 { v = v << 8 | UInt64(b[i + k]) }
            return Int64(bitPattern: v)
        }
        guard b.count >= 44, b[0] == 0x54, b[1] == 0x5A, b[2] == 0x69, b[3] == 0x66 else { return nil }
        // Counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
        func counts(_ at: Int) -> [Int] { (0..<6).map { u32(at + 20 + 4 * $0) } }
        var c = counts(0)
        var p = 44
        var timeSize = 4
        if b[4] >= 0x32 {  // version 2+: skip the 32-bit block, read the 64-bit one
            p += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]
            guard b.count >= p + 44 else { return nil }
            c = counts(p)
            p += 44
            timeSize = 8
        }
        let (leapcnt, timecnt, typecnt, charcnt) = (c[2], c[3], c[4], c[5])
        let size = timecnt * timeSize + timecnt + typecnt * 6 + charcnt + leapcnt * (timeSize + 4) + c[1] + c[0]
        guard typecnt > 0, b.count >= p + size else { return nil }
        var times: [Int64] = []
        for k in 0..<timecnt { times.append(timeSize == 8 ? i64(p + 8 * k) : Int64(Int32(truncatingIfNeeded: u32(p + 4 * k)))) }
        let indices = p + timecnt * timeSize
        let types = indices + timecnt
        func utoff(_ t: Int) -> Int32 { Int32(truncatingIfNeeded: u32(types + 6 * t)) }
        var offs: [Int32] = []
        for k in 0..<timecnt {
            let t = Int(b[indices + k])
            guard t < typecnt else { return nil }
            offs.append(utoff(t))
        }
        self.identifier = identifier
        transitions = times
        offsets = offs
        initialOffset = utoff(0)
        var r: PosixRule?
        let end = p + size
        if timeSize == 8, end < b.count, b[end] == 0x0A, let close = b[(end + 1)...].firstIndex(of: 0x0A), close > end + 1 {
            r = PosixRule(String(decoding: b[(end + 1)..<close], as: UTF8.self))
        }
        rule = r
    }

    /// Seconds to add to UTC to get local time at `epoch`.
    public func offset(at epoch: Int64) -> Int {
        // After the last listed transition (or with none listed) the footer's rule holds, when there is one.
        if let rule, epoch >= transitions.last ?? .min { return rule.offset(at: epoch) }
        guard let first = transitions.first, epoch >= first else { return Int(initialOffset) }
        var lo = 0, hi = transitions.count - 1  // the last transition at or before epoch
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if transitions[mid] <= epoch { lo = mid } else { hi = mid - 1 }
        }
        return Int(offsets[lo])
    }

    /// The next time after `epoch` at which the offset changes, if within `horizon` seconds (for caching).
    public func nextChange(after epoch: Int64, within horizon: Int64 = 86_400 * 400) -> Int64? {
        // A listed transition comes first; the rule holds only after the last one.
        if let next = transitions.first(where: { $0 > epoch }) { return next - epoch <= horizon ? next : nil }
        return rule?.nextChange(after: epoch, within: horizon)
    }
}

/// A POSIX TZ rule (the TZif footer): `std offset [dst [offset] [,start[/time],end[/time]]]`, as in
/// `CET-1CEST,M3.5.0,M10.5.0/3`. Offsets are west of Greenwich (the sign is the opposite of UTC offsets).
struct PosixRule: Sendable {
    enum Day: Sendable {
        case monthWeekDay(month: Int, week: Int, weekday: Int)  // Mm.w.d: w = 5 is the last
        case julianNoLeap(Int)                                   // Jn: 1…365, February 29 never counted
        case zeroBased(Int)                                      // n: 0…365
    }
    let standard: Int
    let daylight: Int?
    let start: (day: Day, time: Int)?
    let end: (day: Day, time: Int)?

    init?(_ text: String) {
        var s = Substring(text)
        func name() -> Bool {
            if s.first == "<" {
                guard let close = s.firstIndex(of: ">") else { return false }
                s = s[s.index(after: close)...]
                return true
            }
            let n = s.prefix { $0.isLetter }
            guard n.count >= 3 else { return false }
            s = s.dropFirst(n.count)
            return true
        }
        /// `[+-]hh[:mm[:ss]]` in seconds.
        func hms() -> Int? {
            var sign = 1
            if s.first == "+" { s = s.dropFirst() } else if s.first == "-" { sign = -1; s = s.dropFirst() }
            var parts: [Int] = []
            while parts.count < 3 {
                let digits = s.prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, let v = Int(digits) else { return parts.isEmpty ? nil : nil }
                parts.append(v)
                s = s.dropFirst(digits.count)
                if s.first == ":" { s = s.dropFirst() } else { break }
            }
            while parts.count < 3 { parts.append(0) }
            return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])
        }
        func day() -> Day? {
            if s.first == "M" {
                s = s.dropFirst()
                let f = s.prefix { $0 != "/" && $0 != "," }.split(separator: ".").compactMap { Int($0) }
                s = s.dropFirst(s.prefix { $0 != "/" && $0 != "," }.count)
                guard f.count == 3, (1...12).contains(f[0]), (1...5).contains(f[1]), (0...6).contains(f[2]) else { return nil }
                return .monthWeekDay(month: f[0], week: f[1], weekday: f[2])
            }
            let julian = s.first == "J"
            if julian { s = s.dropFirst() }
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard let n = Int(digits) else { return nil }
            s = s.dropFirst(digits.count)
            return julian ? .julianNoLeap(n) : .zeroBased(n)
        }
        func transition() -> (Day, Int)? {
            guard s.first == ",", !s.isEmpty else { return nil }
            s = s.dropFirst()
            guard let d = day() else { return nil }
            var t = 7200
            if s.first == "/" {
                s = s.dropFirst()
                guard let v = hms() else { return nil }
                t = v
            }
            return (d, t)
        }
        guard name(), let std = hms() else { return nil }
        standard = -std
        guard !s.isEmpty else { daylight = nil; start = nil; end = nil; return }
        guard name() else { return nil }
        var dst = standard + 3600
        if let f = s.first, f != "," {
            guard let v = hms() else { return nil }
            dst = -v
        }
        daylight = dst
        guard let a = transition(), let b = transition(), s.isEmpty else { return nil }
        start = (a.0, a.1)
        end = (b.0, b.1)
    }

    func offset(at epoch: Int64) -> Int {
        guard let daylight, let start, let end else { return standard }
        let year = Timestamp.civilFromDays(Int((epoch + Int64(standard)).floorDiv(86_400))).year
        return isDaylight(epoch, year: year, daylight: daylight, start: start, end: end) ? daylight : standard
    }

    private func isDaylight(_ epoch: Int64, year: Int, daylight: Int, start: (day: Day, time: Int), end: (day: Day, time: Int)) -> Bool {
        // The start is given in standard time, the end in daylight time (POSIX).
        let on = Int64(Self.dayOfYear(start.day, year: year) * 86_400 + start.time - standard)
        let off = Int64(Self.dayOfYear(end.day, year: year) * 86_400 + end.time - daylight)
        return on < off ? (epoch >= on && epoch < off) : !(epoch >= off && epoch < on)
    }

    func nextChange(after epoch: Int64, within horizon: Int64) -> Int64? {
        guard let daylight, let start, let end else { return nil }
        let year = Timestamp.civilFromDays(Int(epoch.floorDiv(86_400))).year
        var best: Int64?
        for y in (year - 1)...(year + 1) {
            for t in [Int64(Self.dayOfYear(start.day, year: y) * 86_400 + start.time - standard),
                      Int64(Self.dayOfYear(end.day, year: y) * 86_400 + end.time - daylight)] where t > epoch && t - epoch <= horizon {
                best = min(best ?? t, t)
            }
        }
        return best
    }

    /// Midnight UTC of the rule's day in `year`, as days since the epoch.
    static func dayOfYear(_ d: Day, year: Int) -> Int {
        let jan1 = Timestamp.daysFromCivil(year: year, month: 1, day: 1)
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        switch d {
        case .zeroBased(let n): return jan1 + n
        case .julianNoLeap(let n): return jan1 + n - 1 + (leap && n >= 60 ? 1 : 0)
        case .monthWeekDay(let m, let w, let wd):
            let first = Timestamp.daysFromCivil(year: year, month: m, day: 1)
            let firstWeekday = ((first % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday (4); 0 = Sunday
            var day = first + (wd - firstWeekday + 7) % 7 + (w - 1) * 7
            let length = m == 12 ? 31 : Timestamp.daysFromCivil(year: year, month: m + 1, day: 1) - first
            while day >= first + length { day -= 7 }
            return day
        }
    }
}

extension Int64 {
    func floorDiv(_ d: Int64) -> Int64 { self >= 0 ? self / d : -((-self + d - 1) / d) }
}
