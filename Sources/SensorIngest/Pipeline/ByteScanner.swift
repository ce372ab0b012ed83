#if canImport(Glibc)
import Glibc
#endif

/// A growable byte buffer reused across messages (unescaped payloads and topics). It grows to the largest message
/// seen and then never allocates again: the steady state of the hot path is allocation-free.
///
/// Unsafe: owns one heap block; `bytes` is valid until the next `reserve` or `deinit`.
public final class ByteScratch: @unchecked Sendable {
    // @unchecked Sendable: owned by one pipeline end; never used from two threads at once.
    @usableFromInline var base: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    public var count = 0

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }
    deinit { base.deallocate() }

    @inlinable public func reserve(_ n: Int) {
        guard n > capacity else { return }
        var c = capacity
        while c < n { c <<= 1 }
        let b = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        b.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = b
        capacity = c
    }

    @inlinable public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A growable buffer of doubles reused across messages (accelerometer axes).
public final class DoubleScratch: @unchecked Sendable {
    // @unchecked Sendable: owned by one pipeline end; never used from two threads at once.
    @usableFromInline var base: UnsafeMutablePointer<Double>
    @usableFromInline var capacity: Int
    public var count = 0

    public init(capacity: Int = 512) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }
    deinit { base.deallocate() }

    @inlinable @inline(__always) public func append(_ v: Double) {
        if count == capacity { grow() }
        base[count] = v
        count += 1
    }

    @usableFromInline func grow() {
        let c = capacity * 2
        let b = UnsafeMutablePointer<Double>.allocate(capacity: c)
        b.update(from: base, count: count)
        base.deallocate()
        base = b
        capacity = c
    }

    @inlinable public subscript(i: Int) -> Double { base[i] }
}

/// Zero-copy scanning of JSON text for the hot formats (capture lines, `accel` batches): numbers straight to
/// doubles, strings as byte ranges, unknown values skipped. It validates only what it uses; anything it does not
/// understand makes it give up (return nil) so that the caller falls back to the strict general parser, which then
/// reports a precise error.
@usableFromInline
struct ByteScanner {
    @usableFromInline let p: UnsafePointer<UInt8>
    @usableFromInline let n: Int
    @usableFromInline var i: Int

    @inlinable init(_ buf: UnsafeRawBufferPointer) {
        p = buf.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(bitPattern: 1)!
        n = buf.count
        i = 0
    }

    @inlinable @inline(__always) var atEnd: Bool { i >= n }

    @inlinable @inline(__always) mutating func skipSpace() {
        while i < n {
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    /// Consumes `c` (after whitespace); false when the next byte is something else.
    @inlinable @inline(__always) mutating func expect(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < n, p[i] == c else { return false }
        i += 1
        return true
    }

    @inlinable @inline(__always) mutating func peek() -> UInt8? {
        skipSpace()
        return i < n ? p[i] : nil
    }

    /// A string without escapes: returns its byte range (quotes excluded). Returns nil at an escape or the end.
    @inlinable @inline(__always) mutating func plainString() -> Range<Int>? {
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

    /// A string, unescaped into `out` (which is reset). Handles every JSON escape; false when malformed.
    /// Copies the runs between escapes with `memchr` + one block copy each (the common payload is long runs of
    /// digits between `\"` escapes); unescaped text is never longer than its source, so reserving the rest of the
    /// input is enough.
    @inlinable mutating func string(into out: ByteScratch) -> Bool {
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

    @inlinable func hex4(at: Int) -> UInt32? {
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
    @inlinable @inline(__always) func equals(_ range: Range<Int>, _ key: StaticString) -> Bool {
        guard range.count == key.utf8CodeUnitCount else { return false }
        return memcmp(p + range.lowerBound, key.utf8Start, range.count) == 0
    }

    /// 10^e for 0 ≤ e ≤ 22, all exact in binary64 (a constant switch: no lazily initialised table per call).
    @inlinable @inline(__always) static func powerOfTen(_ e: Int) -> Double {
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

    /// A JSON number. Decimal numbers of up to 19 digits and 22 fraction digits take the exact fast path
    /// (integer mantissa divided by an exact power of ten: correctly rounded); everything else goes to `strtod`.
    /// The loop runs on locals (the scanner's fields are written back once).
    @inlinable @inline(__always) mutating func number() -> Double? {
        let p = self.p
        let n = self.n
        var i = self.i
        while i < n, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
        let start = i
        var neg = false
        if i < n && p[i] == UInt8(ascii: "-") { neg = true; i += 1 }
        var mantissa: UInt64 = 0
        let intStart = i
        while i < n {
            let d = p[i] &- 48
            if d > 9 { break }
            mantissa = mantissa &* 10 &+ UInt64(d)
            i += 1
        }
        if i == intStart { return nil }
        var digits = i - intStart
        var frac = 0
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            let fracStart = i
            while i < n {
                let d = p[i] &- 48
                if d > 9 { break }
                mantissa = mantissa &* 10 &+ UInt64(d)
                i += 1
            }
            frac = i - fracStart
            if frac == 0 { return nil }
            digits += frac
        }
        if i < n && (p[i] | 0x20) == UInt8(ascii: "e") || digits > 19 || frac > 22 || mantissa > (1 << 53) {
            self.i = start
            return slowNumber(from: start)
        }
        self.i = i
        let v = Double(mantissa) / ByteScanner.powerOfTen(frac)
        return neg ? -v : v
    }

    @usableFromInline mutating func slowNumber(from start: Int) -> Double? {
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

    /// An array of numbers appended to `out` (reset first). The common element (a plain decimal such as
    /// `-0.0123`) is parsed inline on locals; anything else (exponent, long mantissa, spaces) goes through
    /// `number()`. `out`'s storage is read into locals and written back once: per-element accesses to a class's
    /// stored properties would each pay a dynamic exclusivity check in builds that keep them.
    @inlinable mutating func numberArray(into out: DoubleScratch, powersOfTen powers: UnsafePointer<Double>) -> Bool {
        out.count = 0
        guard expect(UInt8(ascii: "[")) else { return false }
        if expect(UInt8(ascii: "]")) { return true }
        var base = out.base
        var capacity = out.capacity
        var count = 0
        defer { out.count = count }
        let p = self.p
        let n = self.n
        // The first ']' after the '[' bounds every digit run below (a sentinel: it is no digit, no '.', no '-'), so
        // the per-digit loops need no bounds check. A ']' inside a string only ends a run early; the terminator
        // checks still decide what is accepted.
        guard memchr(p + i, Int32(UInt8(ascii: "]")), n - i) != nil else { return false }
        while true {
            // Inline fast path: -?digits(.digits)? followed by ',' or ']'. A ']' lies at or after i.
            var j = i
            let neg = p[j] == UInt8(ascii: "-")
            if neg { j &+= 1 }
            var mantissa: UInt64 = 0
            let intStart = j
            while true {
                let d = p[j] &- 48
                if d > 9 { break }
                mantissa = mantissa &* 10 &+ UInt64(d)
                j &+= 1
            }
            var digits = j &- intStart
            var frac = 0
            var dot = false
            if p[j] == UInt8(ascii: ".") {
                dot = true
                j &+= 1
                let fracStart = j
                while true {
                    let d = p[j] &- 48
                    if d > 9 { break }
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    j &+= 1
                }
                frac = j &- fracStart
                digits &+= frac
            }
            let c = p[j]
            var v: Double
            let terminator: UInt8
            if digits > 0 && digits <= 19 && (frac > 0 || !dot) && frac <= 22 && mantissa <= (1 << 53)
                && (c == UInt8(ascii: ",") || c == UInt8(ascii: "]")) {
                v = Double(mantissa) / powers[frac]   // a load, not a switch: digit counts vary per number
                if neg { v = -v }
                terminator = c
                i = j &+ 1
            } else {
                // Anything else (exponent, spaces, long mantissa, malformed): the general number parser.
                guard let slow = number() else { return false }
                v = slow
                skipSpace()
                guard i < n else { return false }
                terminator = p[i]
                i += 1
            }
            if count == capacity {
                out.count = count
                out.grow()
                base = out.base
                capacity = out.capacity
            }
            base[count] = v
            count &+= 1
            if terminator == UInt8(ascii: ",") { continue }
            return terminator == UInt8(ascii: "]")
        }
    }

    /// Skips any JSON value; returns its byte range. nil when malformed or truncated.
    @inlinable mutating func skipValue() -> Range<Int>? {
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
