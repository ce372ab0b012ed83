import Anomaly
import CareSupport
import Synchronization
import Testing
@testable import SensorIngest

@Suite("SPSC ring")
struct SPSCRingTests {
    @Test func capacityIsRoundedUpToAPowerOfTwo() {
        let ring = SPSCRing<Int>.make(capacity: 100)
        #expect(ring.capacity == 128)
    }

    @Test func fullRingRefusesThePushAndKeepsOrder() {
        let ring = SPSCRing<Int>.make(capacity: 4)
        var p = ring.takeProducer()
        var c = ring.takeConsumer()
        for i in 0..<4 {
            let ok = p.push(i)
            #expect(ok)
        }
        let r1 = !p.push(99)
        #expect(r1, "a full ring must refuse, not overwrite")
        let r2 = c.pop()
        #expect(r2 == 0)
        let r3 = p.push(4)
        #expect(r3)
        var got: [Int] = []
        while let v = c.pop() { got.append(v) }
        #expect(got == [1, 2, 3, 4])
        let r4 = c.pop()
        #expect(r4 == nil)
        ring.checkInvariants()
    }

    @Test func stagedElementsAreInvisibleUntilPublished() {
        let ring = SPSCRing<Int>.make(capacity: 8)
        var p = ring.takeProducer()
        var c = ring.takeConsumer()
        let r5 = p.stage(1)
        #expect(r5)
        let r6 = p.stage(2)
        #expect(r6)
        let r7 = c.pop()
        #expect(r7 == nil)
        p.publish()
        let drained = c.drain { _ in }
        #expect(drained == 2)
    }

    @Test func indicesWrapAroundManyTimes() {
        let ring = SPSCRing<Int>.make(capacity: 8)
        var p = ring.takeProducer()
        var c = ring.takeConsumer()
        var expected = 0
        for i in 0..<10_000 {
            let r8 = p.push(i)
            #expect(r8)
            if i % 3 == 0 {
                _ = c.drain { v in
                    if v != expected { Issue.record("out of order: \(v) != \(expected)") }
                    expected += 1
                }
            }
        }
        _ = c.drain { v in
            if v != expected { Issue.record("out of order: \(v) != \(expected)") }
            expected += 1
        }
        #expect(expected == 10_000)
    }

    /// `drainSpans` hands what is available as the ring's own storage: one span, or two in order where the
    /// elements wrap around the end; `limit` is respected and the slots are released after the spans.
    @Test func drainSpansSplitsAtTheWrapAndKeepsOrder() {
        let ring = SPSCRing<Int>.make(capacity: 8)
        var p = ring.takeProducer()
        var c = ring.takeConsumer()
        var next = 0, expected = 0
        var spanCounts: [[Int]] = []
        for (push, limit) in [(5, 8), (6, 4), (6, 8), (8, 8)] {
            for _ in 0..<push {
                let pushed = p.push(next)
                #expect(pushed)
                next += 1
            }
            var counts: [Int] = []
            let n = c.drainSpans(limit: limit) { span in
                counts.append(span.count)
                for v in span {
                    if v != expected { Issue.record("out of order: \(v) != \(expected)") }
                    expected += 1
                }
            }
            #expect(n == counts.reduce(0, +))
            spanCounts.append(counts)
        }
        // 5 from slot 0; then 4 of 6 (slots 5-7, 0); then the 2 left and 6 more (slots 1-7, 0); then 8 from slot 1.
        #expect(spanCounts == [[5], [3, 1], [7, 1], [7, 1]])
        #expect(expected == next)
        let none = c.drainSpans { _ in Issue.record("an empty ring hands nothing") }
        #expect(none == 0)
    }

    /// Two real threads, a small ring (so the producer is often blocked by a full ring) and a consumer that parks:
    /// every element arrives exactly once, in order, and the parked consumer is always woken.
    @Test func twoThreadsTransferEverySampleInOrderWithParking() {
        let ring = SPSCRing<Sample>.make(capacity: 64)
        let count = 300_000
        let received = Atomic<Int>(0)
        let errors = Atomic<Int>(0)
        let consumerThread = OSThread(name: "test-consumer") { [ring] in
            var c = ring.takeConsumer()
            var next = 0
            while next < count {
                let n = c.drain { s in
                    if Int(s.signal.rawValue) != next % 1000 || s.value != Double(next) { errors.add(1, ordering: .relaxed) }
                    next += 1
                }
                if n == 0 { _ = c.wait(timeoutNanoseconds: 50_000_000) }
            }
            received.store(next, ordering: .releasing)
        }
        var p = ring.takeProducer()
        var i = 0
        while i < count {
            let s = Sample(signal: SignalID(UInt32(i % 1000)), time: Double(i), value: Double(i))
            if p.stage(s) {
                i += 1
                if i % 7 == 0 { p.publish() }
            } else {
                p.publish()
            }
        }
        p.publish()
        consumerThread.join()
        #expect(received.load(ordering: .acquiring) == count)
        #expect(errors.load(ordering: .relaxed) == 0)
    }

    @Test func parkedConsumerWakesWithinTheTimeoutWhenNothingArrives() {
        let ring = SPSCRing<Int>.make(capacity: 8)
        var c = ring.takeConsumer()
        let clock = SystemClock()
        let t0 = clock.monotonicNow()
        let r9 = !c.wait(timeoutNanoseconds: 20_000_000)
        #expect(r9)
        let waited = clock.monotonicNow().seconds(since: t0)
        #expect(waited >= 0.015, "the consumer returned after \(waited) s instead of parking")
    }
}

@Suite("Topic cache")
struct TopicCacheTests {
    @Test func findsEveryInsertedTopicAfterGrowing() {
        let cache = TopicCache()
        let topics = (0..<5000).map { "zigbee2mqtt/room \($0)/sensor" }
        for (i, t) in topics.enumerated() {
            var t = t
            let ok = t.withUTF8 { cache.insert(UnsafeRawBufferPointer($0), value: i) }
            #expect(ok)
        }
        for (i, t) in topics.enumerated() {
            var t = t
            let found = t.withUTF8 { cache.lookup(UnsafeRawBufferPointer($0)) }
            #expect(found == i)
        }
        var missing = "zigbee2mqtt/room 5000/sensor"
        let none = missing.withUTF8 { cache.lookup(UnsafeRawBufferPointer($0)) }
        #expect(none == nil)
    }

    @Test func refusesInsertsBeyondItsBound() {
        let cache = TopicCache(maximumTopics: 2)
        for (i, t) in ["a", "b", "c"].enumerated() {
            var t = t
            let ok = t.withUTF8 { cache.insert(UnsafeRawBufferPointer($0), value: i) }
            #expect(ok == (i < 2))
        }
    }
}
