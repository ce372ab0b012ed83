import CareSupport
#if canImport(Glibc)
import Glibc
#endif

/// One JSON object per figure, printed as one line on stdout: `"bench"` names the figure, `"impl"` the
/// implementation, and every numeric key carries its unit (`items_per_s`, `ns_p99`, `allocs_per_sample`).
struct JSONLine {
    private var fields: [String] = []

    init(bench: String, impl: String? = nil) {
        add("bench", bench)
        if let impl { add("impl", impl) }
    }

    mutating func add(_ key: String, _ value: String) {
        var out = "\""
        for u in value.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += "\\u00" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        fields.append("\"\(key)\":\(out)\"")
    }

    mutating func add(_ key: String, _ value: Int) { fields.append("\"\(key)\":\(value)") }
    mutating func add(_ key: String, _ value: UInt64) { fields.append("\"\(key)\":\(value)") }
    mutating func add(_ key: String, _ value: Bool) { fields.append("\"\(key)\":\(value)") }

    /// Large figures as integers, small ones with `digits` significant decimals; non-finite as null.
    mutating func add(_ key: String, _ value: Double, digits: Int = 3) {
        guard value.isFinite else { fields.append("\"\(key)\":null"); return }
        if abs(value) >= 1000 {
            fields.append("\"\(key)\":\(Int(value.rounded()))")
            return
        }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        // Keep `digits` significant decimals for small values (0.000123…).
        var v = value, extra = 1.0
        while v != 0 && abs(v * extra) < 1 && extra < 1e12 { extra *= 10 }
        v = (value * scale * extra).rounded() / (scale * extra)
        fields.append("\"\(key)\":\(v)")
    }

    func emit() {
        print("{" + fields.joined(separator: ",") + "}")
        fflush(nil)   // stdout (Swift 6 forbids naming the C global)
    }
}

/// Median and best of repeated measurements (rates: best = highest).
struct Repeats {
    var values: [Double] = []
    mutating func append(_ v: Double) { values.append(v) }
    var median: Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var best: Double { values.max() ?? .nan }
}

/// Progress and diagnostics go to stderr, never into the JSON stream.
func note(_ text: String) {
    FileOutput.standardError.writeLine("careMonitordBenchmarks: \(text)")
}

/// The first `model name` of /proc/cpuinfo.
func cpuModel() -> String {
    guard let f = fopen("/proc/cpuinfo", "r") else { return "unknown" }
    defer { fclose(f) }
    var line: UnsafeMutablePointer<CChar>?
    var cap = 0
    defer { free(line) }
    while getline(&line, &cap, f) > 0 {
        let s = String(cString: line!)
        if s.hasPrefix("model name"), let colon = s.firstIndex(of: ":") {
            return String(s[s.index(after: colon)...]).trimmingSpaces
        }
    }
    return "unknown"
}

func kernelRelease() -> String {
    var u = utsname()
    uname(&u)
    return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return String(s)
    }
}
