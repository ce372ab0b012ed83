#if canImport(Glibc)
import Glibc
#endif
import CareSupport
import Synchronization

/// A journal file operation that failed, with the path and what to check.
public struct JournalError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var errno: Int32
    /// Set when the file itself is the problem (a newer format), not a system call.
    public var reason: String?
    public init(path: String, operation: String, errno: Int32, reason: String? = nil) {
        self.path = path; self.operation = operation; self.errno = errno; self.reason = reason
    }
    public var description: String {
        if let reason { return "journal \(path): \(operation): \(reason)" }
        let hint: String
        switch errno {
        case ENOSPC, EFBIG: hint = "the disk is full (or the file size limit reached): free space, incidents are not being journaled"
        case EACCES, EPERM: hint = "the service cannot write there: check the state directory's owner (StateDirectory=)"
        case EROFS: hint = "the file system is read-only"
        default: hint = "check the state directory"
        }
        return "journal \(path): \(operation) failed: \(String(cString: strerror(errno))); \(hint)"
    }
}

/// What loading a journal found.
public struct JournalLoad: Sendable {
    public var records: [JSONValue]
    /// Bytes cut off the end: a record torn by a crash mid-write.
    public var tornBytes: Int
    /// Records in the middle whose checksum did not match (skipped, dropped at the next compaction).
    public var corruptRecords: Int
    /// The format header's version (`records` leaves the header out); nil for a file written before headers.
    public var formatVersion: Int?
}

/// An append-only file of JSON records, one a line, each prefixed by its CRC-32C: `1a2b3c4d {"t":"step",…}`.
///
/// Appends go through one `write(2)` per batch on an `O_APPEND` descriptor and are `fsync`ed when they record a
/// state change. On open, a torn tail (a crash mid-write) is cut instead of failing; rewriting (compaction,
/// retention, `forget`) writes `name.new`, fsyncs it, renames it over, and fsyncs the directory.
///
/// The first record of every journal is its format header, `{"t":"journal","version":1}`: a later format can tell
/// an old file, and an old daemon refuses a newer one instead of misreading it.
///
/// Not thread-safe: owned by one `EscalationEngine` (an actor), or used by one command at a time.
final class JournalFile {
    /// The format this code writes and reads.
    static let formatVersion = 1
    static var header: JSONValue { .object(["t": "journal", "version": .number(Double(formatVersion))]) }

    /// Refuses a journal written in a newer format (reading it as this one could misread it; rewriting it would
    /// downgrade it).
    static func checkFormat(_ load: JournalLoad, path: String) throws(JournalError) {
        if let v = load.formatVersion, v > formatVersion {
            throw JournalError(path: path, operation: "read", errno: 0,
                               reason: "written in format \(v) by a newer careMonitord; this one reads format \(formatVersion): upgrade it, or move the file away to start a new journal")
        }
    }

    let path: String
    let directory: String
    private var fd: Int32 = -1

    init(directory: String, name: String) {
        self.directory = directory
        self.path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    deinit { if fd >= 0 { close(fd) } }

    static func encodeLine(_ v: JSONValue) -> [UInt8] {
        let json = Array(JSONWriter.serialize(v).utf8)
        return Array((CRC32C.hex(CRC32C.checksum(json)) + " ").utf8) + json + [10]
    }

    /// Reads every valid record, cutting a torn tail off the file (unless `readOnly`).
    static func load(path: String, readOnly: Bool = false) throws(JournalError) -> JournalLoad {
        let fd = open(path, readOnly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return JournalLoad(records: [], tornBytes: 0, corruptRecords: 0) }
            throw JournalError(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n < 0 { if errno == EINTR { continue }; throw JournalError(path: path, operation: "read", errno: errno) }
            if n == 0 { break }
            bytes += buf[0..<n]
        }
        var records: [JSONValue] = []
        var version: Int?
        var corrupt = 0
        var validEnd = 0
        var pendingCorrupt = 0
        var start = 0
        while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: 10) else { break }
            let line = bytes[start..<nl]
            if let v = decodeLine(line) {
                if v["t"]?.stringValue == "journal" {
                    version = v["version"]?.exactInt
                } else {
                    records.append(v)
                }
                corrupt += pendingCorrupt
                pendingCorrupt = 0
                validEnd = nl + 1
            } else {
                pendingCorrupt += 1
            }
            start = nl + 1
        }
        let torn = bytes.count - validEnd
        if torn > 0 && !readOnly {
            guard ftruncate(fd, off_t(validEnd)) == 0 else { throw JournalError(path: path, operation: "truncate the torn tail", errno: errno) }
            fsync(fd)
        }
        return JournalLoad(records: records, tornBytes: torn, corruptRecords: corrupt, formatVersion: version)
    }

    static func decodeLine(_ line: ArraySlice<UInt8>) -> JSONValue? {
        guard line.count > 10, line[line.startIndex + 8] == 32 else { return nil }
        let crcText = String(decoding: line[line.startIndex..<(line.startIndex + 8)], as: UTF8.self)
        let json = Array(line[(line.startIndex + 9)...])
        guard let crc = UInt32(crcText, radix: 16), crc == CRC32C.checksum(json) else { return nil }
        return try? JSONParser.parse(json)
    }

    /// Takes this process's lock on the journal (`<journal>.lock`, a POSIX record lock holding the pid): two
    /// processes never write one journal. Kept until the process exits; taking it again in the same process (a
    /// reload's new engine) succeeds.
    func lock() throws(JournalError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw JournalError(path: directory, operation: "mkdir", errno: errno) }
        try JournalLocks.acquire(path + ".lock")
    }

    func openForAppend() throws(JournalError) {
        if fd >= 0 { return }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw JournalError(path: directory, operation: "mkdir", errno: errno) }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw JournalError(path: path, operation: "open for append", errno: errno) }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_size == 0 {
            let h = Self.encodeLine(Self.header)
            if h.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) != h.count {
                throw JournalError(path: path, operation: "write the format header", errno: errno)
            }
            // A new file is durable only once its directory entry is.
            if fdatasync(fd) != 0 { throw JournalError(path: path, operation: "fsync", errno: errno) }
            try Self.syncDirectory(directory)
        }
    }

    static func syncDirectory(_ directory: String) throws(JournalError) {
        let d = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d < 0 { throw JournalError(path: directory, operation: "open the directory to fsync it", errno: errno) }
        defer { close(d) }
        if fsync(d) != 0 { throw JournalError(path: directory, operation: "fsync the directory", errno: errno) }
    }

    /// Appends records in one write; `sync` makes them durable before returning.
    func append(_ records: [JSONValue], sync: Bool) throws(JournalError) {
        try openForAppend()
        var bytes: [UInt8] = []
        for r in records { bytes += Self.encodeLine(r) }
        let start = lseek(fd, 0, SEEK_END)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                // Half a record would read as corrupt between later good ones: cut it (a crash's tail is cut at open).
                if start >= 0 { _ = ftruncate(fd, start) }
                throw JournalError(path: path, operation: "append", errno: e)
            }
            off += n
        }
        if sync && fdatasync(fd) != 0 { throw JournalError(path: path, operation: "fsync", errno: errno) }
    }

    /// Replaces the file with `records` atomically (compaction, retention, forget).
    func rewrite(_ records: [JSONValue]) throws(JournalError) {
        if fd >= 0 { close(fd); fd = -1 }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw JournalError(path: directory, operation: "mkdir", errno: errno) }
        let tmp = path + ".new"
        let t = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if t < 0 { throw JournalError(path: tmp, operation: "create", errno: errno) }
        var bytes = Self.encodeLine(Self.header)
        for r in records { bytes += Self.encodeLine(r) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(t, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 { if errno == EINTR { continue }; let e = errno; close(t); throw JournalError(path: tmp, operation: "write", errno: e) }
            off += n
        }
        if fsync(t) != 0 { let e = errno; close(t); throw JournalError(path: tmp, operation: "fsync", errno: e) }
        close(t)
        if rename(tmp, path) != 0 { throw JournalError(path: path, operation: "rename", errno: errno) }
        try Self.syncDirectory(directory)
    }
}

/// The journal locks this process holds, by lock file. POSIX record locks belong to the process and vanish when
/// any descriptor of the file is closed, so each lock file is opened once and its descriptor kept until exit.
enum JournalLocks {
    private static let held = Mutex<[String: Int32]>([:])

    static func acquire(_ lockPath: String) throws(JournalError) {
        let r: Result<Void, JournalError> = held.withLock { h in
            if h[lockPath] != nil { return .success(()) }
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if fd < 0 { return .failure(JournalError(path: lockPath, operation: "open the lock", errno: errno)) }
            var l = flock()
            l.l_type = Int16(F_WRLCK)
            l.l_whence = Int16(SEEK_SET)
            if fcntl(fd, F_SETLK, &l) != 0 {
                let e = errno
                var other = flock()
                other.l_type = Int16(F_WRLCK)
                other.l_whence = Int16(SEEK_SET)
                let pid = fcntl(fd, F_GETLK, &other) == 0 && other.l_type != Int16(F_UNLCK) ? " (process \(other.l_pid))" : ""
                close(fd)
                if e == EACCES || e == EAGAIN {
                    return .failure(JournalError(path: lockPath, operation: "lock", errno: e,
                                                 reason: "another careMonitord\(pid) is using this state directory: stop it, or give this one another --state-dir"))
                }
                return .failure(JournalError(path: lockPath, operation: "lock", errno: e))
            }
            let text = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            h[lockPath] = fd
            return .success(())
        }
        try r.get()
    }
}

/// The journal of one person's incidents: what happened (`step` records: the input, the event lines it produced,
/// the notifications it queued) and the outbox derived from it (queued notifications with no delivery step yet).
public enum IncidentJournal {
    public static func fileName(person: String) -> String { "incidents-\(person).journal" }

    /// Drops closed incidents whose last record is before `cutoff`, and any corrupt records. Returns how many
    /// incidents were dropped. Open incidents are always kept, whatever their age.
    static func keep(_ records: [JSONValue], droppingClosedBefore cutoff: WallTime?) -> (kept: [JSONValue], dropped: Int) {
        guard let cutoff else { return (records, 0) }
        var lastWall: [String: WallTime] = [:]
        var closed: Set<String> = []
        for r in records {
            guard let id = r["incident"]?.stringValue else { continue }
            if let w = r["wall"]?.stringValue.flatMap(RFC3339.parse) { lastWall[id] = max(lastWall[id] ?? w, w) }
            for l in r["lines"]?.arrayValue ?? [] {
                if let s = l["state"]?.stringValue, ["resolved", "cancelled", "stood-down"].contains(s) { closed.insert(id) }
            }
        }
        let drop = Set(closed.filter { (lastWall[$0] ?? cutoff) < cutoff })
        let kept = records.filter { r in
            guard let id = r["incident"]?.stringValue else {
                // Digest and other dated records follow the same retention.
                if let w = r["wall"]?.stringValue.flatMap(RFC3339.parse) { return w >= cutoff }
                return true
            }
            return !drop.contains(id)
        }
        return (kept, drop.count)
    }

    /// `careMonitord forget --before DATE`: deletes for good every closed incident (and digest entry) older than
    /// `date` from the person's journal in `directory`. Returns how many incidents were deleted.
    @discardableResult
    public static func forget(directory: String, person: String, before date: WallTime) throws(JournalError) -> Int {
        let file = JournalFile(directory: directory, name: fileName(person: person))
        try file.lock()
        let load = try JournalFile.load(path: file.path)
        try JournalFile.checkFormat(load, path: file.path)
        let (kept, dropped) = keep(load.records, droppingClosedBefore: date)
        if kept.count != load.records.count || load.corruptRecords > 0 { try file.rewrite(kept) }
        return dropped
    }

    /// Reads a person's journal without changing it (for `incidents` and `disclosures`).
    public static func read(directory: String, person: String) throws(JournalError) -> [JSONValue] {
        let path = JournalFile(directory: directory, name: fileName(person: person)).path
        let load = try JournalFile.load(path: path, readOnly: true)
        try JournalFile.checkFormat(load, path: path)
        return load.records
    }
}
