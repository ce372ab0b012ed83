// PROTOTYPE (benchmark-only copy) of CaptureLineReader.read from Sources/SensorIngest/Capture/CaptureLine.swift, renamed.
import CareSupport

/// One line of a capture, in the shape `mosquitto_sub -F %j` prints (and `careMonitord record` writes):
/// `{"tst":"2026-11-23T00:01:02.320177Z+0000","topic":…,"qos":0,"retain":0,"payloadlen":N,"payload":"…"}`.
/// Files written with `-F %J` embed a JSON payload as a JSON value instead of a string; both are read.
///
/// The reader is zero-copy where it can be: an unescaped topic and a `%J` payload point into the line itself;
/// escaped ones are unescaped into scratch buffers owned by the reader. The views are valid until the next `read`.
final class ProtoLineReader: @unchecked Sendable {
    // @unchecked Sendable: scratch buffers used by the one thread that reads a capture.
    let topicScratch = ProtoByteScratch(capacity: 256)
    let payloadScratch = ProtoByteScratch(capacity: 64 * 1024)

    init() {}

    struct Line {
        var time: Double
        var topic: UnsafeRawBufferPointer
        var payload: UnsafeRawBufferPointer
        var qos: Int
        var retain: Bool
        init(time: Double, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: Int, retain: Bool) {
            self.time = time; self.topic = topic; self.payload = payload; self.qos = qos; self.retain = retain
        }
    }

    enum Problem: Error, Sendable, CustomStringConvertible {
        case empty
        case notAnObject
        case missing(String)
        case badField(String)

        var description: String {
            switch self {
            case .empty:
                "empty line (mosquitto_sub -F %J writes one for a payload that is not JSON: record with -F %j to keep such messages)"
            case .notAnObject: "not a capture line: expected a JSON object as mosquitto_sub -F %j prints"
            case .missing(let k): "capture line has no \"\(k)\""
            case .badField(let k): "capture line has an invalid \"\(k)\""
            }
        }
    }

    /// Parses one line (without its newline). `body` gets the views; they are valid only during the call.
    @inlinable
    func read<R>(_ line: UnsafeRawBufferPointer, _ body: (Line) -> R) -> Result<R, Problem> {
        var s = ProtoScanner(line)
        s.skipSpace()
        if s.atEnd { return .failure(.empty) }
        guard s.expect(UInt8(ascii: "{")) else { return .failure(.notAnObject) }
        var time = Double.nan
        var topic: UnsafeRawBufferPointer?
        var topicEscaped = false
        var payload: UnsafeRawBufferPointer?
        var qos = 0
        var retain = false
        if s.expect(UInt8(ascii: "}")) { return .failure(.missing("topic")) }
        while true {
            guard let key = s.plainString(), s.expect(UInt8(ascii: ":")) else { return .failure(.notAnObject) }
            if s.equals(key, "payload") {
                if s.peek() == UInt8(ascii: "\"") {
                    guard s.string(into: payloadScratch) else { return .failure(.badField("payload")) }
                    payload = payloadScratch.bytes
                } else {
                    guard let r = s.skipValue() else { return .failure(.badField("payload")) }
                    payload = UnsafeRawBufferPointer(start: s.p + r.lowerBound, count: r.count)
                }
            } else if s.equals(key, "topic") {
                let save = s.i
                if let r = s.plainString() {
                    topic = UnsafeRawBufferPointer(start: s.p + r.lowerBound, count: r.count)
                } else {
                    s.i = save
                    guard s.string(into: topicScratch) else { return .failure(.badField("topic")) }
                    topicEscaped = true
                }
            } else if s.equals(key, "tst") {
                guard let r = s.plainString(),
                      let t = Timestamp.parse(UnsafeRawBufferPointer(start: s.p + r.lowerBound, count: r.count))
                else { return .failure(.badField("tst")) }
                time = t
            } else if s.equals(key, "qos") {
                guard let v = s.number() else { return .failure(.badField("qos")) }
                qos = Int(v)
            } else if s.equals(key, "retain") {
                if let v = s.number() { retain = v != 0 } else {
                    guard let r = s.skipValue() else { return .failure(.badField("retain")) }
                    retain = s.equals(r, "true")
                }
            } else {
                guard s.skipValue() != nil else { return .failure(.notAnObject) }
            }
            if s.expect(UInt8(ascii: ",")) { continue }
            if s.expect(UInt8(ascii: "}")) { break }
            return .failure(.notAnObject)
        }
        s.skipSpace()
        guard s.atEnd else { return .failure(.notAnObject) }
        if topicEscaped { topic = topicScratch.bytes }
        guard let topic, topic.count > 0 else { return .failure(.missing("topic")) }
        guard let payload else { return .failure(.missing("payload")) }
        guard time.isFinite else { return .failure(.missing("tst")) }
        return .success(body(Line(time: time, topic: topic, payload: payload, qos: qos, retain: retain)))
    }
}
