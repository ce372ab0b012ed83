import Anomaly
import Synchronization

/// What a signal is, for people: which device, which channel, what kind, from which topic and source.
public struct SignalInfo: Sendable, Equatable {
    public var id: SignalID
    public var device: String
    public var channel: String?
    public var kind: SignalKind
    public var topic: String
    public var sourceIndex: Int
    /// `wrist`, `waist`… for accelerometer sources.
    public var placement: String?

    /// `device` or `device/channel`.
    public var deviceName: String { channel.map { "\(device)/\($0)" } ?? device }
}

/// The dense per-home numbering of signals: (device, channel, kind) → `SignalID`, resolved once per topic on the
/// ingest side and used by index everywhere after (ring, statistics, detectors). Text states (button actions,
/// regions, entity states) are interned per signal into small integer codes carried in `Sample.value`.
///
/// Thread-safe (a `Mutex`): registration happens on a topic's first message, lookups of names when an event is
/// written — never per sample.
public final class SignalRegistry: Sendable {
    struct Key: Hashable { var device: String; var channel: String?; var kind: SignalKind }
    struct State {
        var byKey: [Key: SignalID] = [:]
        var infos: [SignalInfo] = []
        var textCodes: [SignalID: [String: Int]] = [:]
        var texts: [SignalID: [String]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// The id of (device, channel, kind), registering it on first sight.
    public func id(device: String, channel: String?, kind: SignalKind, topic: String, sourceIndex: Int,
                   placement: String? = nil) -> SignalID {
        state.withLock { s in
            let key = Key(device: device, channel: channel, kind: kind)
            if let id = s.byKey[key] { return id }
            let id = SignalID(UInt32(s.infos.count))
            s.byKey[key] = id
            s.infos.append(SignalInfo(id: id, device: device, channel: channel, kind: kind, topic: topic,
                                      sourceIndex: sourceIndex, placement: placement))
            return id
        }
    }

    public func info(_ id: SignalID) -> SignalInfo? {
        state.withLock { s in Int(id.rawValue) < s.infos.count ? s.infos[Int(id.rawValue)] : nil }
    }

    public var count: Int { state.withLock { $0.infos.count } }
    public var all: [SignalInfo] { state.withLock { $0.infos } }

    /// The code of a text state of a signal (interned on first sight).
    public func code(for text: String, of id: SignalID) -> Int {
        state.withLock { s in
            if let c = s.textCodes[id]?[text] { return c }
            let c = s.texts[id, default: []].count
            s.texts[id, default: []].append(text)
            s.textCodes[id, default: [:]][text] = c
            return c
        }
    }

    /// The text a code stands for.
    public func text(for code: Int, of id: SignalID) -> String? {
        state.withLock { s in
            guard let t = s.texts[id], code >= 0, code < t.count else { return nil }
            return t[code]
        }
    }
}
