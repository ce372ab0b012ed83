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

/// Wall and thread-CPU seconds of one single-threaded pass.
struct Timing {
    var wall: Double
    var cpu: Double
}

/// Rates of repeated single-threaded passes, by wall clock and by the thread's CPU time (the CPU-time rate is
/// what the code does when another process takes the core for a while: other builds share this machine).
struct TimedRepeats {
    var wall = Repeats()
    var cpu = Repeats()

    mutating func append(_ t: Timing, items: Double) {
        wall.append(items / t.wall)
        cpu.append(items / t.cpu)
    }

    func emit(bench: String, impl: String, extra: (String, String)? = nil) {
        var line = JSONLine(bench: bench, impl: impl)
        line.add("samples_per_s_best", wall.best)
        line.add("samples_per_s_median", wall.median)
        line.add("samples_per_cpu_s_best", cpu.best)
        line.add("ns_per_sample_best", 1e9 / wall.best)
        line.add("passes", wall.values.count)
        if let (k, v) = extra { line.add(k, v) }
        line.emit()
    }
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

/// (busy, total) jiffies of all CPUs from the first line of /proc/stat.
func cpuJiffies() -> (busy: Double, total: Double) {
    guard let f = fopen("/proc/stat", "r") else { return (0, 0) }
    defer { fclose(f) }
    var line: UnsafeMutablePointer<CChar>?
    var cap = 0
    defer { free(line) }
    guard getline(&line, &cap, f) > 0 else { return (0, 0) }
    let fields = String(cString: line!).split(separator: " ").dropFirst().compactMap { Double($0) }
    guard fields.count >= 5 else { return (0, 0) }
    let total = fields.prefix(8).reduce(0, +)
    return (total - fields[3] - fields[4], total)
}

/// Percentage of all CPUs busy during `seconds` (this process is idle meanwhile: it measures the others).
func machineBusyPercent(over seconds: Double) -> Double {
    let a = cpuJiffies()
    usleep(UInt32(seconds * 1e6))
    let b = cpuJiffies()
    return b.total > a.total ? 100 * (b.busy - a.busy) / (b.total - a.total) : .nan
}

func loadAverage1m() -> Double {
    var l = [0.0, 0.0, 0.0]
    return getloadavg(&l, 3) > 0 ? l[0] : .nan
}
