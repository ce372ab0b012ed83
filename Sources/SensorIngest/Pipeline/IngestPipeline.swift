import Anomaly
import CareSupport
import Synchronization
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// How a topic is decoded, resolved once per topic (on its first message) and then found by its bytes.
public struct TopicRoute: Sendable {
    public var sourceIndex: Int
    /// The preset name or topic filter, as `explain` prints it.
    public var sourceName: String
    public var device: String
    /// The source's `format` is `accel`: batches take the zero-copy fast path first.
    public var isAccelerometer: Bool
    public var placement: String?
    public var decode: @Sendable (_ topic: String, _ device: String, _ payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage

    public init(sourceIndex: Int, sourceName: String, device: String, isAccelerometer: Bool, placement: String?,
                decode: @escaping @Sendable (String, String, UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage) {
        self.sourceIndex = sourceIndex; self.sourceName = sourceName; self.device = device
        self.isAccelerometer = isAccelerometer; self.placement = placement; self.decode = decode
    }
}

/// Finds the source, device and decoder of a topic (implemented over the configured sources).
public protocol TopicRouting: Sendable {
    func route(topic: String) -> TopicRoute?
    /// Names of the sources, by index (for per-source counters).
    var sourceNames: [String] { get }
}

/// What the pipeline counted. `messages`: messages offered; `unmatched`: matched no source; `rejected`: matched a
/// source but the payload was not decodable; `readings`: scalar readings; `samples`: accelerometer samples (one
/// per x/y/z triple); `dropped`: samples lost to a full ring (never alarm readings).
public struct IngestCounts: Sendable, Equatable {
    public var messages = 0
    public var unmatched = 0
    public var rejected = 0
    public var readings = 0
    public var samples = 0
    public var dropped = 0
    public init() {}
}

/// The pipeline of one person/home: decoders on the ingest thread (the MQTT callback thread, or replay's reader),
/// a lock-free SPSC ring of `Sample`s, and the detector thread that consumes them.
///
/// `run` and `replay` are this same type with a different feeder and clock. Threading contract:
/// - `ingest(...)`, `finish()` and everything in `IngestSide` are called from ONE thread at a time (the feeder).
/// - `runConsumer(_:)` runs on the detector thread (start it with `startConsumer`).
/// - counters are single-writer atomics, readable from anywhere (`counts`).
public final class IngestPipeline: @unchecked Sendable {
    // @unchecked Sendable: the feeder-owned state lives in `ingestSide` and the consumer-owned state in the
    // consumer end; shared state is atomics, `Mutex`es and the thread-safe `SignalRegistry`.

    /// Lossless (replay: the feeder waits when the ring is full) or live (the MQTT thread never waits: a full ring
    /// drops samples and counts them per signal, while alarm readings go to an overflow list and are never lost).
    public enum Backpressure: Sendable { case wait, dropWhenFull }

    public let registry: SignalRegistry
    public let routing: any TopicRouting
    public let backpressure: Backpressure
    let ring: SPSCRingStorage<Sample>
    let logger: Logger

    // Single-writer counters (the feeder writes with load+store, anyone reads).
    let messageCount = Atomic<Int>(0)
    let unmatchedCount = Atomic<Int>(0)
    let rejectedCount = Atomic<Int>(0)
    let readingCount = Atomic<Int>(0)
    let sampleCount = Atomic<Int>(0)
    let droppedCount = Atomic<Int>(0)
    /// Consumer loop iterations: proves the detector thread is alive (the systemd watchdog will read it).
    public let consumerHeartbeat = Atomic<Int>(0)
    let finished = Atomic<Bool>(false)

    /// Slow-path bookkeeping (a lock, but only on rejection, drop or overflow, never per accepted sample).
    struct SlowState {
        var rejectedBySource: [Int: Int] = [:]
        var lastRejection: [Int: String] = [:]
        var droppedBySignal: [SignalID: Int] = [:]
        var overflow: [Sample] = []
    }
    let slow = Mutex(SlowState())
    let overflowPending = Atomic<Bool>(false)

    let ingestSide: IngestSide

    public init(routing: any TopicRouting, registry: SignalRegistry = SignalRegistry(), ringCapacity: Int = 1 << 16,
                backpressure: Backpressure, logger: Logger = .silent) {
        self.routing = routing
        self.registry = registry
        self.backpressure = backpressure
        self.logger = logger
        ring = SPSCRing<Sample>.make(capacity: ringCapacity)
        ingestSide = IngestSide(producer: ring.takeProducer())
    }

    public var counts: IngestCounts {
        var c = IngestCounts()
        c.messages = messageCount.load(ordering: .relaxed)
        c.unmatched = unmatchedCount.load(ordering: .relaxed)
        c.rejected = rejectedCount.load(ordering: .relaxed)
        c.readings = readingCount.load(ordering: .relaxed)
        c.samples = sampleCount.load(ordering: .relaxed)
        c.dropped = droppedCount.load(ordering: .relaxed)
        return c
    }

    /// Rejected messages per source name, with the last reason: for the daemon's status and replay's report.
    public var rejections: [(source: String, count: Int, lastReason: String)] {
        let names = routing.sourceNames
        return slow.withLock { s in
            s.rejectedBySource.sorted { $0.key < $1.key }.map { (k, v) in
                (k < names.count ? names[k] : "source \(k)", v, s.lastRejection[k] ?? "")
            }
        }
    }

    public var droppedBySignal: [SignalID: Int] { slow.withLock { $0.droppedBySignal } }

    @inline(__always) static func bump(_ a: borrowing Atomic<Int>, by n: Int = 1) {
        a.store(a.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    // MARK: Ingest side (feeder thread)

    /// Decodes one message and hands its samples to the detector thread. Called on the feeder thread; `topic` and
    /// `payload` are only borrowed for the call. `arrival` stamps readings whose payload carries no time.
    public func ingest(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, arrival: Double) {
        Self.bump(messageCount)
        let side = ingestSide
        let routeIndex: Int
        if let r = side.topics.lookup(topic) {
            routeIndex = r
        } else {
            routeIndex = resolve(topic)
        }
        guard routeIndex != IngestSide.unmatched else {
            Self.bump(unmatchedCount)
            return
        }
        let entry = side.routes[routeIndex]
        if entry.route.isAccelerometer, let batch = side.fast.scan(payload) {
            emitAccelBatch(batch, signal: entry.accelSignal)
            return
        }
        decodeGeneral(entry, payload: payload, arrival: arrival)
    }

    /// Resolves a topic seen for the first time (slow path: makes Strings, registers signals).
    func resolve(_ topicBytes: UnsafeRawBufferPointer) -> Int {
        let side = ingestSide
        let topic = String(decoding: topicBytes, as: UTF8.self)
        guard let route = routing.route(topic: topic) else {
            // Remember that it matched nothing, so the next message of this topic costs one lookup.
            side.topics.insert(topicBytes, value: IngestSide.unmatched)
            return IngestSide.unmatched
        }
        let accel = route.isAccelerometer
            ? registry.id(device: route.device, channel: nil, kind: .acceleration, topic: topic,
                          sourceIndex: route.sourceIndex, placement: route.placement)
            : SignalID(UInt32.max)
        side.routes.append(RouteEntry(topic: topic, route: route, accelSignal: accel))
        let index = side.routes.count - 1
        side.topics.insert(topicBytes, value: index)
        return index
    }

    @inline(__always)
    func emitAccelBatch(_ batch: AccelFastPath.Batch, signal: SignalID) {
        let fast = ingestSide.fast
        let scale = batch.scale
        @inline(__always) func sample(_ i: Int) -> Sample {
            Sample(signal: signal, time: fast.time(of: i, in: batch),
                   x: Float(fast.x[i] * scale), y: Float(fast.y[i] * scale), z: Float(fast.z[i] * scale))
        }
        if ingestSide.producer.reserve(batch.count) {
            // Room for the whole batch (the common case): one check per message instead of one per sample.
            for i in 0..<batch.count { ingestSide.producer.stageReserved(sample(i)) }
        } else {
            for i in 0..<batch.count { stage(sample(i), isAlarm: false) }
        }
        ingestSide.producer.publish()
        Self.bump(sampleCount, by: batch.count)
    }

    /// Stages one sample; when the ring is full, waits (lossless) or drops/overflows (live).
    @inline(__always)
    func stage(_ s: Sample, isAlarm: Bool) {
        if ingestSide.producer.stage(s) { return }
        switch backpressure {
        case .wait:
            ingestSide.producer.publish()
            var spins = 0
            while !ingestSide.producer.stage(s) {
                spins += 1
                if spins < 64 { continue }
                if spins < 1024 { sched_yield() } else { usleep(50) }
            }
        case .dropWhenFull:
            if isAlarm {
                slow.withLock { $0.overflow.append(s) }
                overflowPending.store(true, ordering: .releasing)
            } else {
                Self.bump(droppedCount)
                slow.withLock { $0.droppedBySignal[s.signal, default: 0] += 1 }
            }
        }
    }

    func decodeGeneral(_ entry: RouteEntry, payload: UnsafeRawBufferPointer, arrival: Double) {
        let decoded: DecodedMessage
        do {
            decoded = try entry.route.decode(entry.topic, entry.route.device, payload)
        } catch {
            Self.bump(rejectedCount)
            let first = slow.withLock { s -> Bool in
                let n = s.rejectedBySource[entry.route.sourceIndex, default: 0]
                s.rejectedBySource[entry.route.sourceIndex] = n + 1
                s.lastRejection[entry.route.sourceIndex] = "\(entry.topic): \(error.message)"
                return n == 0
            }
            if first {
                logger.warning("source \(entry.route.sourceName): message on \(entry.topic) not decodable (\(error.message)); further rejections of this source are counted, not logged")
            }
            return
        }
        let time = decoded.time ?? arrival
        var readings = 0
        // An accelerometer message carries its axes as three `.series` readings, in x, y, z order (their field
        // names vary: `x`, `accX`, `band1:accX`…).
        var axes: [[Double]] = []
        for r in decoded.readings {
            if case .series(let values) = r.value {
                axes.append(values)
                continue
            }
            let id = entry.signalID(r, registry: registry, sourceIndex: entry.route.sourceIndex)
            let v: Double
            switch r.value {
            case .number(let d): v = d
            case .bool(let b): v = b ? 1 : 0
            case .text(let t): v = Double(registry.code(for: t, of: id))
            case .series: continue
            }
            stage(Sample(signal: id, time: r.time ?? time, value: v), isAlarm: r.signal.isAlarm)
            readings += 1
        }
        if axes.count == 3, axes[0].count == axes[1].count, axes[1].count == axes[2].count {
            let (xs, ys, zs) = (axes[0], axes[1], axes[2])
            let id = entry.route.isAccelerometer ? entry.accelSignal
                : registry.id(device: entry.route.device, channel: nil, kind: .acceleration, topic: entry.topic,
                              sourceIndex: entry.route.sourceIndex, placement: entry.route.placement)
            let times = decoded.sampleTimes
            for i in 0..<xs.count {
                let t = times.flatMap { i < $0.count ? $0[i] : nil } ?? time
                stage(Sample(signal: id, time: t, x: Float(xs[i]), y: Float(ys[i]), z: Float(zs[i])), isAlarm: false)
            }
            Self.bump(sampleCount, by: xs.count)
        }
        ingestSide.producer.publish()
        if readings > 0 { Self.bump(readingCount, by: readings) }
    }

    /// Samples staged into the ring so far, in ring order (the next one's position). Feeder thread only: replay marks
    /// where a message that is not a sample (an ack) falls in the stream, so the consumer can take it in the same place.
    public var stagedSamples: Int { ingestSide.producer.next }

    /// The feeder has no more messages (replay's end): the consumer drains the ring and returns.
    public func finish() {
        ingestSide.producer.publish()
        finished.store(true, ordering: .releasing)
        ring.wakeConsumer()
    }

    // MARK: Consumer side (detector thread)

    /// Elements (128 KiB of samples) the consumer lets pile up before draining, while the producer is busy.
    static let consumerBacklog = 4096
    /// CPU pause hints the consumer waits for that backlog before draining what there is (about 27 µs: a hint took
    /// 26 ns on the development VM, timed by hand).
    static let consumerBacklogSpins = 1024

    /// Runs the detector loop until `finish()` was called and everything was consumed. Parks when the ring is
    /// empty (at most `idleTimeout` seconds, then calls `idle(now)` so time-based checks and the watchdog run).
    /// May be called once per pipeline (it takes the ring's consumer end).
    public func runConsumer<P: SampleProcessor>(_ processor: P, idleTimeout: Double = 0.5,
                                               idle: () -> Double? = { nil }) {
        var consumer = ring.takeConsumer()
        while true {
            consumerHeartbeat.add(1, ordering: .relaxed)
            // Keep a distance behind the producer: a consumer reading the line just published makes the hardware
            // prefetcher pull the lines the producer is still writing into this core, and every store of the
            // producer then waits for the line to come back (measured: a counting-only consumer made replay 2-4×
            // slower than a busy one). So a small backlog waits a few microseconds for more; a quiet ring is
            // drained at once after that, and alarms are not delayed by more than that.
            // Replay (`.wait`: lossless, nobody waits for an alarm) sleeps 100 µs instead of spinning for that
            // backlog: the feeder fills 2-4 thousand slots meanwhile (the ring has 65,536), and the other core is
            // left to the feeder's page faults and the prefaulter (replay's summary, median of 8 interleaved runs:
            // 24.7 M samples/s against 22.3 M with the spin alone).
            if backpressure == .wait && !finished.load(ordering: .relaxed)
                && consumer.available() < Self.consumerBacklog { usleep(100) }
            var waited = 0
            while waited < Self.consumerBacklogSpins && consumer.available() < Self.consumerBacklog
                    && !finished.load(ordering: .relaxed) {
                cm_cpu_relax()
                waited += 1
            }
            let n = consumer.drainSpans(limit: 4096) { processor.process($0) }
            if overflowPending.load(ordering: .acquiring) {
                let spilled = slow.withLock { s -> [Sample] in
                    defer { s.overflow.removeAll(keepingCapacity: true) }
                    return s.overflow
                }
                overflowPending.store(false, ordering: .relaxed)
                for s in spilled { processor.process(s) }
            }
            if n > 0 { continue }
            if finished.load(ordering: .acquiring) {
                if consumer.hasElements() || overflowPending.load(ordering: .acquiring) { continue }
                return
            }
            if !consumer.wait(timeoutNanoseconds: Int64(idleTimeout * 1e9)), let now = idle() {
                processor.advance(to: now)
            }
        }
    }
}

/// The feeder thread's private state: topic cache, resolved routes, the ring's producer end, scratch buffers.
final class IngestSide: @unchecked Sendable {
    // @unchecked Sendable: touched only by the pipeline's one feeder thread (see IngestPipeline's contract).
    var producer: SPSCRing<Sample>.Producer
    let topics = TopicCache()
    var routes: [RouteEntry] = []
    let fast = AccelFastPath()
    /// The topic cache's value for a topic that matched no source.
    static let unmatched = Int(Int32.max)

    init(producer: consuming SPSCRing<Sample>.Producer) { self.producer = producer }
}

/// A resolved topic: its route, and the signal ids of what it carries (filled as readings are first seen).
final class RouteEntry: @unchecked Sendable {
    // @unchecked Sendable: as IngestSide.
    let topic: String
    let route: TopicRoute
    let accelSignal: SignalID
    struct Key: Hashable { var channel: String?; var kind: SignalKind }
    var signals: [Key: SignalID] = [:]

    init(topic: String, route: TopicRoute, accelSignal: SignalID) {
        self.topic = topic; self.route = route; self.accelSignal = accelSignal
    }

    func signalID(_ r: Reading, registry: SignalRegistry, sourceIndex: Int) -> SignalID {
        let key = Key(channel: r.channel, kind: r.signal)
        if let id = signals[key] { return id }
        let id = registry.id(device: route.device, channel: r.channel, kind: r.signal, topic: topic,
                             sourceIndex: sourceIndex, placement: route.placement)
        signals[key] = id
        return id
    }
}
