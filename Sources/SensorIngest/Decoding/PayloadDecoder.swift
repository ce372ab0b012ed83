import Anomaly
import CareSupport

/// Turns the payload of one MQTT message of one stack (Zigbee2MQTT, Tasmota, an accelerometer batch…) into typed
/// readings in our vocabulary (`SignalKind`, our units), keeping the stack's own words beside them (`field`, `raw`).
///
/// A decoder is created once per configured source by `DecoderRegistry` and called for every message routed to that
/// source, on the MQTT thread, by `explain`, by replay and by the fuzzer.
///
/// ## Implementation requirements
/// - **Pure.** The result depends only on `topic`, `device`, the payload bytes and the `DecoderOptions` given at
///   creation. No clock, no I/O, no caches, no global or static mutable state; decoding the same message twice gives
///   the same result.
/// - **Thread-safe.** Conforming types are `Sendable` values with immutable stored properties; `decode` may run on
///   several threads at once.
/// - **Typed errors, never a trap.** Any byte sequence — truncated, garbage, wrong JSON types, deeply nested, huge —
///   gives a `DecodeError` naming the field and what was expected. No `fatalError`, no force-unwrap or `try!` on
///   input-derived data, no unchecked arithmetic or indexing on input-derived values, no recursion without a bound.
/// - **Bounded work.** A payload larger than `DecoderOptions.maxPayloadBytes` is rejected with `.tooLarge` before it
///   is read; otherwise the work is linear in the payload size (no quadratic lookups over payload-sized data).
/// - **Recognised but empty.** A message of the stack that carries no sensor reading (discovery `…/config`,
///   `shellies/announce`, `zigbee2mqtt/bridge/event`, an MQTT-connected notification) returns
///   `DecodedMessage.noReading`, not an error. Messages recognised from their topic alone are not read at all.
/// - **Meaning preserved.** Each `Reading` carries our canonical `signal`, its `value` in our units (°C, %, lux, g,
///   W, V, hPa, kWh, A, bpm, m), the stack's `field` path (dotted), the `raw` JSON value exactly as in the payload
///   (for plain-text payloads a `.string` or `.number` as written) and a `channel` when one message carries several
///   sensors of one kind. Counter noise (`power_outage_count`, uptime, heap) gives no reading.
/// - **Honest time.** `DecodedMessage.time` is set only from an epoch timestamp the stack guarantees (not an uptime
///   counter, not a device-local time without a zone); otherwise nil, and the pipeline stamps the arrival time.
public protocol PayloadDecoder: Sendable {
    /// The decoder's config name (`zigbee2mqtt`, `accel`…), as listed in `DecoderRegistry`.
    var name: String { get }

    /// Decodes one message. `device` is the device name the router derived from the topic (a preset's grammar or
    /// the text matched by the source's wildcards); decoders use `topic` for the stack's topic grammar.
    func decode(topic: String, device: String, payload: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedMessage
}

extension PayloadDecoder {
    /// Convenience for tests and tools: decodes a byte array.
    public func decode(topic: String, device: String, bytes: [UInt8]) throws(DecodeError) -> DecodedMessage {
        let result: Result<DecodedMessage, DecodeError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(DecodeError) in try decode(topic: topic, device: device, payload: buffer) }
        }
        return try result.get()
    }
}

/// Settings shared by every decoder of one router.
public struct DecoderOptions: Sendable, Equatable {
    /// 1 MiB: far above any sensor message (a 400 Hz, 1 s accelerometer batch is about 10 KiB).
    public static let defaultMaxPayloadBytes = 1 << 20

    /// Payloads larger than this are rejected with `DecodeError.Code.tooLarge` before they are read.
    public var maxPayloadBytes: Int

    public init(maxPayloadBytes: Int = DecoderOptions.defaultMaxPayloadBytes) {
        self.maxPayloadBytes = max(0, maxPayloadBytes)
    }
}
