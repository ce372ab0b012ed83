import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Two threads released together: each announces itself, then spins until `go`.
final class StartGate: Sendable {
    let ready = Atomic<Int>(0)
    let go = Atomic<Bool>(false)

    func arrive() {
        ready.add(1, ordering: .acquiringAndReleasing)
        while !go.load(ordering: .acquiring) {}
    }

    /// Called by the coordinating thread: waits for `parties`, then releases them.
    func open(parties: Int) {
        while ready.load(ordering: .acquiring) < parties { sched_yield() }
        go.store(true, ordering: .releasing)
    }
}

/// Per-run results written by exactly one thread each, read after `join` (which orders them).
final class RunRecord: @unchecked Sendable {
    // @unchecked Sendable: each field has one writer thread; the reader reads only after joining it.
    var startNs: UInt64 = 0
    var endNs: UInt64 = 0
    var checksum = 0.0
    var fullSpins = 0
    var producerPreemptions: UInt64 = 0
    var consumerPreemptions: UInt64 = 0
}

/// Figure 1: SPSC ring throughput, Swift `SPSCRing<Sample>` against the C11 reference, same run, same threads
/// layout (producer pinned to CPU 0, consumer to CPU 1), unbatched and with 64-item batches.
enum RingThroughputBenchmark {
    static let capacity = 1 << 16   // IngestPipeline's default ring

    static func swiftRun(items: Int, batch: Int, capacity: Int) -> cmb_ring_run {
        let storage = SPSCRing<Sample>.make(capacity: capacity)
        let gate = StartGate()
        let record = RunRecord()
        let consumer = OSThread(name: "bench-consumer") {
            _ = cmb_pin_current_thread(1)
            var c = storage.takeConsumer()
            gate.arrive()
            let preempted = cmb_thread_preemptions()
            var sum = 0.0
            var got = 0
            if batch <= 1 {
                while got < items {
                    if let e = c.pop() { sum += e.time; got &+= 1 }
                }
            } else {
                while got < items {
                    got &+= c.drain { sum += $0.time }
                }
            }
            record.endNs = cmb_now_ns()
            record.checksum = sum
            record.consumerPreemptions = cmb_thread_preemptions() - preempted
        }
        let producer = OSThread(name: "bench-producer") {
            _ = cmb_pin_current_thread(0)
            var p = storage.takeProducer()
            gate.arrive()
            let preempted = cmb_thread_preemptions()
            record.startNs = cmb_now_ns()
            var s = Sample(signal: SignalID(1), time: 0, value: 0.5)
            s.x = 0.1; s.y = -1; s.z = 0.05
            var spins = 0
            if batch <= 1 {
                for i in 0..<items {
                    s.time = Double(i)
                    while !p.push(s) { spins &+= 1 }
                }
            } else {
                var i = 0
                while i < items {
                    let end = min(i + batch, items)
                    while i < end {
                        s.time = Double(i)
                        while !p.stage(s) { p.publish(); spins &+= 1 }
                        i &+= 1
                    }
                    p.publish()
                }
            }
            record.fullSpins = spins
            record.producerPreemptions = cmb_thread_preemptions() - preempted
        }
        gate.open(parties: 2)
        producer.join()
        consumer.join()
        return cmb_ring_run(seconds: Double(record.endNs - record.startNs) / 1e9, checksum: record.checksum,
                            items: UInt64(items), producer_full_spins: UInt64(record.fullSpins),
                            preemptions: record.producerPreemptions + record.consumerPreemptions)
    }

    static func run(_ options: Options) {
        let repeats = max(options.repeats, 3)
        for (batch, baseItems) in [(1, 10_000_000), (64, 20_000_000)] {
            let items = options.scaled(baseItems)
            let expected = Double(items) * Double(items - 1) / 2
            let impls: [(name: String, run: () -> cmb_ring_run)] = [
                ("c11", { cmb_ring_throughput(UInt64(items), UInt32(capacity), UInt32(batch), 0, 0, 1) }),
                ("c11_with_park_check", { cmb_ring_throughput(UInt64(items), UInt32(capacity), UInt32(batch), 1, 0, 1) }),
                ("swift", { swiftRun(items: items, batch: batch, capacity: capacity) }),
            ]
            var rates = [Repeats](repeating: Repeats(), count: impls.count)
            var preemptions = [Repeats](repeating: Repeats(), count: impls.count)
            note("ring: batch \(batch), \(repeats) × \(items) items per implementation")
            // Alternate the implementations so that drift hits all alike. Other processes share these 2 cores and
            // preempt the spinning threads (counted per run): the best run is the primary figure, the median is
            // printed beside it.
            for _ in 0..<repeats {
                for (k, impl) in impls.enumerated() {
                    let r = impl.run()
                    precondition(r.checksum == expected, "\(impl.name) ring lost or reordered items")
                    rates[k].append(Double(items) / r.seconds)
                    preemptions[k].append(Double(r.preemptions))
                    if getenv("CM_BENCH_DEBUG") != nil { note("\(impl.name): \(Int(Double(items) / r.seconds / 1e6)) M/s, \(r.seconds) s, \(r.preemptions) preemptions") }
                }
            }
            let mode = batch == 1 ? "unbatched" : "batch\(batch)"
            for (k, impl) in impls.enumerated() {
                var line = JSONLine(bench: "spsc_ring_\(mode)", impl: impl.name)
                line.add("items_per_s_best", rates[k].best)
                line.add("items_per_s_median", rates[k].median)
                line.add("ns_per_item_best", 1e9 / rates[k].best)
                line.add("runs", repeats)
                line.add("preemptions_per_run_median", preemptions[k].median)
                line.add("items_per_run", items)
                line.add("batch", batch)
                line.add("ring_slots", capacity)
                line.emit()
            }
            for (k, against) in [(2, 0), (2, 1)] {
                var ratio = JSONLine(bench: "spsc_ring_\(mode)", impl: "\(impls[k].name)/\(impls[against].name)")
                ratio.add("ratio_best", rates[k].best / rates[against].best)
                ratio.add("ratio_median", rates[k].median / rates[against].median)
                if k == 2 && against == 0 { ratio.add("goal_ratio", 0.9) }
                ratio.emit()
            }
        }
    }
}
