@testable import SensorIngest
import Testing

/// PUBACKs matched to their waiters: before or after the wait starts, and a timeout when none comes.
@Suite struct PublishAcknowledgementsTests {
    @Test func aPubackBeforeOrAfterTheWaitConfirmsAndNoneTimesOut() async {
        let acks = PublishAcknowledgements()
        acks.acknowledged(7)                                       // the loop thread ran ahead of the caller
        #expect(await acks.wait(for: 7, timeout: .seconds(5)))
        #expect(await !acks.wait(for: 7, timeout: .milliseconds(50)), "one PUBACK confirms one wait")
        async let later = acks.wait(for: 8, timeout: .seconds(5))
        try? await Task.sleep(for: .milliseconds(50))
        acks.acknowledged(8)
        #expect(await later)
        #expect(await !acks.wait(for: 9, timeout: .milliseconds(50)))
        for mid in 100..<400 { acks.acknowledged(Int32(mid)) }     // ids nobody waits for pass through a bounded ring
        #expect(await !acks.wait(for: 100, timeout: .milliseconds(20)), "the ring keeps only the last 256")
        #expect(await acks.wait(for: 399, timeout: .milliseconds(20)))
    }
}
