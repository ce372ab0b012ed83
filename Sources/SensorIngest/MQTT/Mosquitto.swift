import CMosquitto
#if canImport(Glibc)
import Glibc
#endif

/// A libmosquitto call failed: the C function, its `MOSQ_ERR_*` code and `mosquitto_strerror`'s text (for
/// `MOSQ_ERR_ERRNO`, `errno` and its text, captured right after the call).
public struct MosquittoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The C function, e.g. `mosquitto_connect`.
    public var function: String
    /// The `MOSQ_ERR_*` value.
    public var code: Int32
    /// `errno` after the call, for `MOSQ_ERR_ERRNO`.
    public var errno: Int32?
    /// `mosquitto_strerror(code)`, or `strerror(errno)` for `MOSQ_ERR_ERRNO`.
    public var text: String

    public init(function: String, code: Int32, errno: Int32? = nil) {
        self.function = function
        self.code = code
        self.errno = errno
        if code == MOSQ_ERR_ERRNO.rawValue, let errno {
            self.text = String(cString: strerror(errno))
        } else {
            self.text = Mosquitto.strerror(code)
        }
    }

    /// The symbolic name of `code` (`MOSQ_ERR_TLS`), for logs.
    public var codeName: String {
        let names = [
            "SUCCESS", "NOMEM", "PROTOCOL", "INVAL", "NO_CONN", "CONN_REFUSED", "NOT_FOUND", "CONN_LOST", "TLS",
            "PAYLOAD_SIZE", "NOT_SUPPORTED", "AUTH", "ACL_DENIED", "UNKNOWN", "ERRNO", "EAI", "PROXY", "PLUGIN_DEFER",
            "MALFORMED_UTF8", "KEEPALIVE", "LOOKUP", "MALFORMED_PACKET", "DUPLICATE_PROPERTY", "TLS_HANDSHAKE",
            "QOS_NOT_SUPPORTED", "OVERSIZE_PACKET", "OCSP", "TIMEOUT", "RETAIN_NOT_SUPPORTED", "TOPIC_ALIAS_INVALID",
            "ADMINISTRATIVE_ACTION", "ALREADY_EXISTS",
        ]
        return code >= 0 && Int(code) < names.count ? "MOSQ_ERR_\(names[Int(code)])" : "MOSQ_ERR(\(code))"
    }

    public var description: String {
        if let errno, code == MOSQ_ERR_ERRNO.rawValue {
            return "\(function): \(text) (\(codeName), errno \(errno))"
        }
        return "\(function): \(text) (\(codeName))"
    }

    /// `MOSQ_ERR_ERRNO` with this `errno`.
    public func isErrno(_ e: Int32) -> Bool { code == MOSQ_ERR_ERRNO.rawValue && errno == e }
}

/// The process-wide `mosquitto_lib_init`, run once, before any other libmosquitto call (it is not thread-safe;
/// a global `let` is initialised exactly once, under `swift_once`). Never cleaned up: the library lives as long as
/// the process, shared by every client (one per home).
private let libraryInitialised: Int32 = mosquitto_lib_init()

/// Thin typed calls into libmosquitto: one Swift call per C call, the C name in each doc comment, `MOSQ_ERR_*`
/// turned into `MosquittoError`. No policy here: that is `MQTTClient`'s.
///
/// A `Mosquitto` is a borrowed view of a `struct mosquitto *`; the one owner (which calls `destroy`) is
/// `MQTTConnection`. Thread-safety is libmosquitto's: with `threadedSet(true)`, `publish`, `subscribe` and
/// `disconnect` may be called from any thread; `connect`, `loop` and `destroy` only from the owner's loop thread
/// (or when no loop thread runs).
struct Mosquitto {
    let handle: OpaquePointer

    typealias ConnectCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void
    typealias DisconnectCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void
    typealias MessageCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?,
                                                UnsafePointer<mosquitto_message>?) -> Void
    typealias SubscribeCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32,
                                                  UnsafePointer<Int32>?) -> Void
    typealias PublishCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void
    typealias LogCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32,
                                            UnsafePointer<CChar>?) -> Void

    @inline(__always)
    private static func check(_ rc: Int32, _ function: String) throws(MosquittoError) {
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            throw MosquittoError(function: function, code: rc, errno: rc == MOSQ_ERR_ERRNO.rawValue ? Glibc.errno : nil)
        }
    }

    // MARK: Library

    /// `mosquitto_lib_init`, once per process (see `libraryInitialised`).
    static func libraryInit() throws(MosquittoError) {
        try check(libraryInitialised, "mosquitto_lib_init")
    }

    /// `mosquitto_lib_version`: (major, minor, revision).
    static func libraryVersion() -> (major: Int32, minor: Int32, revision: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, revision: Int32 = 0
        _ = mosquitto_lib_version(&major, &minor, &revision)
        return (major, minor, revision)
    }

    /// `mosquitto_strerror`.
    static func strerror(_ code: Int32) -> String { String(cString: mosquitto_strerror(code)) }

    /// `mosquitto_connack_string`: the text of an MQTT 3.1.1 CONNACK return code.
    static func connackString(_ code: Int32) -> String { String(cString: mosquitto_connack_string(code)) }

    /// `mosquitto_reason_string`: the text of an MQTT 5 reason code.
    static func reasonString(_ code: Int32) -> String { String(cString: mosquitto_reason_string(code)) }

    /// `mosquitto_sub_topic_check`: whether a subscription filter is valid (`+`/`#` placement, no NUL).
    static func subTopicCheck(_ filter: String) throws(MosquittoError) {
        try check(mosquitto_sub_topic_check(filter), "mosquitto_sub_topic_check")
    }

    /// `mosquitto_pub_topic_check`: whether a topic is valid for publishing (no wildcard).
    static func pubTopicCheck(_ topic: String) throws(MosquittoError) {
        try check(mosquitto_pub_topic_check(topic), "mosquitto_pub_topic_check")
    }

    // MARK: Lifecycle

    /// `mosquitto_new`. `userdata` is handed back to every callback.
    static func new(clientID: String, cleanSession: Bool, userdata: UnsafeMutableRawPointer?) throws(MosquittoError) -> Mosquitto {
        guard let handle = mosquitto_new(clientID, cleanSession, userdata) else {
            let e = Glibc.errno
            throw MosquittoError(function: "mosquitto_new", code: e == ENOMEM ? MOSQ_ERR_NOMEM.rawValue : MOSQ_ERR_INVAL.rawValue)
        }
        return Mosquitto(handle: handle)
    }

    /// `mosquitto_destroy`. The handle is invalid afterwards.
    func destroy() { mosquitto_destroy(handle) }

    /// `mosquitto_int_option`.
    func intOption(_ option: mosq_opt_t, _ value: Int32) throws(MosquittoError) {
        try Mosquitto.check(mosquitto_int_option(handle, option, value), "mosquitto_int_option")
    }

    /// `mosquitto_threaded_set`: we run the network loop on our own thread (not `mosquitto_loop_start`), so the
    /// library must lock and wake the loop instead of writing packets from the calling thread.
    func threadedSet(_ threaded: Bool) throws(MosquittoError) {
        try Mosquitto.check(mosquitto_threaded_set(handle, threaded), "mosquitto_threaded_set")
    }

    /// `mosquitto_username_pw_set`. libmosquitto keeps its own copy of both strings.
    func usernamePasswordSet(username: String, password: String?) throws(MosquittoError) {
        let rc: Int32 = if let password {
            mosquitto_username_pw_set(handle, username, password)
        } else {
            mosquitto_username_pw_set(handle, username, nil)
        }
        try Mosquitto.check(rc, "mosquitto_username_pw_set")
    }

    /// `mosquitto_will_set`: the message the broker publishes if the connection ends without DISCONNECT.
    func willSet(topic: String, payload: String, qos: Int32, retain: Bool) throws(MosquittoError) {
        var payload = payload
        let rc = payload.withUTF8 { buf in
            mosquitto_will_set(handle, topic, Int32(buf.count), buf.baseAddress, qos, retain)
        }
        try Mosquitto.check(rc, "mosquitto_will_set")
    }

    /// `mosquitto_tls_set` (no password callback: keys must be unencrypted).
    func tlsSet(caFile: String, certificateFile: String?, keyFile: String?) throws(MosquittoError) {
        let rc = caFile.withCString { ca in
            withOptionalCString(certificateFile) { cert in
                withOptionalCString(keyFile) { key in
                    mosquitto_tls_set(handle, ca, nil, cert, key, nil)
                }
            }
        }
        try Mosquitto.check(rc, "mosquitto_tls_set")
    }

    /// `mosquitto_tls_insecure_set`: true skips the check that the certificate names the host.
    func tlsInsecureSet(_ insecure: Bool) throws(MosquittoError) {
        try Mosquitto.check(mosquitto_tls_insecure_set(handle, insecure), "mosquitto_tls_insecure_set")
    }

    // MARK: Callbacks (set before connecting; the `mosquitto_*_callback_set` calls cannot fail)

    /// `mosquitto_connect_callback_set`: called on the loop thread with the CONNACK code (MQTT 3) or reason
    /// code (MQTT 5); 0 is success.
    func connectCallbackSet(_ callback: ConnectCallback?) { mosquitto_connect_callback_set(handle, callback) }

    /// `mosquitto_disconnect_callback_set`: called on the loop thread when the connection ends (0 = we asked).
    func disconnectCallbackSet(_ callback: DisconnectCallback?) { mosquitto_disconnect_callback_set(handle, callback) }

    /// `mosquitto_message_callback_set`: called on the loop thread; the message is freed when it returns.
    func messageCallbackSet(_ callback: MessageCallback?) { mosquitto_message_callback_set(handle, callback) }

    /// `mosquitto_subscribe_callback_set`: called on the loop thread for each SUBACK (mid, granted QoS list).
    func subscribeCallbackSet(_ callback: SubscribeCallback?) { mosquitto_subscribe_callback_set(handle, callback) }

    /// `mosquitto_publish_callback_set`: called on the loop thread when a QoS 1 message's PUBACK arrives (mid).
    func publishCallbackSet(_ callback: PublishCallback?) { mosquitto_publish_callback_set(handle, callback) }

    /// `mosquitto_log_callback_set`: called on whichever thread made the libmosquitto call that logs.
    func logCallbackSet(_ callback: LogCallback?) { mosquitto_log_callback_set(handle, callback) }

    // MARK: Network

    /// `mosquitto_connect`: resolves, connects the TCP socket (blocking), starts TLS, queues CONNECT. The
    /// CONNACK arrives later, through `loop`.
    func connect(host: String, port: Int32, keepalive: Int32) throws(MosquittoError) {
        try Mosquitto.check(mosquitto_connect(handle, host, port, keepalive), "mosquitto_connect")
    }

    /// `mosquitto_connect_async`: resolves the host (blocking), starts a non-blocking TCP connect, queues CONNECT.
    /// The TCP connect, the TLS handshake and the CONNACK all complete later, in `loop`; their failures come back
    /// from `loop`.
    func connectAsync(host: String, port: Int32, keepalive: Int32) throws(MosquittoError) {
        try Mosquitto.check(mosquitto_connect_async(handle, host, port, keepalive), "mosquitto_connect_async")
    }

    /// `mosquitto_user_data_set`: the pointer handed to every callback.
    func userDataSet(_ userdata: UnsafeMutableRawPointer?) { mosquitto_user_data_set(handle, userdata) }

    /// `mosquitto_disconnect`: queues DISCONNECT (and wakes the loop); the loop closes the socket once it is sent.
    func disconnect() throws(MosquittoError) {
        try Mosquitto.check(mosquitto_disconnect(handle), "mosquitto_disconnect")
    }

    /// `mosquitto_loop`: waits up to `timeoutMilliseconds` for the socket, reads and writes, runs callbacks,
    /// sends keepalive pings. Never call it from a callback.
    func loop(timeoutMilliseconds: Int32) throws(MosquittoError) {
        try Mosquitto.check(mosquitto_loop(handle, timeoutMilliseconds, 1), "mosquitto_loop")
    }

    /// `mosquitto_socket`: the socket, or -1 when there is none.
    func socket() -> Int32 { mosquitto_socket(handle) }

    /// `mosquitto_subscribe`: queues SUBSCRIBE; returns its message id (matched by the SUBACK callback).
    func subscribe(filter: String, qos: Int32) throws(MosquittoError) -> Int32 {
        var mid: Int32 = 0
        try Mosquitto.check(mosquitto_subscribe(handle, &mid, filter, qos), "mosquitto_subscribe")
        return mid
    }

    /// `mosquitto_publish`: queues PUBLISH; returns its message id. Success means queued, not sent.
    func publish(topic: String, payload: UnsafeRawBufferPointer, qos: Int32, retain: Bool) throws(MosquittoError) -> Int32 {
        var mid: Int32 = 0
        let rc = mosquitto_publish(handle, &mid, topic, Int32(payload.count), payload.baseAddress, qos, retain)
        try Mosquitto.check(rc, "mosquitto_publish")
        return mid
    }
}

private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
