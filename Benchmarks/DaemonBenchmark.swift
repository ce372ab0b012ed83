import BenchmarkC
import CareSupport
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Figure 6: the live daemon, black box. The release `careMonitord run` (beside this executable) runs one home on a
/// private mosquitto (free loopback port, temporary state directory); this process talks to it only over MQTT.
///
/// - `daemon_alarm_latency`: a vendor fall message (`zigbee2mqtt/hallway radar`,
///   `{"presence":true,"fall_down_status":"fall",…}`) published at QoS 1, to the self-check page arriving on
///   `caremonitord/linda/tv` (QoS 1) at this process's subscriber, both stamped with CLOCK_MONOTONIC on this
///   machine. The one-way figure therefore holds two broker hops (here → mosquitto → daemon, daemon → mosquitto →
///   here), the detection, opening the incident and the journal's fdatasync before the page is sent. Each trial
///   opens a new incident: the person cancels it on the ack topic and the next fall waits until the incident is
///   cancelled (the alarm detector's `repeatSuppressSeconds` is 0, so every message of the one radar raises).
///   Interleaved with each round: the fdatasync of a 1 KB append in the state directory (as the journal does it)
///   and a plain message through the same two broker hops (this process to itself), for the parts of the figure.
///   Three rounds; the median of the three p50s and p99s is the figure.
/// - `daemon_footprint`: idle RSS after startup, then one home's load (20 zigbee2mqtt sensors at one message a
///   minute each, a 50 Hz wristband in 0.5 s batches of 25 samples) for 60 s × `--scale`: CPU % of one core
///   during it (utime + stime from /proc/PID/stat over wall time), RSS after it, and the Rss of /proc/PID/smaps
///   summed by library (`daemon_footprint_smaps`).
///
/// Not in the default set (it needs the `careMonitord` executable and takes about two minutes): `--only daemon`.
enum DaemonBenchmark {
    static let person = "linda"
    static let tvTopic = "caremonitord/linda/tv"
    static let eventsTopic = "caremonitord/linda/events"
    static let pingTopic = "caremonitord-bench/ping"
    static let fallTopic = "zigbee2mqtt/hallway radar"
    static let fallPayload = Array(#"{"presence":true,"fall_down_status":"fall","linkquality":80}"#.utf8)
    /// The person's "I'm fine", with the answer token her self-check page carried.
    static func cancelPayload(token: String) -> [UInt8] { Array(#"{"member":"linda","action":"cancel","token":"\#(token)"}"#.utf8) }
    static let rounds = 3
    static let warmUpTrials = 5

    static func run(_ options: Options) {
        BenchmarkCleanup.shared.installHandlers()
        // Resolved: /proc/PID/smaps names the executable by its real path (.build/release is a link).
        let binary = resolvedPath(options.daemonBinary ?? DaemonUnderTest.defaultBinary())
        guard access(binary, X_OK) == 0 else {
            return skip("no executable \(binary): build it with `swift build -c release` (or pass --daemon PATH)")
        }
        let broker: PrivateBroker
        // Nagle off on the broker's sockets too: its delays are the broker's setting, not the daemon's (see the
        // README's note on TCP_NODELAY).
        do { broker = try PrivateBroker(extraConfiguration: ["set_tcp_nodelay true"]) } catch { return skip("no broker: \(error)") }
        let brokerCleanup = BenchmarkCleanup.shared.add { broker.stop() }
        defer { broker.stop(); BenchmarkCleanup.shared.remove(brokerCleanup) }
        let probe: DaemonProbe
        do { probe = try DaemonProbe(broker: broker) } catch { return skip("the benchmark's MQTT client: \(error)") }
        defer { probe.stop() }
        do {
            try footprint(options, binary: binary, broker: broker, probe: probe)
            try latency(options, binary: binary, broker: broker, probe: probe)
        } catch {
            note("daemon: \(error)")
            skip("\(error)")
        }
    }

    static func skip(_ reason: String) {
        var line = JSONLine(bench: "daemon")
        line.add("skipped", true)
        line.add("reason", reason)
        line.emit()
    }

    // MARK: Alarm latency

    static func latency(_ options: Options, binary: String, broker: PrivateBroker, probe: DaemonProbe) throws(DaemonUnderTest.Failure) {
        let trials = max(options.scaled(200), 10)
        let appends = max(options.scaled(200), 10)
        let scratch = try ScratchDirectory(prefix: "careMonitord-bench-latency")
        defer { scratch.remove() }
        let daemon = try DaemonUnderTest(binary: binary, directory: scratch.path,
                                         config: homeConfig(port: broker.port, alarmRepeatSuppressSeconds: 0))
        defer { daemon.stop() }
        let fs = fileSystemType(daemon.stateDirectory)
        note("daemon: alarm latency, \(rounds) rounds of \(trials) falls (+\(warmUpTrials) warm-up) through mosquitto on 127.0.0.1:\(broker.port), each followed by \(appends) fdatasyncs in the state directory (\(fs)) and \(trials) two-hop messages")
        var random = SplitMix(state: 11)
        var p50 = Repeats(), p99 = Repeats(), maxima = Repeats()
        var fsyncP50 = Repeats(), fsyncP99 = Repeats(), brokerP50 = Repeats(), brokerP99 = Repeats()
        var firstFall = Double.nan
        var failed = 0
        for round in 1...rounds {
            let warmUp = round == 1 ? warmUpTrials : 0
            let falls = try fallTrials(probe, daemon, count: warmUp + trials, random: &random)
            failed += falls.failed
            if round == 1 { firstFall = falls.ms.first ?? .nan }
            let ms = falls.ms.dropFirst(warmUp).sorted()
            let fsync = fsyncTrials(directory: daemon.stateDirectory, count: appends).sorted()
            let hops = brokerTrials(probe, count: trials, random: &random).sorted()
            var line = JSONLine(bench: "daemon_alarm_latency", impl: "round")
            line.add("round", round)
            line.add("trials", ms.count)
            line.add("ms_p50", percentile(ms, 0.5))
            line.add("ms_p99", percentile(ms, 0.99))
            line.add("ms_max", ms.last ?? .nan)
            line.add("fsync_ms_p50", percentile(fsync, 0.5))
            line.add("fsync_ms_p99", percentile(fsync, 0.99))
            line.add("broker_two_hops_ms_p50", percentile(hops, 0.5))
            line.add("broker_two_hops_ms_p99", percentile(hops, 0.99))
            line.emit()
            p50.append(percentile(ms, 0.5)); p99.append(percentile(ms, 0.99)); maxima.append(ms.last ?? .nan)
            fsyncP50.append(percentile(fsync, 0.5)); fsyncP99.append(percentile(fsync, 0.99))
            brokerP50.append(percentile(hops, 0.5)); brokerP99.append(percentile(hops, 0.99))
        }
        let memory = ProcReadings.memory(daemon.pid)
        var line = JSONLine(bench: "daemon_alarm_latency", impl: "careMonitord_run/mosquitto")
        line.add("from_to", "fall published QoS 1 on '\(fallTopic)' -> self-check received QoS 1 on \(tvTopic)")
        line.add("notes", "one-way, CLOCK_MONOTONIC on one machine; includes two broker hops (bench->mosquitto->daemon, daemon->mosquitto->bench) and the journal's fdatasync; broker_two_hops is a plain message bench->mosquitto->bench; Nagle off on the bench client and the broker (set_tcp_nodelay), the daemon's socket as the daemon sets it")
        line.add("broker_hops", 2)
        line.add("broker_set_tcp_nodelay", true)
        line.add("bench_client_tcp_nodelay", true)
        line.add("rounds", rounds)
        line.add("trials_per_round", trials)
        line.add("ms_p50_median3", p50.median)
        line.add("ms_p99_median3", p99.median)
        line.add("ms_max_median3", maxima.median)
        line.add("first_fall_ms", firstFall)
        line.add("fsync_ms_p50_median3", fsyncP50.median)
        line.add("fsync_ms_p99_median3", fsyncP99.median)
        line.add("broker_two_hops_ms_p50_median3", brokerP50.median)
        line.add("broker_two_hops_ms_p99_median3", brokerP99.median)
        line.add("p99_minus_fsync_p99_ms", p99.median - fsyncP99.median)
        line.add("p99_over_fsync_p99_ratio", p99.median / fsyncP99.median)
        line.add("goal_ms_p99_max", 1 + fsyncP99.median)
        line.add("goal", "p99 <= 1 ms + one fdatasync (fsync p99), median of three interleaved rounds")
        line.add("goal_met", p99.median <= 1 + fsyncP99.median)
        line.add("state_fs", fs)
        line.add("failed_trials", failed)
        line.add("daemon_rss_kb_after", memory.rssKB)
        line.emit()
    }

    /// `count` falls, one at a time: publish, wait for the self-check page (its latency), cancel the incident as
    /// the person, wait until it is closed, then a random pause of 10–40 ms (no lock-step with the daemon's
    /// 100 ms and 250 ms turns).
    static func fallTrials(_ probe: DaemonProbe, _ daemon: DaemonUnderTest, count: Int,
                           random: inout SplitMix) throws(DaemonUnderTest.Failure) -> (ms: [Double], failed: Int) {
        var ms: [Double] = []
        ms.reserveCapacity(count)
        var failed = 0
        for _ in 0..<count {
            usleep(10_000 + UInt32(random.next() % 30_000))
            let before = probe.pageCount
            let t0 = probe.publish(fallTopic, fallPayload, qos: 1)
            guard let page = probe.wait(seconds: 5, { $0.pages.count > before ? $0.pages[before] : nil }) else {
                failed += 1
                if let status = daemon.exitStatus { throw .init(description: "careMonitord run ended (\(status)) during the latency trials") }
                if failed > 3 { throw .init(description: "no self-check page within 5 s after \(failed) falls") }
                continue
            }
            ms.append(Double(page.ns &- t0) / 1e6)
            _ = probe.publish("caremonitord/\(person)/incidents/\(page.incident)/ack", cancelPayload(token: page.token), qos: 1)
            guard probe.wait(seconds: 5, { $0.closed.contains(page.incident) ? true : nil }) != nil else {
                throw .init(description: "incident \(page.incident) was not cancelled within 5 s of the person's cancel")
            }
        }
        return (ms, failed)
    }

    /// Appends of a 1 KB journal-like line to a file in the state directory, each followed by fdatasync (what the
    /// journal does for a state change): milliseconds per append.
    static func fsyncTrials(directory: String, count: Int) -> [Double] {
        let path = directory + "/fsync-probe.journal"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { note("daemon: cannot open \(path): \(String(cString: strerror(errno)))"); return [] }
        defer { close(fd); unlink(path) }
        var line = Array("1a2b3c4d {\"t\":\"step\",\"incident\":\"linda-20261206-120000\",\"pad\":\"".utf8)
        while line.count < 1021 { line.append(UInt8(ascii: "x")) }
        line += Array("\"}\n".utf8)
        var ms: [Double] = []
        for _ in 0..<count {
            let t0 = cmb_now_ns()
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let synced = fdatasync(fd)
            let t1 = cmb_now_ns()
            guard written == line.count, synced == 0 else { note("daemon: fsync probe: \(String(cString: strerror(errno)))"); break }
            ms.append(Double(t1 - t0) / 1e6)
        }
        return ms
    }

    /// A plain QoS 1 message from this process to itself through mosquitto: the two broker hops alone.
    static func brokerTrials(_ probe: DaemonProbe, count: Int, random: inout SplitMix) -> [Double] {
        var ms: [Double] = []
        for _ in 0..<count {
            let i = probe.nextPingSequence()
            usleep(2_000 + UInt32(random.next() % 3_000))
            let t0 = probe.publish(pingTopic, Array(String(i).utf8), qos: 1)
            guard let t1 = probe.wait(seconds: 5, { $0.pings[i] }) else { continue }
            ms.append(Double(t1 &- t0) / 1e6)
        }
        return ms
    }

    // MARK: Footprint

    static func footprint(_ options: Options, binary: String, broker: PrivateBroker, probe: DaemonProbe) throws(DaemonUnderTest.Failure) {
        let idleSeconds = max(10 * options.scale, 3)
        let loadSeconds = max(60 * options.scale, 5)
        let scratch = try ScratchDirectory(prefix: "careMonitord-bench-footprint")
        defer { scratch.remove() }
        let daemon = try DaemonUnderTest(binary: binary, directory: scratch.path,
                                         config: homeConfig(port: broker.port, alarmRepeatSuppressSeconds: nil))
        defer { daemon.stop() }
        note("daemon: footprint, \(Int(idleSeconds)) s idle then \(Int(loadSeconds)) s of one home's load (pid \(daemon.pid))")
        usleep(2_000_000)   // startup's own work settles
        let idleCPU0 = ProcReadings.cpuSeconds(daemon.pid), idleWall0 = cmb_now_ns()
        usleep(UInt32(idleSeconds * 1e6))
        let idleCPU = (ProcReadings.cpuSeconds(daemon.pid) - idleCPU0) / (Double(cmb_now_ns() - idleWall0) / 1e9)
        let idle = ProcReadings.memory(daemon.pid)

        let detectionsBefore = probe.detections
        let cpu0 = ProcReadings.cpuSeconds(daemon.pid), wall0 = cmb_now_ns()
        let published = driveHomeLoad(probe, seconds: loadSeconds)
        let cpu = (ProcReadings.cpuSeconds(daemon.pid) - cpu0) / (Double(cmb_now_ns() - wall0) / 1e9)
        usleep(500_000)
        let after = ProcReadings.memory(daemon.pid)
        let smaps = ProcReadings.smaps(daemon.pid, binary: binary)
        guard daemon.exitStatus == nil else { throw .init(description: "careMonitord run ended during the load") }

        var line = JSONLine(bench: "daemon_footprint", impl: "careMonitord_run")
        line.add("load", "20 zigbee2mqtt sensors (temperature/humidity, motion, contact, radar, plug) at 1 msg/min each + 50 Hz wrist accel in 0.5 s batches of 25")
        line.add("load_seconds", loadSeconds, digits: 1)
        line.add("messages_published", published)
        line.add("idle_rss_kb", idle.rssKB)
        line.add("idle_hwm_kb", idle.hwmKB)
        line.add("idle_cpu_pct_of_core", 100 * idleCPU, digits: 2)
        line.add("rss_after_load_kb", after.rssKB)
        line.add("hwm_after_load_kb", after.hwmKB)
        line.add("cpu_pct_of_core_load", 100 * cpu, digits: 2)
        line.add("threads", after.threads)
        line.add("detections_during_load", probe.detections - detectionsBefore)
        line.add("goal_idle_rss_kb_max", 20 * 1024)
        line.add("goal_cpu_pct_max", 1)
        line.add("goal_met", idle.rssKB <= 20 * 1024 && 100 * cpu <= 1)
        line.emit()

        var breakdown = JSONLine(bench: "daemon_footprint_smaps", impl: "careMonitord_run")
        breakdown.add("when", "after_load")
        for g in SmapsGroup.allCases { breakdown.add("\(g.rawValue)_rss_kb", smaps.byGroup[g] ?? 0) }
        breakdown.add("total_rss_kb", smaps.totalKB)
        breakdown.add("private_dirty_kb", smaps.privateDirtyKB)
        breakdown.emit()
    }

    /// One home's traffic for `seconds`, on a 0.5 s tick: a wristband batch (25 samples at 50 Hz) every tick, and
    /// every sixth tick (3 s) the next of 20 zigbee2mqtt devices, so each device sends once a minute. Returns the
    /// messages published.
    static func driveHomeLoad(_ probe: DaemonProbe, seconds: Double) -> Int {
        var random = SplitMix(state: 5)
        let devices = HomeDevices()
        let ticks = Int(seconds * 2)
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let wall0 = Double(wall.tv_sec) + Double(wall.tv_nsec) / 1e9 - 0.5
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        var published = 0
        for k in 0..<ticks {
            let t0 = wall0 + Double(k) * 0.5
            _ = probe.publish("wearable/band1/accel", wristBatch(t0: t0, random: &random), qos: 0)
            published += 1
            if k % 6 == 0 {
                let d = (k / 6) % devices.names.count
                _ = probe.publish("zigbee2mqtt/\(devices.names[d])", devices.payload(d, at: t0 + 0.5, random: &random), qos: 0)
                published += 1
            }
            deadline.tv_nsec += 500_000_000
            if deadline.tv_nsec >= 1_000_000_000 { deadline.tv_nsec -= 1_000_000_000; deadline.tv_sec += 1 }
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nil) == EINTR {}
        }
        return published
    }

    /// `{"t0":…,"hz":50,"x":[25 values],"y":[…],"z":[…]}` in g: a wrist at rest on a chair's arm (gravity mostly on
    /// z, a slow tremor-sized sway and sensor noise), four decimals as wearable bridges print them.
    static func wristBatch(t0: Double, random: inout SplitMix) -> [UInt8] {
        var out = Array("{\"t0\":".utf8)
        AccelTrafficGenerator.appendFixed(Int((t0 * 1000).rounded()), decimals: 3, to: &out)
        out += Array(",\"hz\":50".utf8)
        for (axis, base) in [("x", 0.12), ("y", -0.25), ("z", 0.96)] {
            out += Array(",\"\(axis)\":[".utf8)
            for j in 0..<25 {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                let t = t0 + Double(j) / 50
                let v = base + 0.01 * sin(2 * Double.pi * 0.3 * t) + random.gaussian(sigma: 0.004)
                AccelTrafficGenerator.appendFixed(Int((v * 10_000).rounded()), decimals: 4, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    // MARK: Config

    /// Linda's home: the zigbee2mqtt preset and a wrist accel source; the TV as her self-check channel (`mqtt`
    /// notifier); one member; a fall policy whose self-cancel window and ack timeout outlast any trial, so a
    /// trial produces only the self-check.
    static func homeConfig(port: Int, alarmRepeatSuppressSeconds: Int?) -> String {
        let detectors = alarmRepeatSuppressSeconds.map { #""detectors": {"alarms": {"repeatSuppressSeconds": \#($0)}},"# } ?? ""
        return #"""
            {
              "person": {"id": "linda", "name": "Linda", "timezone": "Europe/London",
                         "contacts": [{"notifier": "tv", "address": "caremonitord/linda/tv"}]},
              "broker": {"host": "127.0.0.1", "port": \#(port)},
              "sources": [{"preset": "zigbee2mqtt"},
                          {"topic": "wearable/+/accel", "format": "accel", "placement": "wrist"}],
              \#(detectors)
              "notifiers": {"tv": {"kind": "mqtt"}, "phones": {"kind": "mqtt"}},
              "circle": {"members": [
                {"id": "anna", "name": "Anna", "role": "family", "relationship": "daughter", "consent": true,
                 "contacts": [{"notifier": "phones", "address": "phones/anna"}]}]},
              "policies": [{"kind": "fall", "selfCancelSeconds": 600, "ackTimeoutSeconds": 600, "rePages": 0,
                            "tiers": [{"members": ["anna"], "after": 0}]}]
            }

            """#
    }
}

/// Nearest-rank percentile of sorted values (`q` = 0.99: the value at index ⌊0.99 n⌋, as `LatencyBuffer` does).
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
}

/// The 20 zigbee2mqtt devices of the footprint load, with payloads shaped like the fixtures' real ones
/// (Tests/Fixtures/mqtt/zigbee2mqtt: WSDCGQ01LM, RTCGQ11LM, MCCGQ01LM), plus a radar and a kettle plug.
struct HomeDevices {
    enum Kind { case climate, motion, contact, radar, plug }
    let names: [String]
    let kinds: [Kind]

    init() {
        var names: [String] = [], kinds: [Kind] = []
        for room in ["living room", "bedroom", "kitchen", "bathroom", "hallway", "spare room"] {
            names.append("\(room) climate"); kinds.append(.climate)
        }
        for room in ["living room", "bedroom", "kitchen", "bathroom", "hallway", "landing"] {
            names.append("\(room) motion"); kinds.append(.motion)
        }
        for thing in ["front door", "back door", "fridge door", "bedroom window", "kitchen window", "bathroom door"] {
            names.append(thing); kinds.append(.contact)
        }
        names.append("hallway radar"); kinds.append(.radar)
        names.append("kettle plug"); kinds.append(.plug)
        self.names = names
        self.kinds = kinds
    }

    func payload(_ d: Int, at time: Double, random: inout SplitMix) -> [UInt8] {
        let lastSeen = Timestamp.rfc3339(time)
        let lqi = 60 + Int(random.next() % 60)
        let text: String
        switch kinds[d] {
        case .climate:
            let t = (19.5 + Double(d % 3) + random.gaussian(sigma: 0.2)) * 100
            let h = (52 + random.gaussian(sigma: 3)) * 100
            text = #"{"battery":100,"humidity":\#(Double(Int(h.rounded())) / 100),"last_seen":"\#(lastSeen)","linkquality":\#(lqi),"temperature":\#(Double(Int(t.rounded())) / 100),"voltage":3035}"#
        case .motion:
            text = #"{"battery":100,"device_temperature":21,"illuminance":\#(20 + lqi),"illuminance_lux":\#(20 + lqi),"last_seen":"\#(lastSeen)","linkquality":\#(lqi),"occupancy":\#(random.next() % 2 == 0),"power_outage_count":90,"voltage":3025}"#
        case .contact:
            text = #"{"battery":100,"contact":true,"last_seen":"\#(lastSeen)","linkquality":\#(lqi),"voltage":3035}"#
        case .radar:
            text = #"{"presence":true,"fall_down_status":"none","linkquality":\#(lqi)}"#
        case .plug:
            text = #"{"current":0,"energy":1.24,"last_seen":"\#(lastSeen)","linkquality":\#(lqi),"power":0,"state":"OFF","voltage":239}"#
        }
        return Array(text.utf8)
    }
}

/// This benchmark's own MQTT connection (BenchmarkC's libmosquitto client, Nagle off): publishes falls, acks and
/// the load, and stamps with CLOCK_MONOTONIC, first thing on its network thread, every self-check page, the
/// closing of incidents on the events topic and its own ping messages. It does not use the daemon's MQTT client:
/// the figure is the daemon's, seen from outside.
final class DaemonProbe: @unchecked Sendable {
    // @unchecked Sendable: `probe` is set once in init and used through libmosquitto's thread-safe calls; `topics`
    // is immutable until `stop`.
    struct Page: Sendable { var ns: UInt64; var incident: String; var token: String }
    struct Seen: Sendable {
        var pages: [Page] = []
        var closed: Set<String> = []
        var pings: [Int: UInt64] = [:]
        var detections = 0
    }

    private final class Box: Sendable { let seen = Mutex(Seen()) }
    private let box = Box()
    private let topics: [UnsafeMutablePointer<CChar>?]
    private var probe: OpaquePointer?
    private let pingSequence = Atomic<Int>(0)

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(broker: PrivateBroker) throws(Failure) {
        cmb_mosquitto_init_once()
        let names: [String] = [DaemonBenchmark.tvTopic, DaemonBenchmark.eventsTopic, DaemonBenchmark.pingTopic]
        topics = names.map { strdup($0) }
        var error: Int32 = 0
        let context = Unmanaged.passUnretained(box).toOpaque()
        probe = topics.map { UnsafePointer($0) }.withUnsafeBufferPointer { t in
            cmb_probe_start(broker.host, Int32(broker.port), t.baseAddress, Int32(t.count), 5.0, { context, ns, topic, payload, length in
                let box = Unmanaged<Box>.fromOpaque(context!).takeUnretainedValue()
                DaemonProbe.record(topic: String(cString: topic!), payload: UnsafeRawBufferPointer(start: payload, count: length),
                                   at: ns, into: box)
            }, context, &error)
        }
        if probe == nil {
            topics.forEach { free($0) }
            throw Failure(description: "cannot subscribe on 127.0.0.1:\(broker.port) (libmosquitto error \(error))")
        }
    }

    private static func record(topic: String, payload: UnsafeRawBufferPointer, at now: UInt64, into box: Box) {
        if topic == DaemonBenchmark.pingTopic {
            guard let i = Int(String(decoding: payload, as: UTF8.self)) else { return }
            box.seen.withLock { $0.pings[i] = now }
            return
        }
        guard let v = try? JSONParser.parse(payload) else { return }
        if topic == DaemonBenchmark.tvTopic {
            guard v["purpose"]?.stringValue == "self-check", let id = v["incident"]?.stringValue else { return }
            let token = v["token"]?.stringValue ?? ""
            box.seen.withLock { $0.pages.append(Page(ns: now, incident: id, token: token)) }
        } else if topic == DaemonBenchmark.eventsTopic {
            switch v["type"]?.stringValue {
            case "detection": box.seen.withLock { $0.detections += 1 }
            case "incident":
                guard let id = v["incident"]?.stringValue,
                      ["cancelled", "resolved", "stood-down"].contains(v["state"]?.stringValue ?? "") else { return }
                box.seen.withLock { _ = $0.closed.insert(id) }
            default: break
            }
        }
    }

    /// A sequence number for a ping, never used before in this process.
    func nextPingSequence() -> Int { pingSequence.add(1, ordering: .relaxed).newValue }

    var pageCount: Int { box.seen.withLock { $0.pages.count } }
    var detections: Int { box.seen.withLock { $0.detections } }

    /// Publishes; returns CLOCK_MONOTONIC read just before `mosquitto_publish` (0 when it failed).
    @discardableResult
    func publish(_ topic: String, _ payload: [UInt8], qos: Int32) -> UInt64 {
        let t0 = payload.withUnsafeBytes { cmb_probe_publish(probe, topic, $0.baseAddress, $0.count, qos) }
        if t0 == 0 { note("daemon: publishing to \(topic) failed") }
        return t0
    }

    /// Polls `check` every 0.3 ms until it gives a value, or `seconds` pass.
    func wait<T: Sendable>(seconds: Double, _ check: (inout Seen) -> T?) -> T? {
        let deadline = cmb_now_ns() + UInt64(seconds * 1e9)
        while true {
            if let r = box.seen.withLock({ check(&$0) }) { return r }
            if cmb_now_ns() > deadline { return nil }
            usleep(300)
        }
    }

    /// Disconnects and stops the network thread. Call once, before the probe is dropped.
    func stop() {
        guard let p = probe else { return }
        probe = nil
        cmb_probe_stop(p)
        topics.forEach { free($0) }
    }
}
