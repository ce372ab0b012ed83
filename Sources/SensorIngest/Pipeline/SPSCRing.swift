import CLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The shared part of a lock-free single-producer single-consumer ring of trivially copyable elements.
///
/// Memory layout (the one unsafe allocation of this concern, made once in `init`):
/// - `slots`: `capacity` elements, `capacity` a power of two, indexed by 64-bit sequence numbers `& mask`;
/// - `control`: four 128-byte lines (128 so that the adjacent-line prefetcher cannot couple them), each holding
///   one atomic: line 0 the producer's published `tail`, line 1 the consumer's published `head`, line 2 the
///   consumer's `parked` futex word. The ends' private cached indices live in the `~Copyable` ends themselves.
///
/// Invariants (checked by `checkInvariants()` in debug builds and by the tests):
/// - `0 <= tail - head <= capacity`; both only grow; slot `s & mask` for `head <= s < tail` holds a published element.
/// - Exactly one `SPSCRing.Producer` and one `SPSCRing.Consumer` exist per ring (they are `~Copyable` and made once),
///   so `tail` has one writer and `head` has one writer.
/// - The producer writes a slot, then publishes it with a `.releasing` store of `tail`; the consumer reads `tail`
///   with `.acquiring` before reading slots, and releases the slots with a `.releasing` store of `head`, which the
///   producer reads with `.acquiring` before reusing them.
///
/// Parking (no spinning consumer): a consumer that finds the ring empty sets `parked = 1`, issues a process-wide
/// heavy barrier (`membarrier(PRIVATE_EXPEDITED)`), re-checks `tail` and sleeps on the futex with a timeout. After a
/// publication the producer reads `parked` (a plain load: the consumer's heavy barrier orders it against the `tail`
/// store) and wakes the futex only when it is set. Where `membarrier` is not available the producer issues a
/// sequentially consistent fence instead. Either way a wake-up cannot be lost, and the timeout bounds the sleep so
/// that the consumer's loop proves liveness to a watchdog on a quiet night.
public final class SPSCRingStorage<Element: BitwiseCopyable>: @unchecked Sendable {
    // @unchecked Sendable: all shared mutable state is the three atomics in `control`; `slots` are handed over by
    // the release/acquire protocol above, and each end's private state lives in its ~Copyable end.
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let slots: UnsafeMutablePointer<Element>
    @usableFromInline let control: UnsafeMutableRawPointer
    @usableFromInline let producerNeedsFence: Bool

    @usableFromInline static var lineSize: Int { 128 }

    init(capacity requested: Int) {
        precondition(requested >= 2, "a ring needs at least 2 slots")
        var c = 2
        while c < requested { c <<= 1 }
        capacity = c
        mask = c - 1
        slots = .allocate(capacity: c)
        control = .allocate(byteCount: 3 * Self.lineSize, alignment: Self.lineSize)
        control.initializeMemory(as: UInt8.self, repeating: 0, count: 3 * Self.lineSize)
        control.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (control + Self.lineSize).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (control + 2 * Self.lineSize).bindMemory(to: Atomic<UInt32>.self, capacity: 1).initialize(to: Atomic(0))
        producerNeedsFence = !MembarrierSupport.available
    }

    deinit {
        control.assumingMemoryBound(to: Atomic<Int>.self).deinitialize(count: 1)
        (control + Self.lineSize).assumingMemoryBound(to: Atomic<Int>.self).deinitialize(count: 1)
        (control + 2 * Self.lineSize).assumingMemoryBound(to: Atomic<UInt32>.self).deinitialize(count: 1)
        control.deallocate()
        slots.deallocate()
    }

    @usableFromInline var tail: UnsafeMutablePointer<Atomic<Int>> {
        @inline(__always) get { control.assumingMemoryBound(to: Atomic<Int>.self) }
    }
    @usableFromInline var head: UnsafeMutablePointer<Atomic<Int>> {
        @inline(__always) get { (control + Self.lineSize).assumingMemoryBound(to: Atomic<Int>.self) }
    }
    @usableFromInline var parked: UnsafeMutablePointer<Atomic<UInt32>> {
        @inline(__always) get { (control + 2 * Self.lineSize).assumingMemoryBound(to: Atomic<UInt32>.self) }
    }

    /// Elements published and not yet consumed (a snapshot; exact only when both ends are quiet).
    public var count: Int { tail.pointee.load(ordering: .acquiring) - head.pointee.load(ordering: .acquiring) }

    /// Debug-only check of the index invariant.
    public func checkInvariants() {
        #if DEBUG
        let h = head.pointee.load(ordering: .acquiring)
        let t = tail.pointee.load(ordering: .acquiring)
        precondition(h <= t && t - h <= capacity, "SPSC ring invariant broken: head \(h) tail \(t) capacity \(capacity)")
        #endif
    }

    private let endsTaken = Atomic<UInt8>(0)

    /// The producing end; traps when taken twice (one producer per ring).
    public func takeProducer() -> SPSCRing<Element>.Producer {
        let old = endsTaken.bitwiseOr(1, ordering: .relaxed).oldValue
        precondition(old & 1 == 0, "the producer end of an SPSC ring was taken twice")
        return SPSCRing<Element>.Producer(self)
    }

    /// The consuming end; traps when taken twice (one consumer per ring).
    public func takeConsumer() -> SPSCRing<Element>.Consumer {
        let old = endsTaken.bitwiseOr(2, ordering: .relaxed).oldValue
        precondition(old & 2 == 0, "the consumer end of an SPSC ring was taken twice")
        return SPSCRing<Element>.Consumer(self)
    }

    /// Wakes a parked consumer. Called by the producer after a publication, on the slow path only.
    @usableFromInline func wakeConsumer() {
        parked.pointee.store(0, ordering: .relaxed)
        _ = cm_futex_wake(UnsafeMutableRawPointer(parked).assumingMemoryBound(to: UInt32.self), 1)
    }
}

/// Process-wide registration for `membarrier(2)`, done once before the first ring is made.
enum MembarrierSupport {
    static let available: Bool = cm_membarrier_register() == 0
}

/// A lock-free SPSC ring: `SPSCRing.make(capacity:)` returns the storage, from which each of the two `~Copyable`
/// ends can be taken exactly once (a second take traps): one for the producer thread, one for the consumer thread.
/// See `SPSCRingStorage` for the memory-ordering contract.
public enum SPSCRing<Element: BitwiseCopyable> {
    public static func make(capacity: Int) -> SPSCRingStorage<Element> {
        SPSCRingStorage<Element>(capacity: capacity)
    }

    /// The producing end. Owned by exactly one thread at a time (move it, never share it).
    public struct Producer: ~Copyable, @unchecked Sendable {
        // @unchecked Sendable: a Producer may be moved to the thread that produces; being ~Copyable it cannot be
        // used from two threads at once.
        public let storage: SPSCRingStorage<Element>
        /// Copies of the storage's read-only fields, kept by this end (in registers in a loop, as the C reference
        /// keeps them), so that a publication's release store does not make the loop reload them.
        @usableFromInline let slots: UnsafeMutablePointer<Element>
        @usableFromInline let mask: Int
        @usableFromInline let needsFence: Bool
        /// Next sequence to write (staged elements are in `[published, next)`).
        @usableFromInline var next: Int = 0
        @usableFromInline var published: Int = 0
        /// The consumer's head as last read; refreshed only when the ring looks full.
        @usableFromInline var cachedHead: Int = 0

        init(_ storage: SPSCRingStorage<Element>) {
            self.storage = storage
            slots = storage.slots
            mask = storage.mask
            needsFence = storage.producerNeedsFence
        }

        public var capacity: Int { storage.capacity }

        /// Writes one element without publishing it (batch publication); false when the ring is full.
        @inlinable @inline(__always)
        public mutating func stage(_ element: Element) -> Bool {
            if next - cachedHead > mask {
                cachedHead = storage.head.pointee.load(ordering: .acquiring)
                if next - cachedHead > mask { return false }
            }
            (slots + (next & mask)).initialize(to: element)
            next &+= 1
            return true
        }

        /// True when `n` more elements can be staged now (refreshes the cached consumer index only when needed);
        /// they may then be written with `stageReserved` without a check each.
        @inlinable @inline(__always)
        public mutating func reserve(_ n: Int) -> Bool {
            if next &+ n &- cachedHead > storage.capacity {
                cachedHead = storage.head.pointee.load(ordering: .acquiring)
                if next &+ n &- cachedHead > storage.capacity { return false }
            }
            return true
        }

        /// Writes one element into a slot made sure of by `reserve` (no fullness check), without publishing it.
        @inlinable @inline(__always)
        public mutating func stageReserved(_ element: Element) {
            (slots + (next & mask)).initialize(to: element)
            next &+= 1
        }

        /// Makes every staged element visible to the consumer, and wakes it if it is parked.
        @inlinable @inline(__always)
        public mutating func publish() {
            guard next != published else { return }
            published = next
            storage.tail.pointee.store(next, ordering: .releasing)
            if needsFence {
                atomicMemoryFence(ordering: .sequentiallyConsistent)
            } else {
                cm_compiler_barrier()
            }
            if storage.parked.pointee.load(ordering: .relaxed) != 0 { storage.wakeConsumer() }
        }

        /// Stages and publishes one element; false (nothing written) when the ring is full.
        @inlinable @inline(__always)
        public mutating func push(_ element: Element) -> Bool {
            guard stage(element) else { return false }
            publish()
            return true
        }

        /// Free slots as seen now (refreshes the cached consumer index).
        public mutating func freeSlots() -> Int {
            cachedHead = storage.head.pointee.load(ordering: .acquiring)
            return storage.capacity - (next - cachedHead)
        }
    }

    /// The consuming end. Owned by exactly one thread at a time.
    public struct Consumer: ~Copyable, @unchecked Sendable {
        // @unchecked Sendable: as for Producer.
        public let storage: SPSCRingStorage<Element>
        /// Copies of the storage's read-only fields (see Producer).
        @usableFromInline let slots: UnsafeMutablePointer<Element>
        @usableFromInline let mask: Int
        @usableFromInline var head: Int = 0
        /// The producer's tail as last read; refreshed only when the ring looks empty.
        @usableFromInline var cachedTail: Int = 0

        init(_ storage: SPSCRingStorage<Element>) {
            self.storage = storage
            slots = storage.slots
            mask = storage.mask
        }

        /// Takes one element, or nil when the ring is empty.
        @inlinable @inline(__always)
        public mutating func pop() -> Element? {
            if head == cachedTail {
                cachedTail = storage.tail.pointee.load(ordering: .acquiring)
                if head == cachedTail { return nil }
            }
            let e = (slots + (head & mask)).pointee
            head &+= 1
            storage.head.pointee.store(head, ordering: .releasing)
            return e
        }

        /// Hands the elements known to be available (at most `limit`) to `body` in order, then releases their slots
        /// with one store. The producer's index is read again only when none are known (as the C reference ring
        /// does), so a call may leave newer elements for the next one; `drainSpans` reads it whenever fewer than
        /// `limit` are known. Returns how many were consumed.
        @inlinable @inline(__always)
        public mutating func drain(limit: Int = .max, _ body: (Element) throws(Never) -> Void) -> Int {
            if head == cachedTail {
                cachedTail = storage.tail.pointee.load(ordering: .acquiring)
                if head == cachedTail { return 0 }
            }
            let n = min(cachedTail - head, limit)
            var s = head
            let end = head &+ n
            while s != end {
                body((slots + (s & mask)).pointee)
                s &+= 1
            }
            head = end
            storage.head.pointee.store(head, ordering: .releasing)
            return n
        }

        /// Hands the elements available now (at most `limit`) to `body` as contiguous spans of the ring's storage:
        /// one span, or two where they wrap around its end. The spans are valid only inside `body`; the slots are
        /// released after the last one. Reads the producer's index again whenever fewer than `limit` are known to
        /// be there (one load per call). Returns how many were consumed.
        @inlinable @inline(__always)
        public mutating func drainSpans(limit: Int = .max,
                                        _ body: (UnsafeBufferPointer<Element>) throws(Never) -> Void) -> Int {
            if cachedTail &- head < limit {
                cachedTail = storage.tail.pointee.load(ordering: .acquiring)
                if head == cachedTail { return 0 }
            }
            let n = min(cachedTail - head, limit)
            let start = head & mask
            let first = min(n, mask &+ 1 &- start)
            body(UnsafeBufferPointer(start: slots + start, count: first))
            if first < n { body(UnsafeBufferPointer(start: slots, count: n &- first)) }
            head &+= n
            storage.head.pointee.store(head, ordering: .releasing)
            return n
        }

        /// Elements available now (refreshes the cached producer index).
        @inlinable @inline(__always)
        public mutating func available() -> Int {
            cachedTail = storage.tail.pointee.load(ordering: .acquiring)
            return cachedTail - head
        }

        /// True when at least one element is available (refreshes the cached producer index).
        @inlinable
        public mutating func hasElements() -> Bool {
            if head != cachedTail { return true }
            cachedTail = storage.tail.pointee.load(ordering: .acquiring)
            return head != cachedTail
        }

        /// Waits until an element is available or `timeoutNanoseconds` pass. First re-checks the ring
        /// `spinChecks` times with a CPU pause hint between (default 4,096: about 100 µs where a hint takes 26 ns, as
        /// on the development VM timed by hand; a producer mid-burst publishes again
        /// that soon, and a park costs a membarrier plus a futex wake on the producer), then parks on a futex: no
        /// spinning consumer on a quiet ring. Returns true when elements are available.
        public mutating func wait(timeoutNanoseconds: Int64, spinChecks: Int = 1 << 12) -> Bool {
            var checks = 0
            while checks < spinChecks {
                if hasElements() { return true }
                cm_cpu_relax()
                checks += 1
            }
            let word = UnsafeMutableRawPointer(storage.parked).assumingMemoryBound(to: UInt32.self)
            storage.parked.pointee.store(1, ordering: .sequentiallyConsistent)
            if !storage.producerNeedsFence { _ = cm_membarrier_heavy() }
            if hasElements() {
                storage.parked.pointee.store(0, ordering: .relaxed)
                return true
            }
            _ = cm_futex_wait(word, 1, timeoutNanoseconds)
            storage.parked.pointee.store(0, ordering: .relaxed)
            return hasElements()
        }
    }
}
