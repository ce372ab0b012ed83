import Anomaly
import BenchmarkC
import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a subscriber saw: written on its network loop thread, read after the run.
final class LiveCounter: Sendable {
    let messages = Atomic<Int>(0)
    let firstNs = Atomic<UInt64>(0)
    let lastNs = Atomic<UInt64>(0)
    let firstCPU = Atomic<UInt64>(0)
    let lastCPU = Atomic<UInt64>(0)

    /// Called on the loop thread for every message.
    func record() {
        let now = cmb_now_ns(), cpu = cmb_thread_cpu_ns()
        if messages.load(ordering: .relaxed) == 0 {
            firstNs.store(now, ordering: .relaxed)
            firstCPU.store(cpu, ordering: .relaxed)
        }
        lastNs.store(now, ordering: .relaxed)
        lastCPU.store(cpu, ordering: .relaxed)
        messages.add(1, ordering: .releasing)
    }

    /// Waits until `expected` messages arrived, or `silence` seconds passed without one.
    func wait(for expected: Int, silence: Double) {
        var seen = -1
        var since = cmb_now_ns()
        while true {
            let n = messages.load(ordering: .acquiring)
            if n >= expected { return }
            if n != seen { seen = n; since = cmb_now_ns() }
            if Double(cmb_now_ns() - since) / 1e9 > silence { return }
            usleep(2_000)
        }
    }
}

/// Figure 5: live ingest through a real mosquitto on a free loopback port. One C publisher (BenchmarkC) sends the
/// same accel batches at QoS 0 as fast as the socket takes them, to one subscriber at a time: the plain C
/// libmosquitto subscriber (counts only), our MQTTClient with a handler that only counts, and our MQTTClient
/// feeding an IngestPipeline with a DetectorEngine on its own thread. Figures: messages/s at the subscriber (first
/// to last message), and CPU of the subscriber's network thread per message (from its first message to its last).
/// Publisher, broker and subscriber share the 2 cores, so messages/s is the whole chain's; CPU per message is the
/// subscriber's own cost.
enum LiveIngestBenchmark {
    static let filter = "wearable/+/accel"

    struct Figures {
        var received: Int
        var seconds: Double
        var cpuNs: Double
    }

    static func run(_ options: Options) {
        cmb_mosquitto_init_once()
        let broker: PrivateBroker
        do { broker = try PrivateBroker() } catch {
            var line = JSONLine(bench: "live_ingest")
            line.add("skipped", true)
            line.add("reason", "no broker: \(error)")
            line.emit()
            return
        }
        defer { broker.stop() }
        let messages = AllocationBenchmark.Messages(batches: 64)
        let count = options.scaled(20_000)
        note("live: \(count) messages through mosquitto on 127.0.0.1:\(broker.port), 3 subscribers in turn")

        var results: [(String, Figures)] = []
        results.append(("c_libmosquitto_count_only", cSubscriber(broker, messages, count)))
        results.append(("swift_mqtt_client_count_only", swiftSubscriber(broker, messages, count, pipeline: false)))
        results.append(("swift_mqtt_client_ingest_pipeline", swiftSubscriber(broker, messages, count, pipeline: true)))
        let cCPU = results[0].1.cpuNs / Double(max(results[0].1.received - 1, 1))
        for (impl, f) in results {
            var line = JSONLine(bench: "live_ingest", impl: impl)
            let perMessageCPU = f.cpuNs / Double(max(f.received - 1, 1))
            line.add("messages_per_s", f.seconds > 0 ? Double(f.received - 1) / f.seconds : .nan)
            line.add("cpu_ns_per_message", perMessageCPU)
            line.add("cpu_ns_per_sample", perMessageCPU / Double(AccelTrafficGenerator.perBatch))
            line.add("cpu_vs_c", perMessageCPU / cCPU)
            line.add("messages_received", f.received)
            line.add("messages_published", count)
            line.add("qos", 0)
            line.add("payload_bytes_mean", messages.payload.count / messages.spans.count)
            line.emit()
        }
    }

    /// Publishes `count` messages from this thread (the subscriber is already subscribed).
    static func publish(_ broker: PrivateBroker, _ messages: AllocationBenchmark.Messages, _ count: Int) {
        let topics = messages.topics.map { strdup(String(decoding: $0, as: UTF8.self)) }
        defer { topics.forEach { free($0) } }
        let offsets = messages.spans.map { $0.offset }, lengths = messages.spans.map { $0.count }
        let topicOf = messages.spans.map { Int32($0.topic) }
        let result = topics.map { UnsafePointer($0) }.withUnsafeBufferPointer { t in
            messages.payload.withUnsafeBufferPointer { p in
                cmb_mosquitto_publish(broker.host, Int32(broker.port), t.baseAddress, p.baseAddress, offsets, lengths,
                                      topicOf, messages.spans.count, UInt64(count))
            }
        }
        if result.error != 0 { note("live: the publisher stopped with error \(result.error) after \(result.messages) messages") }
    }

    static func cSubscriber(_ broker: PrivateBroker, _ messages: AllocationBenchmark.Messages, _ count: Int) -> Figures {
        let ready = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        ready.initialize(to: 0)
        defer { ready.deallocate() }
        let flag = Handoff(ready)
        let box = Handoff(UnsafeMutablePointer<cmb_sub_result>.allocate(capacity: 1))
        defer { box.value.deallocate() }
        let host = broker.host, port = Int32(broker.port)
        let thread = OSThread(name: "c-subscriber") {
            box.value.initialize(to: cmb_mosquitto_count(host, port, LiveIngestBenchmark.filter, UInt64(count), 2.0, flag.value))
        }
        let deadline = cmb_now_ns() + 5_000_000_000
        while cmb_load_acquire(ready) == 0 && cmb_now_ns() < deadline { usleep(1_000) }
        publish(broker, messages, count)
        thread.join()
        let r = box.value.pointee
        if r.error != 0 { note("live: the C subscriber ended with error \(r.error)") }
        return Figures(received: Int(r.messages), seconds: r.first_to_last_s, cpuNs: Double(r.cpu_ns))
    }

    static func swiftSubscriber(_ broker: PrivateBroker, _ messages: AllocationBenchmark.Messages, _ count: Int,
                                pipeline usePipeline: Bool) -> Figures {
        let counter = LiveCounter()
        let pipeline = usePipeline ? IngestPipeline(routing: WearableAccelRouting(), backpressure: .dropWhenFull) : nil
        let engine = Handoff(makeBenchmarkDetectorEngine(signals: pipeline?.registry ?? SignalRegistry()))
        let detector = pipeline.map { p in OSThread(name: "live-detector") { p.runConsumer(engine.value) } }
        var configuration = MQTTConfiguration(personID: "bench")
        configuration.host = broker.host
        configuration.port = broker.port
        configuration.subscriptions = [MQTTSubscription(filter)]
        let client: MQTTClient
        do {
            client = try MQTTClient(configuration: configuration, logger: .silent) { message in
                counter.record()
                pipeline?.ingest(topic: message.topic, payload: message.payload, arrival: 0)
            }
            try client.start()
        } catch { fail("live: MQTTClient: \(error)") }
        let deadline = cmb_now_ns() + 5_000_000_000
        while !client.status.isSubscribed && cmb_now_ns() < deadline { usleep(1_000) }
        publish(broker, messages, count)
        counter.wait(for: count, silence: 2.0)
        client.stop()
        if let pipeline, let detector {
            pipeline.finish()
            detector.join()
            let c = pipeline.counts
            if c.rejected > 0 || c.dropped > 0 { note("live: pipeline rejected \(c.rejected) messages, dropped \(c.dropped) samples") }
        }
        let n = counter.messages.load(ordering: .acquiring)
        return Figures(received: n, seconds: Double(counter.lastNs.load(ordering: .relaxed) &- counter.firstNs.load(ordering: .relaxed)) / 1e9,
                       cpuNs: Double(counter.lastCPU.load(ordering: .relaxed) &- counter.firstCPU.load(ordering: .relaxed)))
    }
}
