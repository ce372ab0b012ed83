/// Wall-clock timestamps as they appear on records: parsing the forms MQTT tools and stacks write, and formatting
/// RFC 3339 UTC with milliseconds (`2026-11-23T14:02:03.125Z`) for event lines. No Foundation, no allocation when
/// parsing, so capture replay can stamp millions of lines a second.
public enum Timestamp {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    @inlinable
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// (year, month, day) of a day count since 1970-01-01.
    public static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Parses an ISO 8601 / RFC 3339 date-time: `2026-11-23T00:01:02.320177Z+0000` (mosquitto_sub's `tst`),
    /// `2026-11-23T00:01:02Z`, `2026-11-23T00:01:02.5+01:00`, `2026-11-23 00:01:02`. A missing zone means UTC.
    /// Returns seconds since the Unix epoch, or nil when the text is not such a date-time.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let n = bytes.count
        guard n >= 19 else { return nil }
        @inline(__always) func digits(_ at: Int, _ count: Int) -> Int? {
            var v = 0
            for i in at..<(at + count) {
                let d = Int(bytes[i]) &- 48
                guard d >= 0 && d <= 9 else { return nil }
                v = v * 10 + d
            }
            return v
        }
        guard let year = digits(0, 4), bytes[4] == UInt8(ascii: "-"), let month = digits(5, 2),
              bytes[7] == UInt8(ascii: "-"), let day = digits(8, 2),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "t"),
              let hour = digits(11, 2), bytes[13] == UInt8(ascii: ":"), let minute = digits(14, 2),
              bytes[16] == UInt8(ascii: ":"), let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < n && (bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ",")) {
            i += 1
            var scale = 0.1
            let start = i
            while i < n, bytes[i] >= 48, bytes[i] <= 57 {
                fraction += Double(bytes[i] &- 48) * scale
                scale *= 0.1
                i += 1
            }
            if i == start { return nil }
        }
        var offset = 0
        // Zone: Z, z, ±HH:MM, ±HHMM, ±HH; mosquitto writes "Z+0000" (both).
        while i < n {
            let c = bytes[i]
            if c == UInt8(ascii: "Z") || c == UInt8(ascii: "z") { i += 1; continue }
            if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                let sign = c == UInt8(ascii: "-") ? -1 : 1
                guard i + 3 <= n, let hh = digits(i + 1, 2) else { return nil }
                i += 3
                var mm = 0
                if i < n && bytes[i] == UInt8(ascii: ":") { i += 1 }
                if i + 2 <= n, let m = digits(i, 2) { mm = m; i += 2 }
                offset = sign * (hh * 3600 + mm * 60)
                continue
            }
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let whole = days * 86400 + hour * 3600 + minute * 60 + second - offset
        return Double(whole) + fraction
    }

    public static func parse(_ text: String) -> Double? {
        var t = text
        return t.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// `2026-11-23T14:02:03.125Z` (RFC 3339, UTC, milliseconds), to the nearest millisecond (`x.123` seconds is
    /// not exact in binary: truncating its product with 1000 would print `.122`).
    public static func rfc3339(_ epochSeconds: Double) -> String {
        guard epochSeconds.isFinite else { return "1970-01-01T00:00:00.000Z" }
        return rfc3339(milliseconds: Int64((epochSeconds * 1000).rounded()))
    }

    /// `2026-11-23T14:02:03.125Z` from whole milliseconds since the epoch (exact).
    public static func rfc3339(milliseconds: Int64) -> String {
        let totalMs = Int(milliseconds)
        var days = totalMs / 86_400_000
        var msOfDay = totalMs % 86_400_000
        if msOfDay < 0 { msOfDay += 86_400_000; days -= 1 }
        let (y, m, d) = civilFromDays(days)
        let h = msOfDay / 3_600_000, mi = msOfDay / 60_000 % 60, s = msOfDay / 1000 % 60, ms = msOfDay % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }

    /// The Internet Message Format's date (RFC 5322 §3.3) in UTC: `Mon, 23 Nov 2026 14:02:03 +0000`.
    public static func rfc5322(milliseconds: Int64) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        var days = Int(seconds / 86_400)
        var secondOfDay = Int(seconds % 86_400)
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (y, m, d) = civilFromDays(days)
        let weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][((days % 7) + 7 + 4) % 7] // 1970-01-01: Thursday
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m - 1]
        let h = secondOfDay / 3600, mi = secondOfDay / 60 % 60, s = secondOfDay % 60
        return "\(weekday), \(pad(d, 2)) \(month) \(pad(y, 4)) \(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)) +0000"
    }

    /// mosquitto_sub's `%j` timestamp: `2026-11-23T00:01:02.320177Z+0000` (microseconds).
    public static func mosquittoTST(_ epochSeconds: Double) -> String {
        let totalUs = Int((epochSeconds * 1_000_000).rounded(.down))
        var days = totalUs / 86_400_000_000
        var usOfDay = totalUs % 86_400_000_000
        if usOfDay < 0 { usOfDay += 86_400_000_000; days -= 1 }
        let (y, m, d) = civilFromDays(days)
        let h = usOfDay / 3_600_000_000, mi = usOfDay / 60_000_000 % 60, s = usOfDay / 1_000_000 % 60
        let us = usOfDay % 1_000_000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(us, 6))Z+0000"
    }

    /// `v` with leading zeros to `width` digits ("07").
    public static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
