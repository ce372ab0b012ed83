#if canImport(Glibc)
import Glibc
#endif

/// Topic bytes → a small integer (the index of the topic's resolved route), without making a `String`: the MQTT
/// callback hands us the topic as C bytes, and a Swift `String` of more than 15 bytes would allocate per message.
///
/// Open addressing with linear probing over a power-of-two table; keys are copied once into an arena. It allocates
/// only when a new topic is inserted (grows at half load). Bounded by `maximumTopics` so that a flood of distinct
/// topics cannot exhaust memory: past it, inserts are refused and the caller routes uncached.
///
/// Unsafe: owns two heap blocks (slots, key arena). Single-threaded: owned by the ingest side of one pipeline.
public final class TopicCache: @unchecked Sendable {
    // @unchecked Sendable: used by the one thread that feeds a pipeline.
    @usableFromInline struct Slot {
        @usableFromInline var hash: UInt64
        @usableFromInline var offset: Int32
        @usableFromInline var length: Int32
        @usableFromInline var value: Int32   // -1 = empty
    }
    @usableFromInline var slots: UnsafeMutablePointer<Slot>
    @usableFromInline var mask: Int
    @usableFromInline var arena: UnsafeMutableRawPointer
    @usableFromInline var arenaUsed = 0
    @usableFromInline var arenaCapacity: Int
    public private(set) var count = 0
    public let maximumTopics: Int

    public init(maximumTopics: Int = 65_536) {
        self.maximumTopics = maximumTopics
        mask = 63
        slots = .allocate(capacity: 64)
        slots.initialize(repeating: Slot(hash: 0, offset: 0, length: 0, value: -1), count: 64)
        arenaCapacity = 4096
        arena = .allocate(byteCount: arenaCapacity, alignment: 8)
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
    }

    @inlinable @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// The value stored for `key`, or nil.
    @inlinable
    public func lookup(_ key: UnsafeRawBufferPointer) -> Int? {
        let h = TopicCache.hash(key)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s.value < 0 { return nil }
            if s.hash == h && Int(s.length) == key.count
                && (key.count == 0 || memcmp(arena + Int(s.offset), key.baseAddress!, key.count) == 0) {
                return Int(s.value)
            }
            i = (i + 1) & mask
        }
    }

    /// Stores `value` for `key` (not already present). False when the cache is full (`maximumTopics`).
    @discardableResult
    public func insert(_ key: UnsafeRawBufferPointer, value: Int) -> Bool {
        guard count < maximumTopics, key.count < Int(Int32.max) else { return false }
        if (count + 1) * 2 > mask + 1 { grow() }
        if arenaUsed + key.count > arenaCapacity {
            var c = arenaCapacity * 2
            while c < arenaUsed + key.count { c *= 2 }
            let a = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 8)
            a.copyMemory(from: arena, byteCount: arenaUsed)
            arena.deallocate()
            arena = a
            arenaCapacity = c
        }
        if key.count > 0 { (arena + arenaUsed).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        let slot = Slot(hash: TopicCache.hash(key), offset: Int32(arenaUsed), length: Int32(key.count), value: Int32(value))
        arenaUsed += key.count
        place(slot, in: slots, mask: mask)
        count += 1
        return true
    }

    private func place(_ slot: Slot, in table: UnsafeMutablePointer<Slot>, mask: Int) {
        var i = Int(truncatingIfNeeded: slot.hash) & mask
        while table[i].value >= 0 { i = (i + 1) & mask }
        table[i] = slot
    }

    private func grow() {
        let newCapacity = (mask + 1) * 2
        let table = UnsafeMutablePointer<Slot>.allocate(capacity: newCapacity)
        table.initialize(repeating: Slot(hash: 0, offset: 0, length: 0, value: -1), count: newCapacity)
        for i in 0...mask where slots[i].value >= 0 { place(slots[i], in: table, mask: newCapacity - 1) }
        slots.deallocate()
        slots = table
        mask = newCapacity - 1
    }
}
