import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// A deterministic random source (CareSupport's SplitMix64) with normal deviates (Box–Muller, the second of each
/// pair kept for the next call).
struct SplitMix {
    var generator: SplitMix64
    var spare: Double?

    init(state: UInt64) { generator = SplitMix64(seed: state) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in (0, 1].
    mutating func unit() -> Double { generator.unit() }

    mutating func gaussian(sigma: Double) -> Double {
        if let s = spare { spare = nil; return s * sigma }
        let r = (-2 * log(unit())).squareRoot(), a = 2 * Double.pi * unit()
        spare = r * sin(a)
        return r * cos(a) * sigma
    }
}

/// Synthetic wearable traffic of the `accel` format: batches of 100 samples at 200 Hz (0.5 s) per device, walking-
/// like motion (1.8 Hz sway on x and y, gravity on y, noise σ = 0.03 g), values rounded to 4 decimals, JSON without
/// spaces: `{"t0":…,"hz":200,"unit":"g","x":[…],"y":[…],"z":[…]}`. Written as `mosquitto_sub -F %j` capture lines
/// (payload as an escaped JSON string) for replay, or as bare payloads for the ingest benchmarks.
struct AccelTrafficGenerator {
    static let perBatch = 100
    static let hz = 200.0
    static let startTime = 1_763_856_000.0

    var random = SplitMix(state: 7)
    private var xs = [Double](repeating: 0, count: perBatch)
    private var ys = [Double](repeating: 0, count: perBatch)
    private var zs = [Double](repeating: 0, count: perBatch)

    /// Epoch seconds of the first sample of batch `k`.
    static func batchTime(_ k: Int) -> Double { startTime + Double(k * perBatch) / hz }

    /// Appends `value`, already scaled to an integer of 10^-decimals units, as the shortest decimal with at least
    /// one fraction digit (as Python prints a rounded float: `-1.0`, `0.05`, `0.1234`).
    static func appendFixed(_ scaled: Int, decimals: Int, to out: inout [UInt8]) {
        var q = scaled
        if q < 0 { out.append(UInt8(ascii: "-")); q = -q }
        var unit = 1
        for _ in 0..<decimals { unit *= 10 }
        appendInteger(q / unit, to: &out)
        out.append(UInt8(ascii: "."))
        var frac = q % unit
        var width = decimals
        while width > 1 && frac % 10 == 0 { frac /= 10; width -= 1 }
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var i = width - 1
        while i >= 0 { digits[i] = UInt8(ascii: "0") + UInt8(frac % 10); frac /= 10; i -= 1 }
        out.append(contentsOf: digits)
    }

    static func appendInteger(_ v: Int, to out: inout [UInt8]) {
        if v >= 10 { appendInteger(v / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(v % 10))
    }

    /// Makes the samples of batch `k` (shared phase for all devices; noise per device) and appends the payload.
    /// `magnitudes`, when given, receives |(x, y, z)| of each sample.
    mutating func appendPayload(batch k: Int, to out: inout [UInt8], magnitudes: UnsafeMutablePointer<Double>? = nil) {
        for j in 0..<Self.perBatch {
            let t = Double(k * Self.perBatch + j) / Self.hz
            let phase = 2 * Double.pi * 1.8 * t
            xs[j] = ((0.1 * sin(phase) + random.gaussian(sigma: 0.03)) * 10_000).rounded()
            ys[j] = ((-1.0 + 0.25 * sin(phase + 1) + random.gaussian(sigma: 0.03)) * 10_000).rounded()
            zs[j] = ((0.05 + random.gaussian(sigma: 0.03)) * 10_000).rounded()
            if let m = magnitudes {
                let x = xs[j] / 10_000, y = ys[j] / 10_000, z = zs[j] / 10_000
                m[j] = (x * x + y * y + z * z).squareRoot()
            }
        }
        out.append(contentsOf: "{\"t0\":".utf8)
        Self.appendFixed(Int((Self.batchTime(k) * 1000).rounded()), decimals: 3, to: &out)
        out.append(contentsOf: ",\"hz\":200,\"unit\":\"g\"".utf8)
        for (name, axis) in [("x", xs), ("y", ys), ("z", zs)] {
            out.append(contentsOf: ",\"\(name)\":[".utf8)
            for j in 0..<Self.perBatch {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                Self.appendFixed(Int(axis[j]), decimals: 4, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
    }

    static func topic(device d: Int) -> String { "wearable/band\(d)/accel" }
}

/// The generated capture and its magnitudes as raw float64 (for the rolling-statistics reference), kept in a
/// directory under /tmp and reused by later runs with the same sample count.
struct AccelCaptureFiles {
    let capturePath: String
    let magnitudesPath: String
    let samples: Int
    let devices = 4

    init(directory: String, samples requested: Int) {
        let per = AccelTrafficGenerator.perBatch * devices
        samples = (requested + per - 1) / per * per
        capturePath = "\(directory)/accel-\(samples)-v1.ndjson"
        magnitudesPath = "\(directory)/accel-\(samples)-v1.f64"
    }

    static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// Generates the files unless they exist. Returns the seconds spent generating (0 when reused).
    func ensure(directory: String) -> Double {
        if Self.fileSize(capturePath) != nil, Self.fileSize(magnitudesPath) == samples * 8 { return 0 }
        _ = mkdir(directory, 0o755)
        note("generating \(samples) samples into \(capturePath)")
        let t0 = cmb_now_ns()
        var generator = AccelTrafficGenerator()
        let magnitudes = UnsafeMutablePointer<Double>.allocate(capacity: samples)
        defer { magnitudes.deallocate() }
        let out = openForWriting(capturePath + ".new")
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 21)
        var payload: [UInt8] = []
        payload.reserveCapacity(4096)
        var written = 0, k = 0
        while written < samples {
            for d in 0..<devices {
                payload.removeAll(keepingCapacity: true)
                generator.appendPayload(batch: k, to: &payload, magnitudes: magnitudes + written)
                let last = AccelTrafficGenerator.batchTime(k) + Double(AccelTrafficGenerator.perBatch - 1) / AccelTrafficGenerator.hz
                buffer.append(contentsOf: "{\"tst\":\"\(Timestamp.mosquittoTST(last))\",\"topic\":\"\(AccelTrafficGenerator.topic(device: d))\",\"qos\":0,\"retain\":0,\"payloadlen\":\(payload.count),\"payload\":\"".utf8)
                for b in payload {
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { buffer.append(UInt8(ascii: "\\")) }
                    buffer.append(b)
                }
                buffer.append(contentsOf: "\"}\n".utf8)
                written += AccelTrafficGenerator.perBatch
            }
            k += 1
            if buffer.count >= 1 << 20 { writeAll(out, buffer); buffer.removeAll(keepingCapacity: true) }
        }
        writeAll(out, buffer)
        close(out)
        let m = openForWriting(magnitudesPath + ".new")
        writeAll(m, UnsafeRawBufferPointer(start: magnitudes, count: samples * 8))
        close(m)
        guard rename(capturePath + ".new", capturePath) == 0, rename(magnitudesPath + ".new", magnitudesPath) == 0 else {
            fail("cannot rename the generated capture into \(directory): \(String(cString: strerror(errno)))")
        }
        return Double(cmb_now_ns() - t0) / 1e9
    }

    private func openForWriting(_ path: String) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { fail("cannot write \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 { if errno == EINTR { continue }; fail("write failed: \(String(cString: strerror(errno)))") }
            off += n
        }
    }
}

/// The benchmark's routing: one source, `wearable/+/accel`, format `accel` (the daemon's config would say
/// `{"topic":"wearable/+/accel","format":"accel","placement":"wrist"}`). Its general decoder refuses everything, so
/// a message that misses the fast path shows up as `rejected` instead of silently taking a slower path.
struct WearableAccelRouting: TopicRouting {
    static let filter = "wearable/+/accel"
    var sourceNames: [String] { [Self.filter] }

    func route(topic: String) -> TopicRoute? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "wearable", parts[2] == "accel", !parts[1].isEmpty else { return nil }
        return TopicRoute(sourceIndex: 0, sourceName: Self.filter, device: String(parts[1]), isAccelerometer: true,
                          placement: "wrist", decode: { _, _, _ throws(DecodeError) -> DecodedMessage in
            throw DecodeError(.unsupported, "the benchmark decodes accel batches by the fast path only")
        })
    }
}

/// Carries a value that is not Sendable to the one thread that will use it (the caller guarantees no sharing).
final class Handoff<T>: @unchecked Sendable {
    // @unchecked Sendable: the value is used by one thread at a time, handed over by thread start and join.
    let value: T
    init(_ value: T) { self.value = value }
}
