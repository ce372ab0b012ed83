// PROTOTYPE (benchmark-only copy): Sources/SensorIngest/Pipeline/ByteScanner.swift with the changes recommended
// to the lead, renamed Proto*, to measure them side by side with the library. Not used by the daemon.
#if canImport(Glibc)
import Glibc
#endif

/// A growable byte buffer reused across messages (unescaped payloads and topics). It grows to the largest message
/// seen and then never allocates again: the steady state of the hot path is allocation-free.
///
/// Unsafe: owns one heap block; `bytes` is valid until the next `reserve` or `deinit`.
final class ProtoByteScratch: @unchecked Sendable {
    // @unchecked Sendable: owned by one pipeline end; never used from two threads at once.
    var base: UnsafeMutableRawPointer
    var capacity: Int
    var count = 0

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }
    deinit { base.deallocate() }

    func reserve(_ n: Int) {
        guard n > capacity else { return }
        var c = capacity
        while c < n { c <<= 1 }
        let b = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        b.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = b
        capacity = c
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A growable buffer of doubles reused across messages (accelerometer axes).
final class ProtoDoubleScratch: @unchecked Sendable {
    // @unchecked Sendable: owned by one pipeline end; never used from two threads at once.
    var base: UnsafeMutablePointer<Double>
    var capacity: Int
    var count = 0

    init(capacity: Int = 512) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }
    deinit { base.deallocate() }

    @inline(__always) func append(_ v: Double) {
        if count == capacity { grow() }
        base[count] = v
        count += 1
    }

    func grow() {
        let c = capacity * 2
        let b = UnsafeMutablePointer<Double>.allocate(capacity: c)
        b.update(from: base, count: count)
        base.deallocate()
        base = b
        capacity = c
    }

    subscript(i: Int) -> Double { base[i] }
}

/// Zero-copy scanning of JSON text for the hot formats (capture lines, `accel` batches): numbers straight to
/// doubles, strings as byte ranges, unknown values skipped. It validates only what it uses; anything it does not
/// understand makes it give up (return nil) so that the caller falls back to the strict general parser, which then
/// reports a precise error.
@usableFromInline
struct ProtoScanner {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i: Int

    init(_ buf: UnsafeRawBufferPointer) {
        p = buf.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(bitPattern: 1)!
        n = buf.count
        i = 0
    }

    @inline(__always) var atEnd: Bool { i >= n }

    @inline(__always) mutating func skipSpace() {
        while i < n {
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    /// Consumes `c` (after whitespace); false when the next byte is something else.
    @inline(__always) mutating func expect(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < n, p[i] == c else { return false }
        i += 1
        return true
    }

    @inline(__always) mutating func peek() -> UInt8? {
        skipSpace()
        return i < n ? p[i] : nil
    }

    /// A string without escapes: returns its byte range (quotes excluded). Returns nil at an escape or the end.
    @inline(__always) mutating func plainString() -> Range<Int>? {
        guard expect(UInt8(ascii: "\"")) else { return nil }
        let start = i
        while i < n {
            let c = p[i]
            if c == UInt8(ascii: "\"") { i += 1; return start..<(i - 1) }
            if c == UInt8(ascii: "\\") { return nil }
            i += 1
        }
        return nil
    }

    /// A string, unescaped into `out` (which is reset). Handles every JSON escape. nil when malformed.
    mutating func string(into out: ProtoByteScratch) -> Bool {
        // CHANGE 1: copy the runs between escapes with memchr + memcpy (vectorized) instead of two byte-by-byte
        // passes (one to find the end, one to copy). The text never grows when unescaped, so reserving the rest
        // of the input is enough.
        guard expect(UInt8(ascii: "\"")) else { return false }
        out.reserve(n - i)
        out.count = 0
        let o = out.base.assumingMemoryBound(to: UInt8.self)
        var k = 0
        while true {
            guard i < n, let qp = memchr(p + i, Int32(UInt8(ascii: "\"")), n - i) else { return false }
            let quote = UnsafeRawPointer(qp).assumingMemoryBound(to: UInt8.self) - p
            let bp = memchr(p + i, Int32(UInt8(ascii: "\\")), quote - i)
            let runEnd = bp.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) - p } ?? quote
            (o + k).update(from: p + i, count: runEnd - i)
            k += runEnd - i
            i = runEnd
            if bp == nil {
                i = quote + 1
                out.count = k
                return true
            }
            guard i + 1 < n else { return false }
            let e = p[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): o[k] = e
            case UInt8(ascii: "n"): o[k] = 0x0A
            case UInt8(ascii: "t"): o[k] = 0x09
            case UInt8(ascii: "r"): o[k] = 0x0D
            case UInt8(ascii: "b"): o[k] = 0x08
            case UInt8(ascii: "f"): o[k] = 0x0C
            case UInt8(ascii: "u"):
                guard i + 4 <= n, var u = hex4(at: i) else { return false }
                i += 4
                if u >= 0xD800 && u < 0xDC00 {
                    guard i + 6 <= n, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u"),
                          let lo = hex4(at: i + 2), lo >= 0xDC00 && lo < 0xE000 else { return false }
                    i += 6
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                }
                // UTF-8 encode (at most 4 bytes; an escape is 6 source bytes, so `out` has room).
                if u < 0x80 { o[k] = UInt8(u) }
                else if u < 0x800 { o[k] = UInt8(0xC0 | (u >> 6)); k += 1; o[k] = UInt8(0x80 | (u & 0x3F)) }
                else if u < 0x10000 {
                    o[k] = UInt8(0xE0 | (u >> 12)); k += 1
                    o[k] = UInt8(0x80 | ((u >> 6) & 0x3F)); k += 1
                    o[k] = UInt8(0x80 | (u & 0x3F))
                } else {
                    o[k] = UInt8(0xF0 | (u >> 18)); k += 1
                    o[k] = UInt8(0x80 | ((u >> 12) & 0x3F)); k += 1
                    o[k] = UInt8(0x80 | ((u >> 6) & 0x3F)); k += 1
                    o[k] = UInt8(0x80 | (u & 0x3F))
                }
            default: return false
            }
            k += 1
        }
    }

    func hex4(at at: Int) -> UInt32? {
        var v: UInt32 = 0
        for q in at..<(at + 4) {
            let c = p[q]
            let d: UInt32
            if c >= 48 && c <= 57 { d = UInt32(c - 48) }
            else if c >= 97 && c <= 102 { d = UInt32(c - 87) }
            else if c >= 65 && c <= 70 { d = UInt32(c - 55) }
            else { return nil }
            v = v << 4 | d
        }
        return v
    }

    /// True when the bytes in `range` equal the ASCII `key`.
    @inline(__always) func equals(_ range: Range<Int>, _ key: StaticString) -> Bool {
        guard range.count == key.utf8CodeUnitCount else { return false }
        return memcmp(p + range.lowerBound, key.utf8Start, range.count) == 0
    }

    @inline(__always) static func exactPowerOfTen(_ e: Int) -> Double {
        switch e {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }

    static let powersOfTen: [Double] = (0...22).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }

    /// A JSON number. Decimal numbers of up to 19 digits and 22 fraction digits take the exact fast path
    /// (integer mantissa divided by an exact power of ten: correctly rounded); everything else goes to `strtod`.
    @inline(__always) mutating func number() -> Double? {
        skipSpace()
        let start = i
        var neg = false
        if i < n && p[i] == UInt8(ascii: "-") { neg = true; i += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        let intStart = i
        while i < n {
            let d = p[i] &- 48
            if d > 9 { break }
            mantissa = mantissa &* 10 &+ UInt64(d)
            digits += 1
            i += 1
        }
        if i == intStart { i = start; return nil }
        var frac = 0
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            let fracStart = i
            while i < n {
                let d = p[i] &- 48
                if d > 9 { break }
                mantissa = mantissa &* 10 &+ UInt64(d)
                digits += 1
                i += 1
            }
            frac = i - fracStart
            if frac == 0 { i = start; return nil }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) || digits > 19 || frac > 22
            || mantissa > (1 << 53) {
            return slowNumber(from: start)
        }
        // CHANGE 2: the power of ten from a switch (a constant table in the code) instead of a global Array: no
        // swift_once call, bounds check or array load per number.
        let v = Double(mantissa) / ProtoScanner.exactPowerOfTen(frac)
        return neg ? -v : v
    }

    mutating func slowNumber(from start: Int) -> Double? {
        i = start
        var j = start
        while j < n {
            let c = p[j]
            if (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { j += 1 } else { break }
        }
        let len = j - start
        guard len > 0, len < 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { tmp -> Double? in
            let b = tmp.baseAddress!
            (p + start).withMemoryRebound(to: CChar.self, capacity: len) { b.update(from: $0, count: len) }
            b[len] = 0
            var endPtr: UnsafeMutablePointer<CChar>?
            let v = strtod(b, &endPtr)
            guard let e = endPtr, e - b == len, v.isFinite else { return nil }
            i = j
            return v
        }
    }

    /// An array of numbers appended to `out` (reset first).
    mutating func numberArray(into out: ProtoDoubleScratch) -> Bool {
        out.count = 0
        guard expect(UInt8(ascii: "[")) else { return false }
        if expect(UInt8(ascii: "]")) { return true }
        while true {
            guard let v = number() else { return false }
            out.append(v)
            skipSpace()
            guard i < n else { return false }
            let c = p[i]
            i += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { return true }
            return false
        }
    }

    /// Skips any JSON value; returns its byte range. nil when malformed or truncated.
    mutating func skipValue() -> Range<Int>? {
        skipSpace()
        guard i < n else { return nil }
        let start = i
        let c = p[i]
        if c == UInt8(ascii: "\"") {
            i += 1
            while i < n {
                let d = p[i]
                if d == UInt8(ascii: "\\") { i += 2; continue }
                i += 1
                if d == UInt8(ascii: "\"") { return start..<i }
            }
            return nil
        }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            while i < n {
                let d = p[i]
                if d == UInt8(ascii: "\"") {
                    i += 1
                    while i < n {
                        let e = p[i]
                        if e == UInt8(ascii: "\\") { i += 2; continue }
                        i += 1
                        if e == UInt8(ascii: "\"") { break }
                    }
                    continue
                }
                if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1 }
                else if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { i += 1; return start..<i }
                }
                i += 1
            }
            return nil
        }
        // number or literal
        while i < n {
            let d = p[i]
            if d == UInt8(ascii: ",") || d == UInt8(ascii: "}") || d == UInt8(ascii: "]") || d == 0x20 || d == 0x0A
                || d == 0x0D || d == 0x09 { break }
            i += 1
        }
        return i > start ? start..<i : nil
    }
}
