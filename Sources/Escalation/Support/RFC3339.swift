import CareSupport

/// RFC 3339 UTC timestamps with milliseconds (`2026-11-23T14:02:03.125Z`), the fixed format of event lines and
/// journal records.
public enum RFC3339 {
    /// The fixed event-line spelling, from CareSupport's `Timestamp` (one implementation for the whole daemon).
    public static func format(_ t: WallTime) -> String {
        Timestamp.rfc3339(milliseconds: t.milliseconds)
    }

    /// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 / ISO 8601 date-time (`Timestamp.parse`), to the
    /// nearest millisecond.
    public static func parse(_ text: String) -> WallTime? {
        let full = text.utf8.count == 10 ? text + "T00:00:00Z" : text
        guard let seconds = Timestamp.parse(full) else { return nil }
        return WallTime(milliseconds: Int64((seconds * 1000).rounded()))
    }
}
