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
/// taken from each line's `tst` (as fast as possible, or paced at `speed` × real time).
public struct CaptureReplay {
    public var pipeline: IngestPipeline
    /// nil = as fast as possible; N = N × real time.
    public var speed: Double?
    public var showProgress: Bool
    /// Called for each line that is not a capture line (file, 1-based line number, what is wrong).
    public var onMalformed: (String, Int, String) -> Void
    /// Offered every message first (topic, payload, time); returning true takes it out of the pipeline (replay's
    /// escalation takes the ack topic this way).
    public var divert: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer, Double) -> Bool)?

    public init(pipeline: IngestPipeline, speed: Double? = nil, showProgress: Bool = false,
                onMalformed: @escaping (String, Int, String) -> Void) {
        self.pipeline = pipeline; self.speed = speed; self.showProgress = showProgress; self.onMalformed = onMalformed
    }

    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Replays `files` in order, then calls `pipeline.finish()`. Returns the number of malformed lines.
    /// All files are opened first, so a missing one fails before anything is replayed.
    public func feed(files: [String]) throws(CaptureError) -> Int {
        var mapped: [MappedFile] = []
        for f in files { mapped.append(try MappedFile(path: f)) }
        let reader = CaptureLineReader()
        var malformed = 0
        let prefaulter = Prefaulter(files: mapped, window: MappedFile.readAheadWindow)
        defer { prefaulter.finish() }
        var readerBase = 0   // bytes of the files before this one (the prefaulter's measure of progress)
        let totalBytes = mapped.reduce(0) { $0 + $1.bytes.count }
        var doneBytes = 0
        var lastProgress = Self.monotonicSeconds()
        var firstCaptureTime: Double?
        let wallStart = Self.monotonicSeconds()
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
                    if let speed {
                        let first = firstCaptureTime ?? l.time
                        firstCaptureTime = first
                        let due = wallStart + (l.time - first) / speed
                        let now = Self.monotonicSeconds()
                        if due > now { usleep(UInt32(min((due - now) * 1e6, 60e6))) }
                    }
                    if let divert, divert(l.topic, l.payload, l.time) { return }
                    pipeline.ingest(topic: l.topic, payload: l.payload, arrival: l.time)
                }
                if case .failure(let problem) = result {
                    malformed += 1
                    onMalformed(file.path, lineNumber, problem.description)
                }
                if showProgress && lineNumber & 1023 == 0 {
                    let now = Self.monotonicSeconds()
                    if now - lastProgress >= 0.5 {
                        lastProgress = now
                        let pct = totalBytes > 0 ? Double(doneBytes + offset) * 100 / Double(totalBytes) : 100
                        let c = pipeline.counts
                        let text = "\rreplay: \(Int(pct))% (file \(fileIndex + 1)/\(mapped.count)) \(c.messages) messages, \(c.samples) samples"
                        FileOutput.standardError.write(text); FileOutput.standardError.flush()
                    }
                }
            }
            doneBytes += bytes.count
            readerBase += bytes.count
        }
        if showProgress { FileOutput.standardError.write("\r\u{1B}[K"); FileOutput.standardError.flush() }
        pipeline.finish()
        return malformed
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

/// Appends capture lines (`mosquitto_sub -F %j` shape) to a file, flushing at least once a second so that a
/// killed recorder loses at most a second.
public final class CaptureWriter: @unchecked Sendable {
    // @unchecked Sendable: written from the MQTT callback thread only; `close` after the client stopped.
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var lastFlush = CaptureReplay.monotonicSeconds()
    public private(set) var lines = 0
    public let path: String

    public init(path: String) throws(CaptureError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw CaptureError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        buffer.reserveCapacity(1 << 16)
    }

    public func append(time: Double, topic: String, qos: Int, retain: Bool, payload: [UInt8]) throws(CaptureError) {
        buffer.append(contentsOf: CaptureLineReader.format(time: time, topic: topic, qos: qos, retain: retain, payload: payload).utf8)
        buffer.append(0x0A)
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
                throw CaptureError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws(CaptureError) {
        try flush()
        _ = fsync(fd)
        _ = Glibc.close(fd)
    }
}
