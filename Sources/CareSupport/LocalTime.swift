/// Wall time in a person's own time zone (routines are local: "up by 08:10" means 08:10 in Leeds, winter or
/// summer). Reads the system's zone data (`ZoneInfo`: `/usr/share/zoneinfo`, Debian's tzdata) and caches the
/// current UTC offset until the next transition, so asking per sample costs two comparisons.
///
/// Not thread-safe (the cache): one instance per detector thread.
public final class LocalTime: @unchecked Sendable {
    // @unchecked Sendable: the cache is mutated by `offset(at:)`; an instance belongs to one thread (documented).
    public let identifier: String
    public let zone: ZoneInfo
    private var validFrom = Double.infinity
    private var validUntil = -Double.infinity
    private var cachedOffset = 0

    /// nil when the zone is unknown.
    public init?(identifier: String) {
        guard let z = ZoneInfo(identifier: identifier) else { return nil }
        self.identifier = identifier
        zone = z
    }

    /// Seconds to add to UTC to get local time at `epoch`.
    public func offset(at epoch: Double) -> Int {
        if epoch >= validFrom && epoch < validUntil { return cachedOffset }
        let second = Int64(epoch.rounded(.down))
        cachedOffset = zone.offset(at: second)
        // Valid until the next transition (or a day), from the start of this hour.
        validFrom = (epoch / 3600).rounded(.down) * 3600
        validUntil = zone.nextChange(after: second, within: 86_400).map { min(Double($0), epoch + 86_400) } ?? epoch + 86_400
        if zone.offset(at: Int64(validFrom)) != cachedOffset { validFrom = epoch }
        return cachedOffset
    }

    /// Local seconds since local midnight (0 ..< 86400; 90000 cannot happen, a repeated hour repeats values).
    public func secondsOfDay(at epoch: Double) -> Double {
        let local = epoch + Double(offset(at: epoch))
        let r = local.truncatingRemainder(dividingBy: 86_400)
        return r < 0 ? r + 86_400 : r
    }

    /// The local calendar day number (days since 1970-01-01 in local time): changes at local midnight.
    public func dayNumber(at epoch: Double) -> Int {
        Int(((epoch + Double(offset(at: epoch))) / 86_400).rounded(.down))
    }

    /// Day of week of the local date, 0 = Monday … 6 = Sunday.
    public func weekday(at epoch: Double) -> Int {
        let d = dayNumber(at: epoch)
        return ((d % 7) + 7 + 3) % 7   // 1970-01-01 was a Thursday
    }

    /// "HH:MM" local.
    public func clockText(at epoch: Double) -> String {
        let s = Int(secondsOfDay(at: epoch))
        let h = s / 3600, m = s / 60 % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
    }
}
