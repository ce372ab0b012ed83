import Anomaly
import CareSupport
import SensorIngest
import Testing

/// The `accel` format's fixed contract: batches, irregular timing, single samples, units, validation.
@Suite("Decoder accel contract")
struct DecoderAccelTests {
    let decoder = AccelDecoder()
    let topic = "wearable/band1/accel"

    func message(_ text: String) throws -> DecodedMessage { try decoder.result(topic: topic, text).get() }

    func error(_ text: String) -> DecodeError? {
        if case .failure(let e) = decoder.result(topic: topic, text) { return e }
        return nil
    }

    @Test func regularBatchGivesOneSeriesPerAxisInGWithSampleTimes() throws {
        let m = try message(#"{"t0":1763856000.5,"hz":200,"unit":"g","x":[0.1,0.2,0.3],"y":[-1,-0.98,-1.02],"z":[0.05,0.04,0.06]}"#)
        #expect(m.readings.map(\.field) == ["x", "y", "z"])
        #expect(m.readings.allSatisfy { $0.signal == .acceleration && $0.unit == "g" })
        #expect(m.readings[0].value == .series([0.1, 0.2, 0.3]))
        #expect(m.readings[1].value == .series([-1, -0.98, -1.02]))
        #expect(m.readings[0].raw == [0.1, 0.2, 0.3])
        let times = try #require(m.sampleTimes)
        #expect(times == [1763856000.5, 1763856000.5 + 1.0 / 200, 1763856000.5 + 2.0 / 200])
        #expect(m.time == 1763856000.5)
    }

    @Test func unitDefaultsToGAndMetresPerSecondSquaredAreDividedByStandardGravity() throws {
        let g = try message(#"{"t0":10,"hz":50,"x":[1],"y":[2],"z":[3]}"#)
        #expect(g.readings.map(\.value) == [.series([1]), .series([2]), .series([3])])
        let ms2 = try message(#"{"t0":10,"hz":50,"unit":"m/s2","x":[9.80665],"y":[-19.6133],"z":[0]}"#)
        #expect(approximatelyEqual(ms2.readings[0].value, .series([1])))
        #expect(approximatelyEqual(ms2.readings[1].value, .series([-2])))
        #expect(ms2.readings[0].raw == [9.80665], "raw keeps the payload's own numbers")
        #expect(error(#"{"t0":10,"hz":50,"unit":"mg","x":[1],"y":[2],"z":[3]}"#)?.code == .unsupported)
    }

    @Test func irregularTimesAreTakenAsGivenAndGapsAreFine() throws {
        let m = try message(#"{"t":[100.0,100.01,100.5,100.51],"x":[0,0,0,0],"y":[1,1,1,1],"z":[0,0,0,0]}"#)
        #expect(m.sampleTimes == [100.0, 100.01, 100.5, 100.51])
        #expect(error(#"{"t":[100.0,99.0],"x":[0,0],"y":[1,1],"z":[0,0]}"#)?.code == .outOfRange)
        #expect(error(#"{"t":[100.0],"x":[0,0],"y":[1,1],"z":[0,0]}"#)?.code == .outOfRange)
    }

    @Test func oneSamplePerMessage() throws {
        let m = try message(#"{"t":1763856000.25,"x":0.01,"y":-0.99,"z":0.1}"#)
        #expect(m.readings.map(\.value) == [.series([0.01]), .series([-0.99]), .series([0.1])])
        #expect(m.sampleTimes == [1763856000.25])
        #expect(error(#"{"x":0.01,"y":-0.99,"z":0.1}"#)?.code == .missingField)
    }

    @Test func validationGivesTypedErrorsNamingTheMember() throws {
        let cases: [(String, DecodeError.Code, String)] = [
            (#"{"t0":1,"hz":50,"x":[1,2],"y":[1],"z":[1,2]}"#, .outOfRange, "same number"),
            (#"{"t0":1,"hz":0.5,"x":[1],"y":[1],"z":[1]}"#, .outOfRange, "hz"),
            (#"{"t0":1,"hz":5000,"x":[1],"y":[1],"z":[1]}"#, .outOfRange, "hz"),
            (#"{"t0":1,"hz":50,"x":[1,1e999],"y":[1,1],"z":[1,1]}"#, .outOfRange, "x[1]"),
            (#"{"t0":1,"hz":50,"x":[1,"2"],"y":[1,1],"z":[1,1]}"#, .wrongType, "x[1]"),
            (#"{"t0":1,"hz":50,"x":[],"y":[],"z":[]}"#, .outOfRange, "no sample"),
            (#"{"hz":50,"x":[1],"y":[1],"z":[1]}"#, .missingField, "t0"),
            (#"{"t0":1,"x":[1],"y":[1],"z":[1]}"#, .missingField, "hz"),
            (#"{"t0":-5,"hz":50,"x":[1],"y":[1],"z":[1]}"#, .outOfRange, "t0"),
            (#"{"t0":1,"hz":50,"x":[1],"y":[1]}"#, .missingField, "z"),
            (#"{"t0":1,"hz":50,"x":[1],"y":2,"z":[1]}"#, .wrongType, "y"),
            (#"{"t0":"now","hz":50,"x":[1],"y":[1],"z":[1]}"#, .wrongType, "t0"),
            (#"[1,2,3]"#, .wrongType, "[0]"),
            (#""x""#, .wrongType, "accelerometer"),
            (#"{"t0":1,"hz":50,"x":[1],"y":[1],"z":[1"#, .malformedJSON, "line 1"),
        ]
        for (payload, code, mention) in cases {
            let e = try #require(error(payload), "\(payload) decoded")
            #expect(e.code == code, "\(payload): \(e)")
            #expect(e.message.contains(mention), "\(payload): \(e.message)")
        }
    }

    @Test func senmlAccelerationRecordsMakeABatch() throws {
        let pack = #"[{"bn":"band1:","bt":1763856000,"bu":"m/s2","n":"accX","v":9.80665},{"n":"accY","v":0},{"n":"accZ","v":0},"#
            + #"{"n":"accX","t":0.02,"v":0},{"n":"accY","t":0.02,"v":9.80665},{"n":"accZ","t":0.02,"v":0},"#
            + #"{"n":"battery","u":"%EL","v":81}]"#
        let m = try message(pack)
        let series = m.readings.filter { $0.signal == .acceleration }
        #expect(series.map(\.field) == ["band1:accX", "band1:accY", "band1:accZ"])
        #expect(approximatelyEqual(series[0].value, .series([1, 0])))
        #expect(approximatelyEqual(series[1].value, .series([0, 1])))
        #expect(m.sampleTimes == [1763856000, 1763856000.02])
        #expect(m.readings.contains { $0.signal == .battery && $0.value == .number(81) })
        // Without the three axes at the same times, it is not a batch.
        #expect(error(#"[{"bt":1763856000,"n":"accX","u":"g","v":1},{"n":"accY","u":"g","v":1}]"#)?.code == .missingField)
        #expect(error(#"[{"bt":1763856000,"n":"voltage","u":"V","v":1}]"#)?.code == .missingField)
    }

    @Test func edgeImpulseFilesUseTheirIntervalAndIssueTime() throws {
        let file = #"{"protected":{"ver":"v1","alg":"none","iat":1000},"signature":"0","payload":{"interval_ms":20,"#
            + #""sensors":[{"name":"accX","units":"g"},{"name":"accY","units":"g"},{"name":"accZ","units":"g"},{"name":"gyrX","units":"dps"}],"#
            + #""values":[[0.1,0.2,0.3,5],[0.4,0.5,0.6,6]]}}"#
        let m = try message(file)
        #expect(m.readings.map(\.field) == ["accX", "accY", "accZ"])
        #expect(m.readings[2].value == .series([0.3, 0.6]))
        #expect(m.sampleTimes == [1000, 1000.02])
        let bad = #"{"protected":{"iat":1000},"payload":{"interval_ms":20,"sensors":[{"name":"accX","units":"g"},{"name":"accY","units":"g"},{"name":"accZ","units":"g"}],"values":[[0.1,0.2]]}}"#
        #expect(error(bad)?.code == .outOfRange)
        let noTime = #"{"payload":{"interval_ms":20,"sensors":[{"name":"accX","units":"g"},{"name":"accY","units":"g"},{"name":"accZ","units":"g"}],"values":[[0.1,0.2,0.3]]}}"#
        #expect(error(noTime)?.code == .missingField)
    }

    @Test func aSisFallStyleBatchAtFiftyHertzDecodes() throws {
        var xs: [String] = [], ys: [String] = [], zs: [String] = []
        for i in 0..<25 { xs.append("\(Double(i) * 0.01)"); ys.append("-1.0"); zs.append("0.05") }
        let text = #"{"t0":1763856000.123,"hz":50,"unit":"g","x":[\#(xs.joined(separator: ","))],"y":[\#(ys.joined(separator: ","))],"z":[\#(zs.joined(separator: ","))]}"#
        let m = try message(text)
        #expect(m.sampleTimes?.count == 25)
        #expect(abs((m.sampleTimes?.last ?? 0) - (1763856000.123 + 24.0 / 50)) < 1e-9)
    }
}
