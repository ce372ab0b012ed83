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
        }
        let producer = OSThread(name: "bench-producer") {
            _ = cmb_pin_current_thread(0)
            var p = storage.takeProducer()
            gate.arrive()
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
        }
        gate.open(parties: 2)
        producer.join()
        consumer.join()
        return cmb_ring_run(seconds: Double(record.endNs - record.startNs) / 1e9, checksum: record.checksum,
                            items: UInt64(items), producer_full_spins: UInt64(record.fullSpins))
    }

    static func run(_ options: Options) {
        for (batch, baseItems) in [(1, 20_000_000), (64, 40_000_000)] {
            let items = options.scaled(baseItems)
            let expected = Double(items) * Double(items - 1) / 2
            var c = Repeats(), swift = Repeats()
            note("ring: batch \(batch), \(options.repeats) × \(items) items per implementation")
            // Alternate the implementations so that drift (thermal, noisy neighbour) hits both alike.
            for _ in 0..<options.repeats {
                let cr = cmb_ring_throughput(UInt64(items), UInt32(capacity), UInt32(batch), 0, 1)
                precondition(cr.checksum == expected, "C ring lost or reordered items")
                c.append(Double(items) / cr.seconds)
                let sr = swiftRun(items: items, batch: batch, capacity: capacity)
                precondition(sr.checksum == expected, "Swift ring lost or reordered items")
                swift.append(Double(items) / sr.seconds)
            }
            let mode = batch == 1 ? "unbatched" : "batch\(batch)"
            for (name, r) in [("c11", c), ("swift", swift)] {
                var line = JSONLine(bench: "spsc_ring_\(mode)", impl: name)
                line.add("items_per_s_median", r.median)
                line.add("items_per_s_best", r.best)
                line.add("ns_per_item_median", 1e9 / r.median)
                line.add("runs", r.values.count)
                line.add("items_per_run", items)
                line.add("batch", batch)
                line.add("ring_slots", capacity)
                line.emit()
            }
            var ratio = JSONLine(bench: "spsc_ring_\(mode)", impl: "swift/c11")
            ratio.add("ratio_median", swift.median / c.median)
            ratio.add("ratio_best", swift.best / c.best)
            ratio.add("goal_ratio", 0.9)
            ratio.emit()
        }
    }
}
