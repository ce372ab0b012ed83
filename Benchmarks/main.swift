import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest

#if canImport(Glibc)
import Glibc
#endif

/// careMonitordBenchmarks: the project's performance figures as JSON lines on stdout (progress on stderr).
///
///     careMonitordBenchmarks [--only ring,latency,alloc,replay,rolling,live,daemon] [--scale F] [--samples N]
///                            [--repeats N] [--capture-dir DIR] [--daemon PATH]
///
/// `--scale` multiplies the work of every figure (default 1: a full run stays under two minutes on 2 cores);
/// `--samples` is the size of the generated capture for replay and rolling (default 6,000,000, as the contract
/// check uses); environment variables CM_BENCH_SCALE, CM_BENCH_SAMPLES, CM_BENCH_REPEATS do the same.
/// `--only replay,replay_pipeline_only` runs just the library replay passes, `--only replay,reader_only` just the
/// capture line reader and accel scan, `--only replay,null_consumer` the pipeline with a consumer that only counts
/// (for a profiler); CM_BENCH_DEBUG=1 prints
/// every ring run (rate, preemptions) on stderr.
///
/// `daemon` is not in the default set: it runs the release `careMonitord run` (`--daemon PATH`, default the
/// `careMonitord` beside this executable; CM_BENCH_DAEMON does the same) for about two minutes.
///
/// Other processes share the machine's 2 cores: the `env` line says how busy it was before the run, the ring
/// figures count preemptions, single-threaded figures also give a rate per CPU second.
struct Options {
    var only: Set<String> = ["ring", "latency", "alloc", "replay", "rolling", "live"]
    var scale = 1.0
    var samples = 6_000_000
    var repeats = 9
    var captureDir = "/tmp/careMonitord-bench"
    var daemonBinary: String?

    static let usage = """
        usage: careMonitordBenchmarks [--only ring,latency,alloc,replay,rolling,live,daemon] [--scale F] [--samples N] \
        [--repeats N] [--capture-dir DIR] [--daemon PATH]
        """

    init(arguments: [String]) {
        func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        if let v = env("CM_BENCH_SCALE").flatMap(Double.init) { scale = v }
        if let v = env("CM_BENCH_SAMPLES").flatMap(Int.init) { samples = v }
        if let v = env("CM_BENCH_REPEATS").flatMap(Int.init) { repeats = v }
        if let v = env("CM_BENCH_DAEMON") { daemonBinary = v }
        var i = 1
        func value() -> String {
            i += 1
            guard i < arguments.count else { fail("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--only": only = Set(value().split(separator: ",").map(String.init))
            case "--scale": guard let v = Double(value()), v > 0 else { fail("--scale needs a positive number") }; scale = v
            case "--samples": guard let v = Int(value()), v >= 1000 else { fail("--samples needs an integer >= 1000") }; samples = v
            case "--repeats": guard let v = Int(value()), v >= 1 else { fail("--repeats needs an integer >= 1") }; repeats = v
            case "--capture-dir": captureDir = value()
            case "--daemon": daemonBinary = value()
            case "-h", "--help": print(Options.usage); exit(0)
            default: fail("unknown argument \(arguments[i])")
            }
            i += 1
        }
    }

    func scaled(_ n: Int) -> Int { max(1, Int(Double(n) * scale)) }
}

func fail(_ message: String) -> Never {
    FileOutput.standardError.writeLine("careMonitordBenchmarks: \(message)\n\(Options.usage)")
    exit(2)
}

let options = Options(arguments: CommandLine.arguments)

var env = JSONLine(bench: "env")
env.add("cpu_model", cpuModel())
env.add("cores", Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
env.add("kernel", kernelRelease())
env.add("build", "release -Ounchecked")
env.add("scale", options.scale)
env.add("sample_bytes", MemoryLayout<Sample>.stride)
// Other processes share these cores (builds, tests): say how busy the machine was just before the run.
env.add("machine_busy_pct_before", machineBusyPercent(over: 0.5), digits: 1)
env.add("loadavg_1m", loadAverage1m(), digits: 2)
env.emit()

guard MemoryLayout<Sample>.stride == MemoryLayout<cmb_sample>.stride else {
    fail("Sample is \(MemoryLayout<Sample>.stride) bytes but the C reference's cmb_sample is \(MemoryLayout<cmb_sample>.stride): update BenchmarkC.h")
}

if options.only.contains("alloc") { AllocationBenchmark.verifyInterposer() }
if options.only.contains("ring") { RingThroughputBenchmark.run(options) }
if options.only.contains("latency") { RingLatencyBenchmark.run(options) }
if options.only.contains("alloc") { AllocationBenchmark.run(options) }
if options.only.contains("replay") || options.only.contains("rolling") { ReplayBenchmark.run(options) }
if !options.only.isDisjoint(with: ["rolling", "stats", "detectors"]) { StatisticsBenchmark.run(options) }
if options.only.contains("live") { LiveIngestBenchmark.run(options) }
if options.only.contains("daemon") { DaemonBenchmark.run(options) }
