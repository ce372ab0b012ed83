import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest
import Synchronization

/// A preallocated buffer of latencies, written by the consumer thread only and read after it was joined.
final class LatencyBuffer: @unchecked Sendable {
    // @unchecked Sendable: one writer (the consumer), read only after `join`.
    let ns: UnsafeMutablePointer<UInt64>
    let count: Int
    var waits = 0
    init(count: Int) {
        self.count = count
        ns = .allocate(capacity: count)
        ns.initialize(repeating: 0, count: count)   // fault the pages in before timing
    }
    deinit { ns.deallocate() }

    func percentiles() -> (p50: Double, p99: Double, p999: Double, max: Double, mean: Double) {
        var sorted = UnsafeMutableBufferPointer(start: ns, count: count)
        sorted.sort()
        func at(_ q: Double) -> Double { Double(sorted[min(count - 1, Int(Double(count) * q))]) }
        var sum = 0.0
        for v in sorted { sum += Double(v) }
        return (at(0.5), at(0.99), at(0.999), Double(sorted[count - 1]), sum / Double(count))
    }
}

/// Figure 2: producer→consumer latency through the Swift ring. The producer stamps `Sample.value` with
/// CLOCK_MONOTONIC just before `push`; the consumer reads the clock right after `pop` and, when the ring is empty,
/// parks in `wait(timeoutNanoseconds:)` (futex) as the detector thread does. Producer on CPU 0, consumer on CPU 1.
enum RingLatencyBenchmark {
    /// `spinBeforeParkNs` > 0: the consumer checks the ring for that long before calling `wait` (the prototype of
    /// the recommended change to `SPSCRing.Consumer.wait`); 0: it calls `wait` at once, as the library does.
    static func measure(items: Int, periodNs: UInt64?, capacity: Int, spinBeforeParkNs: UInt64 = 0) -> LatencyBuffer {
        let storage = SPSCRing<Sample>.make(capacity: capacity)
        let gate = StartGate()
        let buffer = LatencyBuffer(count: items)
        let base = cmb_now_ns()
        let consumer = OSThread(name: "latency-consumer") {
            _ = cmb_pin_current_thread(1)
            var c = storage.takeConsumer()
            gate.arrive()
            var k = 0
            var waits = 0
            let out = buffer.ns
            while k < items {
                if let e = c.pop() {
                    out[k] = cmb_now_ns() &- base &- UInt64(e.value)
                    k &+= 1
                } else {
                    if spinBeforeParkNs > 0 {
                        let deadline = cmb_now_ns() + spinBeforeParkNs
                        var ready = false
                        while !ready && cmb_now_ns() < deadline {
                            cmb_cpu_relax()
                            ready = c.hasElements()
                        }
                        if ready { continue }
                    }
                    waits &+= 1
                    _ = c.wait(timeoutNanoseconds: 100_000_000)
                }
            }
            buffer.waits = waits
        }
        let producer = OSThread(name: "latency-producer") {
            _ = cmb_pin_current_thread(0)
            var p = storage.takeProducer()
            gate.arrive()
            var s = Sample(signal: SignalID(1), time: 0, value: 0)
            if let periodNs {
                let start = cmb_now_ns() + 1_000_000
                for k in 0..<items {
                    let now = cmb_spin_until(start + UInt64(k) * periodNs)
                    s.time = Double(k)
                    s.value = Double(now &- base)
                    while !p.push(s) {}
                }
            } else {
                for k in 0..<items {
                    s.time = Double(k)
                    s.value = Double(cmb_now_ns() &- base)
                    while !p.push(s) {}
                }
            }
        }
        gate.open(parties: 2)
        producer.join()
        consumer.join()
        return buffer
    }

    static func run(_ options: Options) {
        let capacity = 1 << 16
        let runs: [(mode: String, period: UInt64?, items: Int, spin: UInt64)] = [
            ("paced_10us", 10_000, options.scaled(100_000), 0),
            ("back_to_back", nil, options.scaled(2_000_000), 0),
            ("paced_10us", 10_000, options.scaled(100_000), 50_000),
        ]
        for r in runs {
            note("latency: \(r.mode), \(r.items) items\(r.spin > 0 ? ", spin \(r.spin) ns before parking" : "")")
            let b = measure(items: r.items, periodNs: r.period, capacity: capacity, spinBeforeParkNs: r.spin)
            let q = b.percentiles()
            var line = JSONLine(bench: "ring_latency_\(r.mode)",
                                impl: r.spin > 0 ? "swift_prototype_spin_\(r.spin / 1000)us_then_park" : "swift")
            line.add("ns_p50", q.p50)
            line.add("ns_p99", q.p99)
            line.add("ns_p999", q.p999)
            line.add("ns_max", q.max)
            line.add("ns_mean", q.mean)
            line.add("items", r.items)
            line.add("consumer_waits", b.waits)
            if let p = r.period { line.add("push_period_ns", Int(p)) }
            line.add("ring_slots", capacity)
            line.add("parking", r.spin > 0 ? "spin \(r.spin) ns, then wait(timeoutNanoseconds:)" : "wait(timeoutNanoseconds:) at once")
            line.emit()
        }
    }
}
