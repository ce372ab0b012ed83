import Anomaly
import CareSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A capture file mapped into memory (read-only): replay reads lines straight from the page cache, no copies.
///
/// Replay does not map it all before starting (`MAP_POPULATE` was about 4 % faster on a cached file but up to twice
/// as slow on a cold one: replay's summary, 145 MB capture, 12–24 M samples/s cold against 21–22 M with readahead).
/// Instead `Prefaulter` reads it ahead (`readAhead`) and maps it page by page on a thread of its own while the
/// feeder replays, so a capture that is not in the page cache (one not touched for a while: this machine's kernel
/// pages cold files out within minutes) is read from disk while the first lines are already being replayed.
///
/// Unsafe: owns one `mmap` region, unmapped in `deinit`; `bytes` is valid while the object lives.
public final class MappedFile: @unchecked Sendable {
    // @unchecked Sendable: immutable after init.
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(CaptureError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CaptureError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CaptureError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CaptureError.cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let m, m != MAP_FAILED else { throw CaptureError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        _ = madvise(m, size, MADV_SEQUENTIAL)
        base = m
        bytes = UnsafeRawBufferPointer(start: m, count: size)
    }

    deinit { if let base { munmap(base, bytes.count) } }

    /// How far ahead of the reader the file is read into the page cache: a capture of many gigabytes on a gateway
    /// with little memory is not read all at once (its first pages would be evicted before they are replayed).
    public static let readAheadWindow = 256 << 20

    /// Starts reading `range` (byte offsets) into the page cache in the background, in pieces of
    /// `readAheadPiece`: one `MADV_WILLNEED` over a large range reads only its first part ahead, while one per piece
    /// keeps many reads in flight, and a paged-out capture comes in much sooner (timed by hand, not by the benchmark).
    public func readAhead(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var start = range.lowerBound / page * page
        let end = min(bytes.count, range.upperBound)
        while start < end {
            let n = min(Self.readAheadPiece, end - start)
            _ = madvise(base + start, n, MADV_WILLNEED)
            start += n
        }
    }

    /// The size of one read-ahead request.
    public static let readAheadPiece = 8 << 20
}

public enum CaptureError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let p, let r): "cannot read capture \(p): \(r)"
        case .cannotWrite(let p, let r): "cannot write capture \(p): \(r)"
        }
    }
}

/// replay's closing summary (its last line on stderr, a fixed contract).
public struct ReplaySummary: Sendable {
    public var messages = 0
    public var malformed = 0
    public var unmatched = 0
    public var rejected = 0
    public var readings = 0
    public var samples = 0
    public var dropped = 0
    public var wallSeconds = 0.0
    public var samplesPerSecond: Double { wallSeconds > 0 ? Double(samples) / wallSeconds : 0 }

    public init() {}

    public var json: String {
        var o = JSONObject()
        o["messages"] = .number(Double(messages))
        o["malformed"] = .number(Double(malformed))
        o["unmatched"] = .number(Double(unmatched))
        o["rejected"] = .number(Double(rejected))
        o["readings"] = .number(Double(readings))
        o["samples"] = .number(Double(samples))
        o["wallSeconds"] = .number(JSONNumber((wallSeconds * 1e6).rounded() / 1e6))
        o["samplesPerSecond"] = .number(JSONNumber(samplesPerSecond.rounded()))
        return JSONWriter.serialize(.object(o))
    }
}

/// Feeds capture files through a pipeline: the same decoders, ring and consumer as the live daemon, with time
/// taken from each line's `tst` (as fast as possible, or paced at `speed` × real time). Or hands each line to
/// `publish` instead (`replay --into` sends them to a broker).
public struct CaptureReplay {
    public let pipeline: IngestPipeline?
    let publish: ((CaptureLineReader.Line) -> Void)?
    /// nil = as fast as possible; N = N × real time.
    public var speed: Double?
    public var showProgress: Bool
    /// Called for each line that is not a capture line (file, 1-based line number, what is wrong).
    public var onMalformed: (String, Int, String) -> Void
    /// Offered every message first (topic, payload, time); returning true takes it out of the pipeline (replay's
    /// escalation takes the ack topic this way).
    public var divert: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer, Double) -> Bool)?
    /// Only messages whose time is in this window are replayed (`--from`/`--to`); the others are skipped, not counted.
    public var window: CaptureWindow = .all
    /// Where progress goes (`showProgress`); a command names itself in it.
    public var progressLabel = "replay"

    public init(pipeline: IngestPipeline, speed: Double? = nil, showProgress: Bool = false,
                onMalformed: @escaping (String, Int, String) -> Void) {
        self.pipeline = pipeline; self.speed = speed; self.showProgress = showProgress; self.onMalformed = onMalformed
        publish = nil
    }

    /// Hands every line in the window to `publish` (on the calling thread), paced as `speed` says.
    public init(publish: @escaping (CaptureLineReader.Line) -> Void, speed: Double? = nil, showProgress: Bool = false,
                onMalformed: @escaping (String, Int, String) -> Void) {
        pipeline = nil; self.publish = publish
        self.speed = speed; self.showProgress = showProgress; self.onMalformed = onMalformed
    }

    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Replays `files` in order, then calls `pipeline.finish()`. Returns the number of malformed lines (`fed`: how
    /// many messages were in the window).
    /// All files are opened first, so a missing one fails before anything is replayed.
    public func feed(files: [String]) throws(CaptureError) -> Int {
        try feedCounting(files: files).malformed
    }

    public func feedCounting(files: [String]) throws(CaptureError) -> (malformed: Int, fed: Int) {
        var mapped: [MappedFile] = []
        for f in files { mapped.append(try MappedFile(path: f)) }
        let reader = CaptureLineReader()
        var malformed = 0
        let prefaulter = Prefaulter(files: mapped, window: MappedFile.readAheadWindow)
        defer { prefaulter.finish() }
        var readerBase = 0   // bytes of the files before this one (the prefaulter's measure of progress)
        let totalBytes = mapped.reduce(0) { $0 + $1.bytes.count }
        var doneBytes = 0
        var firstCaptureTime: Double?
        let wallStart = Self.monotonicSeconds()
        var progress = ReplayProgress(label: progressLabel, start: wallStart)
        var fed = 0
        for (fileIndex, file) in mapped.enumerated() {
            let bytes = file.bytes
            guard let base = bytes.baseAddress else { continue }
            var offset = 0
            var lineNumber = 0
            while offset < bytes.count {
                lineNumber += 1
                prefaulter.readerPosition.store(readerBase + offset, ordering: .relaxed)
                let rest = bytes.count - offset
                let nl = memchr(base + offset, 0x0A, rest)
                let end = nl.map { UnsafeRawPointer($0) - base } ?? bytes.count
                var lineEnd = end
                if lineEnd > offset && (base + lineEnd - 1).load(as: UInt8.self) == 0x0D { lineEnd -= 1 }
                let line = UnsafeRawBufferPointer(start: base + offset, count: lineEnd - offset)
                offset = end + 1
                // A final newline does not start another line.
                if line.count == 0 && end == bytes.count { break }
                let result = reader.read(line) { l -> Void in
                    guard window.contains(l.time) else { return }
                    if let speed {
                        let first = firstCaptureTime ?? l.time
                        firstCaptureTime = first
                        let due = wallStart + (l.time - first) / speed
                        let now = Self.monotonicSeconds()
                        if due > now { usleep(UInt32(min((due - now) * 1e6, 60e6))) }
                    }
                    fed += 1
                    if let publish { publish(l); return }
                    if let divert, divert(l.topic, l.payload, l.time) { return }
                    pipeline?.ingest(topic: l.topic, payload: l.payload, arrival: l.time)
                }
                if case .failure(let problem) = result {
                    malformed += 1
                    onMalformed(file.path, lineNumber, problem.description)
                }
                if showProgress && (speed != nil || lineNumber & 255 == 0) {
                    let fraction = totalBytes > 0 ? Double(doneBytes + offset) / Double(totalBytes) : 1
                    progress.show(fraction: fraction, messages: fed,
                                  file: mapped.count > 1 ? (fileIndex + 1, mapped.count) : nil, now: Self.monotonicSeconds())
                }
            }
            doneBytes += bytes.count
            readerBase += bytes.count
        }
        if showProgress { progress.clear() }
        pipeline?.finish()
        return (malformed, fed)
    }
}

/// The part of a capture to replay: messages at or after `from` and before `to` (epoch seconds).
public struct CaptureWindow: Sendable, Equatable {
    public var from: Double
    public var to: Double
    public static let all = CaptureWindow(from: -.infinity, to: .infinity)
    public init(from: Double, to: Double) { self.from = from; self.to = to }
    @inlinable public func contains(_ t: Double) -> Bool { t >= from && t < to }
}

/// A progress line on stderr, redrawn in place at most twice a second: how far, how many messages, how fast and how
/// long is left (from the bytes read so far). Only for a terminal: the caller decides.
public struct ReplayProgress {
    public var label: String
    let start: Double
    var last = -Double.infinity

    public init(label: String, start: Double) { self.label = label; self.start = start }

    /// `now`: monotonic seconds. Draws nothing within half a second of the last line.
    public mutating func show(fraction: Double, messages: Int, file: (Int, Int)? = nil, now: Double) {
        guard now - last >= 0.5 else { return }
        last = now
        let text = Self.line(label: label, fraction: fraction, messages: messages, file: file, elapsed: now - start)
        FileOutput.standardError.write("\r" + text + "\u{1B}[K"); FileOutput.standardError.flush()
    }

    public func clear() { FileOutput.standardError.write("\r\u{1B}[K"); FileOutput.standardError.flush() }

    /// `replay: 42% (file 1/3), 120000 messages, 35000 msg/s, 0:07 left`.
    public static func line(label: String, fraction: Double, messages: Int, file: (Int, Int)?, elapsed: Double) -> String {
        let f = min(max(fraction, 0), 1)
        var text = "\(label): \(Int(f * 100))%"
        if let (i, n) = file { text += " (file \(i)/\(n))" }
        text += ", \(messages) messages"
        if elapsed > 0 { text += ", \(Int((Double(messages) / elapsed).rounded())) msg/s" }
        if f > 0.001 && elapsed > 0 {
            let left = Int((elapsed * (1 - f) / f).rounded())
            text += ", \(left / 60):\(left % 60 < 10 ? "0" : "")\(left % 60) left"
        }
        return text
    }
}

/// Maps the captures' pages ahead of the reader, on a thread of its own: it asks for the file 64 MB ahead
/// (`MappedFile.readAhead`) and reads one byte of each page, at most `window` bytes ahead of the reader, so that the
/// page faults (and, for a capture that is not in the page cache, the waits for the disk) happen here and not in the
/// feeder. The feeder only publishes how far it is.
final class Prefaulter: @unchecked Sendable {
    // @unchecked Sendable: the files are immutable mappings kept alive by the caller until `finish` returns; the
    // rest is atomics.
    let readerPosition = Atomic<Int>(0)
    private let stop = Atomic<Bool>(false)
    /// The sum of the bytes read (kept so that the reads are not optimised away).
    private let checksum = Atomic<Int>(0)
    private var thread: OSThread?

    init(files: [MappedFile], window: Int) {
        thread = OSThread(name: "cm-prefault") { [self] in run(files, window: window) }
    }

    private func run(_ files: [MappedFile], window: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var before = 0
        var sum = 0
        for f in files {
            guard let b = f.bytes.baseAddress else { continue }
            var o = 0
            var advised = 0   // read-ahead requested up to here, `lead` ahead of the touching
            let lead = 64 << 20
            while o < f.bytes.count {
                if stop.load(ordering: .relaxed) { checksum.store(sum, ordering: .relaxed); return }
                if before + o - readerPosition.load(ordering: .relaxed) > window { usleep(1000); continue }
                if advised < f.bytes.count && o + lead / 2 >= advised {
                    let end = min(f.bytes.count, o + lead)
                    f.readAhead(advised..<end)
                    advised = end
                }
                sum &+= Int(b.load(fromByteOffset: o, as: UInt8.self))
                o += page
            }
            before += f.bytes.count
        }
        checksum.store(sum, ordering: .relaxed)
    }

    /// Stops the thread (if it is still ahead) and waits for it.
    func finish() {
        stop.store(true, ordering: .relaxed)
        thread?.join()
        thread = nil
    }
}

/// When a recording starts a new file: past a size, or at the person's local midnight.
public struct CaptureRotation: Sendable {
    /// A file is closed before a line would take it past this many bytes (a longer line gets a file of its own).
    public var maximumBytes: Int?
    /// The zone whose midnight starts a new file.
    public var dailyZone: String?
    public init(maximumBytes: Int? = nil, dailyZone: String? = nil) { self.maximumBytes = maximumBytes; self.dailyZone = dailyZone }
    public var isOn: Bool { maximumBytes != nil || dailyZone != nil }
}

/// Appends capture lines (`mosquitto_sub -F %j` shape) to a file, flushing at least once a second so that a
/// killed recorder loses at most a second.
///
/// With a rotation, `path` is a base: each file is `STEM-YYYYMMDD-HHMMSS.EXT` after the local time (in the
/// rotation's zone, else UTC) of its first message (`-2`, `-3`… if that name is taken), so that name order is time
/// order and `replay DIR/STEM-*.EXT` reads them in turn. A file is opened at its first message.
public final class CaptureWriter: @unchecked Sendable {
    // @unchecked Sendable: written from the MQTT callback thread only; `close` after the client stopped.
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var lastFlush = CaptureReplay.monotonicSeconds()
    public private(set) var lines = 0
    public let path: String
    public let rotation: CaptureRotation
    private let localTime: LocalTime?
    /// Every file written, in order (the current one last).
    public private(set) var files: [String] = []
    private var fileBytes = 0
    private var fileDay = Int.min

    public init(path: String, rotation: CaptureRotation = CaptureRotation()) throws(CaptureError) {
        self.path = path
        self.rotation = rotation
        if let zone = rotation.dailyZone {
            guard let l = LocalTime(identifier: zone) else { throw CaptureError.cannotWrite(path: path, reason: "unknown time zone \(zone)") }
            localTime = l
        } else {
            localTime = nil
        }
        buffer.reserveCapacity(1 << 16)
        if !rotation.isOn { try open(path) }
    }

    private func open(_ name: String) throws(CaptureError) {
        fd = Glibc.open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw CaptureError.cannotWrite(path: name, reason: String(cString: strerror(errno))) }
        files.append(name)
        fileBytes = 0
    }

    /// The name of a rotated file whose first message is at `time`.
    func rotatedName(at time: Double) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let dot = path[slash...].lastIndex(of: ".") ?? path.endIndex
        let stem = String(path[..<dot]), ext = String(path[dot...])
        let day = localTime?.dayNumber(at: time) ?? Int((time / 86_400).rounded(.down))
        let (y, m, d) = Timestamp.civilFromDays(day)
        let sod = Int(localTime?.secondsOfDay(at: time) ?? time - Double(day) * 86_400)
        let stamp = "\(Timestamp.pad(y, 4))\(Timestamp.pad(m, 2))\(Timestamp.pad(d, 2))-"
            + "\(Timestamp.pad(sod / 3600, 2))\(Timestamp.pad(sod / 60 % 60, 2))\(Timestamp.pad(sod % 60, 2))"
        var name = "\(stem)-\(stamp)\(ext)"
        var n = 1
        while files.contains(name) || access(name, F_OK) == 0 {
            n += 1
            name = "\(stem)-\(stamp)-\(n)\(ext)"
        }
        return name
    }

    public func append(time: Double, topic: String, qos: Int, retain: Bool, payload: [UInt8]) throws(CaptureError) {
        let line = CaptureLineReader.format(time: time, topic: topic, qos: qos, retain: retain, payload: payload)
        let bytes = line.utf8.count + 1   // and its newline
        if rotation.isOn {
            let day = localTime?.dayNumber(at: time) ?? Int.min
            let full = rotation.maximumBytes.map { fileBytes > 0 && fileBytes + bytes > $0 } ?? false
            if fd < 0 || full || (localTime != nil && day != fileDay) {
                try closeFile()
                try open(rotatedName(at: time))
                fileDay = day
            }
        }
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        fileBytes += bytes
        lines += 1
        let now = CaptureReplay.monotonicSeconds()
        if buffer.count >= 1 << 16 || now - lastFlush >= 1 { try flush() }
    }

    public func flush() throws(CaptureError) {
        lastFlush = CaptureReplay.monotonicSeconds()
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CaptureError.cannotWrite(path: files.last ?? path, reason: String(cString: strerror(errno)))
            }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func closeFile() throws(CaptureError) {
        guard fd >= 0 else { return }
        try flush()
        _ = fsync(fd)
        _ = Glibc.close(fd)
        fd = -1
    }

    public func close() throws(CaptureError) { try closeFile() }
}
