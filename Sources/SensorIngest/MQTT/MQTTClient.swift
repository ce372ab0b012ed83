import CMosquitto
import CareSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One received message exactly as libmosquitto holds it: no copy, no `String`.
///
/// VALID ONLY DURING THE HANDLER CALL: libmosquitto frees the message when the callback returns. Copy what you
/// need (decode, or copy the bytes) before returning; never store the buffers or this value.
public struct MQTTMessageView {
    /// The topic's UTF-8 bytes (no terminating NUL).
    public let topic: UnsafeRawBufferPointer
    /// The payload bytes (empty for an empty payload).
    public let payload: UnsafeRawBufferPointer
    public let qos: MQTTQoS
    /// A retained message the broker replayed on subscribe (not a fresh reading).
    public let retain: Bool

    public init(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: MQTTQoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// The topic as a `String` (allocates: not for the hot path).
    public func topicString() -> String { String(decoding: topic, as: UTF8.self) }
    /// A copy of the payload (allocates: not for the hot path).
    public func payloadBytes() -> [UInt8] { Array(payload) }
}

/// Called for every message, ON THE LIBMOSQUITTO LOOP THREAD, one message at a time. It must not block for long
/// (it holds up the connection's keepalive) and must not call `MQTTClient.stop()` and then wait for it.
public typealias MQTTMessageHandler = @Sendable (MQTTMessageView) -> Void

/// What the client has seen so far (for tests, health checks and `status` commands).
public struct MQTTClientStatus: Sendable, Equatable {
    public var phase: MQTTConnectionPhase
    /// Connected and every subscription answered by the broker (granted or refused) on this connection.
    public var isSubscribed: Bool
    /// Connection attempts made (each `mosquitto_connect_async`).
    public var connectAttempts: Int
    /// Accepted CONNACKs.
    public var connects: Int
    /// Connections that ended after an accepted CONNACK.
    public var disconnects: Int
    public var messagesReceived: UInt64
    /// Subscriptions the broker refused on the last connection (until the next accepted CONNACK).
    public var rejectedSubscriptions: [MQTTSubscription]
    /// The last fault (it stays after recovery; `phase` says whether we are connected now).
    public var lastFault: MQTTError?

    public var isConnected: Bool { phase == .connected }
}

/// An MQTT connection for one home: connects, keeps the retained `online`/`offline` status (last will), makes the
/// subscriptions on every connect, reconnects with backoff, and hands messages to `onMessage` without copying.
///
/// Lifecycle: `init` validates the configuration and prepares libmosquitto (throws on bad files or settings);
/// `start()` starts the supervised network loop on its own thread; `stop()` (or dropping the last reference)
/// publishes `offline`, disconnects, joins the thread and frees everything, within about 2 s.
///
/// The loop thread is supervised: it runs `mosquitto_loop` itself (not `mosquitto_loop_forever`, which gives up
/// silently on TLS, auth and protocol errors, and whose reconnect delay is in whole seconds). Every end of a
/// connection and every failed attempt is logged with what to check, and followed by a wait (0.5 s doubling up to
/// `reconnectDelayMaximum`, reset once a CONNACK is accepted) and a new attempt. A connection that gets no CONNACK
/// within `connackTimeout` is dropped and made again.
///
/// Thread-safe (`Sendable`): `publish` and `subscribe` may be called from any thread.
public final class MQTTClient: Sendable {
    private let connection: MQTTConnection

    /// Prepares the connection (does not connect: call `start()`).
    ///
    /// - Parameters:
    ///   - logger: faults go here at `.warning`/`.error`, libmosquitto's own log at `.debug`...`.error`.
    ///   - onMessage: the hot path; see `MQTTMessageHandler` and `MQTTMessageView` for the rules.
    /// - Throws: `.invalidConfiguration` listing every problem, `.tls` for TLS files libmosquitto refuses.
    public init(configuration: MQTTConfiguration, logger: Logger,
                onMessage: @escaping MQTTMessageHandler) throws(MQTTError) {
        connection = try MQTTConnection(configuration: configuration, logger: logger, onMessage: onMessage)
    }

    deinit {
        connection.stop()
    }

    public var configuration: MQTTConfiguration { connection.configuration }

    /// Starts the network loop thread. Calling it again does nothing; after `stop()` it throws `.notRunning`.
    public func start() throws(MQTTError) { try connection.start() }

    /// Publishes `offline` (retained), disconnects, and joins the loop thread. Idempotent. From the loop thread
    /// itself (inside `onMessage`), it only asks the loop to end.
    public func stop() { connection.stop() }

    /// Waits until the broker has answered every subscription with a SUBACK on the current connection. Returns the
    /// subscriptions it refused (also logged as `.error` and kept in `status`).
    ///
    /// - Throws: `.timedOut` (with the last fault in the message) or `.notRunning`.
    @discardableResult
    public func waitUntilSubscribed(timeout: Duration) async throws(MQTTError) -> [MQTTSubscription] {
        try await connection.waitUntilSubscribed(timeout: timeout)
    }

    /// Adds a subscription: made now if connected, and on every later connect.
    public func subscribe(_ subscription: MQTTSubscription) throws(MQTTError) {
        try connection.subscribe(subscription)
    }

    /// Queues a message (`mosquitto_publish`, thread-safe). Success means queued, not delivered. Without a
    /// connection, QoS 0 fails with `.notConnected`; QoS 1 and 2 are kept and sent after reconnecting, but still
    /// report `.notConnected`.
    @discardableResult
    public func publish(topic: String, payload: UnsafeRawBufferPointer, qos: MQTTQoS = .atMostOnce,
                        retain: Bool = false) throws(MQTTError) -> Int32 {
        try connection.publish(topic: topic, payload: payload, qos: qos, retain: retain)
    }

    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce,
                        retain: Bool = false) throws(MQTTError) -> Int32 {
        let result = payload.withUnsafeBytes { buf in
            Result { () throws(MQTTError) -> Int32 in try connection.publish(topic: topic, payload: buf, qos: qos, retain: retain) }
        }
        return try result.get()
    }

    @discardableResult
    public func publish(topic: String, payload: String, qos: MQTTQoS = .atMostOnce,
                        retain: Bool = false) throws(MQTTError) -> Int32 {
        try publish(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain)
    }

    public var status: MQTTClientStatus { connection.status }

    /// Publishes at QoS 1 and returns once the broker acknowledged it (PUBACK): what an alarm needs to count as
    /// delivered. Without a connection it queues nothing and throws `.notConnected`, so that a caller retrying
    /// later never leaves a pile of copies to go out on reconnect; `.timedOut` when no PUBACK came in time (the
    /// library may still send it: a retry can deliver the message twice, which its idempotency key covers).
    public func publishConfirmed(topic: String, payload: [UInt8], retain: Bool = false, timeout: Duration) async throws(MQTTError) {
        guard connection.status.isConnected else {
            throw MQTTError(code: .notConnected, message: "not connected to the MQTT broker at \(connection.configuration.brokerAddress): '\(topic)' not sent")
        }
        let mid = try publish(topic: topic, payload: payload, qos: .atLeastOnce, retain: retain)
        guard await connection.acknowledgements.wait(for: mid, timeout: timeout) else {
            throw MQTTError(code: .timedOut, message: "no PUBACK from the MQTT broker at \(connection.configuration.brokerAddress) for '\(topic)' within \(timeout)")
        }
    }

    /// Closes the TCP connection under libmosquitto's feet (`shutdown(2)`), as a network failure or a killed
    /// process would: no DISCONNECT is sent, so the broker publishes the last will. For tests.
    func simulateConnectionDropForTesting() { connection.dropSocket() }
}

/// The one owner of a `struct mosquitto *`, and of the loop thread that drives it.
///
/// Threads and what they touch:
/// - the LOOP THREAD (`run`): `mosquitto_connect_async`, `mosquitto_loop` and every libmosquitto callback
///   (connect, subscribe, message, and most log lines); it is the only writer of `received`.
/// - API threads: `publish`, `subscribe` (`mosquitto_publish`/`mosquitto_subscribe`, thread-safe because of
///   `mosquitto_threaded_set(true)`), `status`, `waitUntilSubscribed`, `start`, `stop` (`mosquitto_publish` +
///   `mosquitto_disconnect`, which queue and wake the loop; it then joins the thread).
/// - `mosquitto_destroy` runs in `deinit`, when no thread can call libmosquitto any more: the loop thread holds a
///   strong reference to this object until it has returned, and `MQTTClient` joins it first.
///
/// `@unchecked Sendable` because of `mosq` (a C pointer used as above). All mutable Swift state is in
/// `session` (`Mutex`), `lifecycle` (`Mutex`) or atomics: `stopRequested`, `finished`, `loopThread`,
/// `received` (single writer, relaxed). Everything else is immutable after `init`.
///
/// The userdata given to libmosquitto is `Unmanaged.passUnretained(self)`: valid for as long as callbacks can
/// run, because they run only inside libmosquitto calls made by the loop thread or by API calls on a live object,
/// and `deinit` clears the callbacks before `mosquitto_destroy`.
final class MQTTConnection: @unchecked Sendable {
    let configuration: MQTTConfiguration
    private var c: MQTTConfiguration { configuration }
    let acknowledgements = PublishAcknowledgements()
    let logger: Logger
    private let onMessage: MQTTMessageHandler
    private let mosq: Mosquitto
    private let session: Mutex<MQTTSessionState>
    private let received = Atomic<UInt64>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let loopThread = Atomic<UInt>(0)
    /// Whether libmosquitto's log callback stays on while connected: only when the logger shows `.debug`, since
    /// libmosquitto formats (and `malloc`s) a debug line for every message it receives whenever a log callback
    /// is set. While connecting, it is always on (TLS and DNS errors come only through it).
    private let keepLibraryLogWhenConnected: Bool
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let clock = SystemClock()
    /// libmosquitto warning/error lines → when each was last logged at its level (repeats within
    /// `libraryRepeatInterval` go to `.debug`, as the same OpenSSL error comes back on every retry).
    private let libraryLinesSeen = Mutex<[String: Int64]>([:])
    private static let libraryRepeatInterval: Duration = .seconds(60)

    private struct Lifecycle {
        var started = false
        var thread: OSThread?
    }
    private let lifecycle = Mutex(Lifecycle())

    /// How long `stop()` lets the loop send `offline` and DISCONNECT before giving up.
    private static let stopGrace: Duration = .seconds(2)

    init(configuration: MQTTConfiguration, logger: Logger, onMessage: @escaping MQTTMessageHandler) throws(MQTTError) {
        try configuration.validate()
        do throws(MosquittoError) {
            try Mosquitto.libraryInit()
        } catch {
            throw MQTTError(code: .library, message: "cannot initialise libmosquitto: \(error)", cause: error)
        }
        let handle: Mosquitto
        do throws(MosquittoError) {
            handle = try Mosquitto.new(clientID: configuration.effectiveClientID,
                                       cleanSession: configuration.cleanSession, userdata: nil)
        } catch {
            throw MQTTError(code: .library, message: "cannot create the MQTT client for '\(configuration.personID)': \(error)",
                            cause: error)
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            let e = errno
            handle.destroy()
            throw MQTTError(code: .library, message: "cannot create the MQTT loop's wake-up pipe: \(String(cString: strerror(e)))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        self.configuration = configuration
        self.logger = logger
        self.onMessage = onMessage
        self.mosq = handle
        self.wakeRead = fds[0]
        self.wakeWrite = fds[1]
        self.keepLibraryLogWhenConnected = LogLevel.debug >= logger.minimumLevel
        self.session = Mutex(MQTTSessionState(
            subscriptions: configuration.subscriptions, initialDelay: configuration.reconnectDelay,
            maximumDelay: configuration.reconnectDelayMaximum, connackTimeout: configuration.connackTimeout))
        // Fully initialised: from here on, a throw runs `deinit`, which destroys the handle.
        mosq.userDataSet(Unmanaged.passUnretained(self).toOpaque())
        try configureLibrary()
    }

    deinit {
        mosq.logCallbackSet(nil)
        mosq.connectCallbackSet(nil)
        mosq.messageCallbackSet(nil)
        mosq.subscribeCallbackSet(nil)
        mosq.publishCallbackSet(nil)
        mosq.destroy()
        close(wakeRead)
        close(wakeWrite)
    }

    private func configureLibrary() throws(MQTTError) {
        let c = configuration
        do throws(MosquittoError) {
            try mosq.threadedSet(true)
            try mosq.intOption(MOSQ_OPT_PROTOCOL_VERSION, c.protocolVersion.mosquittoValue)
            // Alarms are small packets written one after another: with Nagle's algorithm a page waits for the ACK of
            // the event line before it (Linux delays ACKs by up to 40 ms).
            try mosq.intOption(MOSQ_OPT_TCP_NODELAY, 1)
            if c.announcesPresence {
                try mosq.willSet(topic: c.effectiveStatusTopic, payload: "offline", qos: 1, retain: true)
            }
            if let credentials = c.credentials {
                if let password = credentials.password {
                    try password.withValue { (p) throws(MosquittoError) in
                        try mosq.usernamePasswordSet(username: credentials.username, password: p)
                    }
                } else {
                    try mosq.usernamePasswordSet(username: credentials.username, password: nil)
                }
            }
        } catch {
            throw MQTTError(code: .invalidConfiguration,
                            message: "libmosquitto refused the settings for '\(c.personID)': \(error)", cause: error)
        }
        if let tls = c.tls {
            do throws(MosquittoError) {
                try mosq.tlsSet(caFile: tls.caFile, certificateFile: tls.certificateFile, keyFile: tls.keyFile)
                try mosq.tlsInsecureSet(!tls.verifyHostname)
            } catch {
                let files = [tls.caFile, tls.certificateFile, tls.keyFile].compactMap { $0 }.map { "'\($0)'" }
                throw MQTTError(code: .tls, message: "libmosquitto refused the TLS files \(files.joined(separator: ", "))"
                                + " for '\(c.personID)': \(error) — check that they are readable PEM files and that the key"
                                + " is not encrypted", cause: error)
            }
        }
        mosq.logCallbackSet(mqttLogCallback)
        mosq.connectCallbackSet { _, userdata, rc in
            guard let userdata else { return }
            Unmanaged<MQTTConnection>.fromOpaque(userdata).takeUnretainedValue().connackReceived(rc)
        }
        mosq.subscribeCallbackSet { _, userdata, mid, count, granted in
            guard let userdata else { return }
            let codes = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
            Unmanaged<MQTTConnection>.fromOpaque(userdata).takeUnretainedValue().subackReceived(mid: mid, granted: codes)
        }
        mosq.messageCallbackSet { _, userdata, message in
            guard let userdata, let message else { return }
            Unmanaged<MQTTConnection>.fromOpaque(userdata).takeUnretainedValue().deliver(message)
        }
        mosq.publishCallbackSet { _, userdata, mid in
            guard let userdata else { return }
            Unmanaged<MQTTConnection>.fromOpaque(userdata).takeUnretainedValue().acknowledgements.acknowledged(mid)
        }
    }

    // MARK: API

    func start() throws(MQTTError) {
        try lifecycle.withLock { (l) throws(MQTTError) in
            guard !stopRequested.load(ordering: .acquiring) else {
                throw MQTTError(code: .notRunning, message: "the MQTT client for '\(configuration.personID)' was stopped;"
                                + " create a new one")
            }
            guard !l.started else { return }
            l.started = true
            l.thread = OSThread(name: "mqtt-\(configuration.personID)") { [self] in run() }
        }
    }

    func stop() {
        if !stopRequested.exchange(true, ordering: .acquiringAndReleasing) {
            if session.withLock({ $0.isConnected }) {
                // A clean DISCONNECT suppresses the will: say `offline` ourselves, queued before DISCONNECT.
                publishStatus("offline")
            }
            _ = try? mosq.disconnect()
            wake()
        }
        if loopThread.load(ordering: .acquiring) == pthread_self() {
            return  // inside a callback: the loop ends when it returns
        }
        let (started, thread) = lifecycle.withLock { l in
            defer { l.thread = nil }
            return (l.started, l.thread)
        }
        if let thread {
            thread.join()
        } else if started {
            // Another caller is joining: wait for the loop to finish.
            while !finished.load(ordering: .acquiring) { var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000); nanosleep(&ts, nil) }
        } else {
            session.withLock { $0.stopped() }
            finished.store(true, ordering: .releasing)
        }
    }

    var status: MQTTClientStatus {
        let messages = received.load(ordering: .relaxed)
        return session.withLock { s in
            MQTTClientStatus(phase: s.publicPhase, isSubscribed: s.isSubscribed, connectAttempts: s.connectAttempts,
                             connects: s.connects, disconnects: s.disconnects, messagesReceived: messages,
                             rejectedSubscriptions: s.rejected, lastFault: s.lastFault)
        }
    }

    func waitUntilSubscribed(timeout: Duration) async throws(MQTTError) -> [MQTTSubscription] {
        let wallClock = ContinuousClock()
        let deadline = wallClock.now.advanced(by: timeout)
        while true {
            let (subscribed, stopped, rejected, fault) = session.withLock { s in
                (s.isSubscribed, s.isStopped, s.rejected, s.lastFault)
            }
            if subscribed { return rejected }
            let started = lifecycle.withLock { $0.started }
            if stopped || stopRequested.load(ordering: .relaxed) || !started {
                throw MQTTError(code: .notRunning, message: "the MQTT client for '\(configuration.personID)' is "
                                + (started ? "stopped" : "not started (call start() first)"))
            }
            if wallClock.now >= deadline {
                let last = fault.map { "; last fault: \($0.message)" } ?? "; no fault seen yet"
                throw MQTTError(code: .timedOut, message: "the MQTT broker at \(configuration.brokerAddress) has not"
                                + " confirmed the subscriptions within \(timeout.secondsText)\(last)")
            }
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                throw MQTTError(code: .timedOut, message: "cancelled while waiting for the MQTT broker at"
                                + " \(configuration.brokerAddress) to confirm the subscriptions")
            }
        }
    }

    func subscribe(_ subscription: MQTTSubscription) throws(MQTTError) {
        do throws(MosquittoError) { try Mosquitto.subTopicCheck(subscription.filter) } catch {
            throw MQTTError(code: .invalidConfiguration, message: "'\(subscription.filter)' is not a valid topic filter"
                            + " ('+' and '#' must fill a whole level, '#' only last)", cause: error)
        }
        let (index, sendNow) = session.withLock { $0.subscriptionAdded(subscription) }
        if sendNow { sendSubscribe(index: index) }
    }

    func publish(topic: String, payload: UnsafeRawBufferPointer, qos: MQTTQoS, retain: Bool) throws(MQTTError) -> Int32 {
        do throws(MosquittoError) {
            return try mosq.publish(topic: topic, payload: payload, qos: qos.rawValue, retain: retain)
        } catch {
            if error.code == MOSQ_ERR_NO_CONN.rawValue {
                throw MQTTError(code: .notConnected, message: "not connected to the MQTT broker at"
                                + " \(configuration.brokerAddress): '\(topic)' \(qos == .atMostOnce ? "was dropped" : "is queued until reconnected")",
                                cause: error)
            }
            throw MQTTError(code: .library, message: "cannot publish to '\(topic)': \(error)", cause: error)
        }
    }

    func dropSocket() {
        let fd = mosq.socket()
        if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }

    // MARK: Loop thread

    private func run() {
        loopThread.store(pthread_self(), ordering: .releasing)
        defer {
            session.withLock { $0.stopped() }
            logger.info("MQTT connection for '\(configuration.personID)' to \(configuration.brokerAddress) stopped")
            finished.store(true, ordering: .releasing)
        }
        let c = configuration
        let keepalive = Int32(c.keepAlive.components.seconds)
        while !stopRequested.load(ordering: .acquiring) {
            session.withLock { $0.attemptStarted(at: clock.monotonicNow()) }
            mosq.logCallbackSet(mqttLogCallback)
            var fault: MQTTError?
            do throws(MosquittoError) {
                try mosq.connectAsync(host: c.host, port: Int32(c.port), keepalive: keepalive)
                fault = driveConnection()
            } catch {
                fault = stopRequested.load(ordering: .acquiring) ? nil : describe(error, connected: false)
            }
            guard let fault else { break }  // stopping
            let delay = session.withLock { $0.connectionEnded(fault: fault, at: clock.monotonicNow()) }
            report(fault, retryingIn: delay)
            sleep(delay)
        }
    }

    /// Runs `mosquitto_loop` until the connection ends (returns why) or a stop is requested (returns nil, after
    /// letting `offline` and DISCONNECT go out).
    private func driveConnection() -> MQTTError? {
        while true {
            let connected = session.withLock { $0.isConnected }
            // Short waits while connecting so the CONNACK watchdog is checked; `stop` and `publish` wake it anyway.
            let timeout: Int32 = connected ? 1000 : 100
            var failure: MosquittoError?
            do throws(MosquittoError) {
                try mosq.loop(timeoutMilliseconds: timeout)
            } catch {
                failure = error
            }
            if stopRequested.load(ordering: .acquiring) {
                if failure == nil { drainAfterStop() }
                return nil
            }
            if let failure { return describe(failure, connected: connected) }
            if session.withLock({ $0.connackOverdue(at: clock.monotonicNow()) }) {
                return MQTTError(code: .connackTimeout, message: "no CONNACK from the MQTT broker at \(c.brokerAddress)"
                                 + " within \(c.connackTimeout.secondsText) of connecting — check that this port is an MQTT"
                                 + " listener \(c.tls == nil ? "without" : "with") TLS, and that the broker is not overloaded")
            }
        }
    }

    /// After `stop()`: keep looping until DISCONNECT has been written and the socket closed, or the grace ends.
    private func drainAfterStop() {
        let deadline = clock.monotonicNow().nanoseconds + MQTTConnection.stopGrace.nanoseconds
        while mosq.socket() >= 0 && clock.monotonicNow().nanoseconds < deadline {
            do throws(MosquittoError) { try mosq.loop(timeoutMilliseconds: 100) } catch { return }
        }
    }

    /// Waits `delay`, or less if `stop()` writes to the wake pipe.
    private func sleep(_ delay: Duration) {
        let deadline = clock.monotonicNow().nanoseconds + delay.nanoseconds
        while !stopRequested.load(ordering: .acquiring) {
            let left = deadline - clock.monotonicNow().nanoseconds
            if left <= 0 { return }
            var pfd = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Duration.nanoseconds(left).millisecondsRoundedUp)
            var byte: UInt8 = 0
            while read(wakeRead, &byte, 1) > 0 {}
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Logs one libmosquitto line (any thread). Warnings and errors repeated within a minute are demoted to debug.
    fileprivate func logLibraryLine(_ level: LogLevel, _ text: UnsafePointer<CChar>) {
        guard level >= .warning else {
            logger.log(level, "libmosquitto: \(String(cString: text))")  // the String is made only if shown
            return
        }
        let line = String(cString: text)
        let now = clock.monotonicNow().nanoseconds
        let fresh = libraryLinesSeen.withLock { seen in
            if let last = seen[line], now - last < MQTTConnection.libraryRepeatInterval.nanoseconds { return false }
            if seen.count > 64 { seen = seen.filter { now - $0.value < MQTTConnection.libraryRepeatInterval.nanoseconds } }
            seen[line] = now
            return true
        }
        logger.log(fresh ? level : .debug, "libmosquitto: \(line)")
    }

    private func setLibraryLog(_ on: Bool) {
        mosq.logCallbackSet(on ? mqttLogCallback : nil)
    }

    // MARK: Callbacks (loop thread)

    fileprivate func connackReceived(_ code: Int32) {
        let action = session.withLock { $0.connackReceived(code: code, at: clock.monotonicNow()) }
        guard case .sessionUp(let indices, let reconnected, let failed) = action else { return }
        // Stopping: DISCONNECT is already queued; an `online` sent after it would be lost anyway.
        guard !stopRequested.load(ordering: .acquiring) else { return }
        publishStatus("online")
        for index in indices { sendSubscribe(index: index) }
        if reconnected {
            logger.notice("reconnected to the MQTT broker at \(c.brokerAddress) for '\(c.personID)'"
                          + (failed > 0 ? " after \(failed) failed attempt\(failed == 1 ? "" : "s")" : ""))
        } else {
            logger.info("connected to the MQTT broker at \(c.brokerAddress) as '\(c.effectiveClientID)'"
                        + " (\(c.protocolVersion)\(c.tls == nil ? "" : ", TLS"))")
        }
        if !keepLibraryLogWhenConnected { setLibraryLog(false) }
    }

    fileprivate func subackReceived(mid: Int32, granted: [Int32]) {
        let outcome = session.withLock { $0.subackReceived(mid: mid, granted: granted) }
        handle(outcome)
    }

    /// The hot path: no allocation, no lock, no `String`.
    @inline(__always)
    fileprivate func deliver(_ message: UnsafePointer<mosquitto_message>) {
        let m = message.pointee
        guard let topic = m.topic else { return }
        received.wrappingAdd(1, ordering: .relaxed)
        onMessage(MQTTMessageView(
            topic: UnsafeRawBufferPointer(start: topic, count: strlen(topic)),
            payload: UnsafeRawBufferPointer(start: m.payload, count: Int(m.payloadlen)),
            qos: MQTTQoS(rawValue: m.qos) ?? .atMostOnce,
            retain: m.retain))
    }

    // MARK: Helpers

    private func publishStatus(_ text: String) {
        guard configuration.announcesPresence else { return }
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { buf in
            Result { () throws(MosquittoError) -> Int32 in
                try mosq.publish(topic: c.effectiveStatusTopic, payload: buf, qos: 1, retain: true)
            }
        }
        if case .failure(let error) = result {
            logger.warning("cannot publish '\(text)' to \(c.effectiveStatusTopic) on \(c.brokerAddress): \(error)")
        }
    }

    private func sendSubscribe(index: Int) {
        let subscription = session.withLock { $0.subscriptions[index] }
        do throws(MosquittoError) {
            let mid = try mosq.subscribe(filter: subscription.filter, qos: subscription.qos.rawValue)
            handle(session.withLock { $0.subscribeSent(mid: mid, indices: [index]) })
        } catch {
            // Not connected any more: the next connect makes it again.
            logger.debug("cannot subscribe to \(subscription) now: \(error); it will be made on the next connect")
        }
    }

    private func handle(_ outcome: MQTTSessionState.SubackOutcome) {
        for (subscription, code) in outcome.rejected {
            let reason = c.protocolVersion == .v5 ? Mosquitto.reasonString(code) : "Failure"
            let who = c.credentials.map { "user '\($0.username)'" } ?? "anonymous clients"
            let fault = MQTTError(
                code: .subscriptionRejected,
                message: "the MQTT broker at \(c.brokerAddress) refused the subscription to \(subscription):"
                    + " \(reason) (SUBACK 0x\(String(code, radix: 16))) — check the broker's ACL for \(who) and the filter;"
                    + " messages on it will not arrive",
                reasonCode: code)
            session.withLock { $0.faultObserved(fault) }
            logger.error(fault.message)
        }
        if outcome.becameSubscribed {
            let (count, rejected) = session.withLock { ($0.subscriptions.count, $0.rejected.count) }
            logger.info("the MQTT broker at \(c.brokerAddress) confirmed \(count - rejected) subscription\(count - rejected == 1 ? "" : "s")"
                        + " for '\(c.personID)'" + (rejected > 0 ? " (\(rejected) refused)" : ""))
        }
    }

    private func report(_ fault: MQTTError, retryingIn delay: Duration) {
        let level: LogLevel = switch fault.code {
        case .refused, .tls, .invalidConfiguration, .subscriptionRejected: .error
        default: .warning
        }
        let fresh = session.withLock { $0.shouldReport(fault, at: clock.monotonicNow()) }
        logger.log(fresh ? level : .debug, "\(fault.message) (retrying in \(delay.secondsText))")
    }

    /// Turns a libmosquitto failure into a fault a person can act on. `connected`: a CONNACK had been accepted.
    private func describe(_ error: MosquittoError, connected: Bool) -> MQTTError {
        let address = c.brokerAddress
        if let refusal = session.withLock({ $0.refusalCode }) {
            return refused(refusal, cause: error)
        }
        switch error.code {
        case MOSQ_ERR_TLS.rawValue, MOSQ_ERR_TLS_HANDSHAKE.rawValue:
            let ca = c.tls.map { "'\($0.caFile)'" } ?? "(none: TLS is not configured)"
            let cert = c.tls?.certificateFile.map { ", that the broker accepts the client certificate '\($0)'" } ?? ""
            return MQTTError(code: .tls, message: "TLS with the MQTT broker at \(address) failed (the OpenSSL reason is"
                             + " logged just before) — check that the CA file \(ca) signed the broker's certificate,"
                             + " that the certificate names '\(c.host)'\(cert), and that this port is a TLS listener",
                             cause: error)
        case MOSQ_ERR_EAI.rawValue:
            return MQTTError(code: .unreachable, message: "cannot resolve the MQTT broker's host '\(c.host)' (\(error.text))"
                             + " — check the host name and DNS", cause: error)
        case MOSQ_ERR_KEEPALIVE.rawValue:
            return MQTTError(code: .connectionLost, message: "the MQTT broker at \(address) stopped answering keepalive"
                             + " pings (\(c.keepAlive.secondsText) keepalive) — check the network and the broker", cause: error)
        case MOSQ_ERR_PROTOCOL.rawValue, MOSQ_ERR_MALFORMED_PACKET.rawValue, MOSQ_ERR_NOT_SUPPORTED.rawValue:
            return MQTTError(code: .protocolError, message: "protocol error with the MQTT broker at \(address)"
                             + " (\(error.text)) — check that this port is an MQTT listener that speaks \(c.protocolVersion)",
                             cause: error)
        default:
            break
        }
        if connected {
            return MQTTError(code: .connectionLost, message: "lost the connection to the MQTT broker at \(address)"
                             + " (\(error.text)) — it may be restarting; check it if this repeats", cause: error)
        }
        return MQTTError(code: .unreachable, message: "cannot connect to the MQTT broker at \(address) (\(error.text))"
                         + " — check that the broker runs and listens on that host and port"
                         + (c.tls == nil ? " (without TLS)" : " (with TLS)"), cause: error)
    }

    private func refused(_ code: Int32, cause: MosquittoError) -> MQTTError {
        let v5 = c.protocolVersion == .v5
        let text = v5 ? Mosquitto.reasonString(code) : Mosquitto.connackString(code)
        let credentialsHint: String
        if let credentials = c.credentials {
            let origin = credentials.password?.origin.map { " (from \($0))" } ?? ""
            credentialsHint = "check the username '\(credentials.username)' and the password\(origin), and the broker's"
                + " password file and ACL"
        } else {
            credentialsHint = "the broker requires a username and password: configure them"
        }
        let hint: String = switch (v5, code) {
        case (false, 1), (true, 0x84): "the broker does not speak \(c.protocolVersion): change the protocol version"
        case (false, 2), (true, 0x85): "the broker rejected the client id '\(c.effectiveClientID)': choose another"
        case (false, 3), (true, 0x88), (true, 0x89): "the broker is unavailable or busy; it may be starting"
        case (false, 4), (false, 5), (true, 0x86), (true, 0x87), (true, 0x8C): credentialsHint
        case (true, 0x8A): "the broker has banned this client: check its configuration"
        default: "check the broker's log"
        }
        return MQTTError(code: .refused, message: "the MQTT broker at \(c.brokerAddress) refused the connection:"
                         + " \(text) — \(hint)", cause: cause, reasonCode: code)
    }
}

/// libmosquitto's log → the connection's `Logger`. Debug-class lines stay at `.debug`; the check happens before a
/// `String` is made.
private let mqttLogCallback: Mosquitto.LogCallback = { _, userdata, level, text in
    guard let userdata, let text else { return }
    let mapped: LogLevel = switch UInt32(bitPattern: level) {
    case UInt32(MOSQ_LOG_ERR): .error
    case UInt32(MOSQ_LOG_WARNING): .warning
    case UInt32(MOSQ_LOG_NOTICE): .notice
    case UInt32(MOSQ_LOG_INFO): .info
    default: .debug  // MOSQ_LOG_DEBUG, SUBSCRIBE, UNSUBSCRIBE, WEBSOCKETS, INTERNAL
    }
    Unmanaged<MQTTConnection>.fromOpaque(userdata).takeUnretainedValue().logLibraryLine(mapped, text)
}
