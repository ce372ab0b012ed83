import CareSupport
import Foundation
import Testing

/// The system's zone files read by `ZoneInfo` agree with Foundation's time zones (ICU's copy of the same database)
/// on UTC offsets, across the years of transitions in the files and the years after, where the POSIX rule holds.
@Suite("ZoneInfo: the system's zone files")
struct ZoneInfoTests {
    static let zones = ["Europe/London", "Europe/Berlin", "Europe/Dublin", "America/New_York", "America/Los_Angeles",
                        "America/St_Johns", "America/Santiago", "America/Sao_Paulo", "Australia/Sydney",
                        "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham", "Asia/Kolkata", "Asia/Kathmandu",
                        "Asia/Tokyo", "Africa/Johannesburg", "Atlantic/Azores", "Etc/GMT+5", "UTC"]

    @Test(arguments: zones)
    func offsetsAgreeWithFoundationFrom1975To2045(_ name: String) throws {
        let z = try #require(ZoneInfo(identifier: name), "no zone file for \(name)")
        let tz = try #require(TimeZone(identifier: name))
        var random = SplitMix64(seed: 1)
        var checked = 0
        // Random instants, and each hour around every March/April and October/November change.
        var instants: [Int64] = (0..<3000).map { _ in 157_766_400 + Int64(random.unit() * (2_366_841_600 - 157_766_400)) }
        for year in 2020...2040 {
            for month in [3, 4, 9, 10, 11] {
                let first = Int64(Timestamp.daysFromCivil(year: year, month: month, day: 1)) * 86_400
                for h in stride(from: Int64(0), to: 31 * 24, by: 1) { instants.append(first + h * 3600 + 1800) }
            }
        }
        for t in instants {
            let want = tz.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t)))
            let got = z.offset(at: t)
            #expect(got == want, "\(name) at \(Timestamp.rfc3339(Double(t))): \(got) s, Foundation says \(want) s")
            if got != want { break }
            checked += 1
        }
        #expect(checked == instants.count)
    }

    @Test func unknownAndUnsafeNamesAreNil() {
        #expect(ZoneInfo(identifier: "Europe/Lodnon") == nil)
        #expect(ZoneInfo(identifier: "../etc/passwd") == nil)
        #expect(ZoneInfo(identifier: "/etc/passwd") == nil)
        #expect(ZoneInfo(identifier: "") == nil)
    }

    @Test func aTruncatedFileIsNotAZone() throws {
        let bytes = try #require(DurableFile.read("/usr/share/zoneinfo/Europe/London"))
        for cut in [0, 10, 44, 100, bytes.count / 2] {
            #expect(ZoneInfo(identifier: "x", tzif: Array(bytes.prefix(cut))) == nil, "a file cut at \(cut) bytes was read")
        }
    }

    @Test func londonRuleGivesTheLastSundaysOfMarchAndOctober() throws {
        let z = try #require(ZoneInfo(identifier: "Europe/London"))
        // 2045 is past any transition listed in the file: the footer rule decides.
        let march = Int64(Timestamp.daysFromCivil(year: 2045, month: 3, day: 26)) * 86_400  // the last Sunday
        #expect(z.offset(at: march + 3599) == 0)
        #expect(z.offset(at: march + 3600) == 3600)
        let october = Int64(Timestamp.daysFromCivil(year: 2045, month: 10, day: 29)) * 86_400
        #expect(z.offset(at: october + 3599) == 3600)
        #expect(z.offset(at: october + 3600) == 0)
        #expect(z.nextChange(after: march) == march + 3600)
    }
}
