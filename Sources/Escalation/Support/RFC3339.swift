#if canImport(Glibc)
import Glibc
#endif

/// RFC 3339 UTC timestamps with milliseconds (`2026-11-23T14:02:03.125Z`), the fixed format of event lines and
/// journal records. Written with `gmtime_r`, parsed by hand: no Foundation formatter, no locale.
public enum RFC3339 {
    public static func format(_ t: WallTime) -> String {
        var secs = time_t(t.milliseconds >= 0 ? t.milliseconds / 1000 : (t.milliseconds - 999) / 1000)
        let ms = Int(t.milliseconds - Int64(secs) * 1000)
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        return "\(pad(Int(tmv.tm_year) + 1900, 4))-\(pad(Int(tmv.tm_mon) + 1, 2))-\(pad(Int(tmv.tm_mday), 2))T"
            + "\(pad(Int(tmv.tm_hour), 2)):\(pad(Int(tmv.tm_min), 2)):\(pad(Int(tmv.tm_sec), 2)).\(pad(ms, 3))Z"
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`. A bare date is midnight UTC.
    public static func parse(_ text: String) -> WallTime? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ n: Int) -> Int? {
            guard from + n <= b.count else { return nil }
            var v = 0
            for i in from..<(from + n) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 10, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var h = 0, mi = 0, s = 0, ms = 0, offset = 0
        if b.count > 10 {
            guard b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), let hh = num(11, 2), b.count > 13, b[13] == 58,
                  let mm = num(14, 2), b.count > 16, b[16] == 58, let ss = num(17, 2), hh < 24, mm < 60, ss < 61 else { return nil }
            h = hh; mi = mm; s = ss
            var i = 19
            if i < b.count && b[i] == UInt8(ascii: ".") {
                i += 1
                var digits = 0
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    if digits < 3 { ms = ms * 10 + Int(b[i] - 48) }
                    digits += 1; i += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits..<3 where digits < 3 { ms *= 10 }
            }
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                guard i + 1 == b.count else { return nil }
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                guard i + 6 == b.count, let oh = num(i + 1, 2), b[i + 3] == 58, let om = num(i + 4, 2) else { return nil }
                offset = (oh * 60 + om) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            } else { return nil }
        }
        let days = daysFromCivil(y, mo, d)
        let secs = Int64(days) * 86400 + Int64(h * 3600 + mi * 60 + s) - Int64(offset * 60)
        return WallTime(milliseconds: secs * 1000 + Int64(ms))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
