import CareSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SensorIngest

@Suite("Capture lines")
struct CaptureLineTests {
    func read(_ line: String) -> (topic: String, payload: String, time: Double, qos: Int, retain: Bool)? {
        let reader = CaptureLineReader()
        var l = line
        return l.withUTF8 { buf in
            let r = reader.read(UnsafeRawBufferPointer(buf)) { v in
                (String(decoding: v.topic, as: UTF8.self), String(decoding: v.payload, as: UTF8.self), v.time, v.qos, v.retain)
            }
            return try? r.get()
        }
    }

    @Test func readsMosquittoSubJLinesWithEscapedPayload() throws {
        // Exactly as mosquitto_sub -F %j printed it on this machine (mosquitto 2.0.11).
        let line = #"{"tst":"2026-11-23T19:27:24.465677Z+0000","topic":"t/a b","qos":0,"retain":0,"payloadlen":23,"payload":"{\"x\":[1,2],\"s\":\"é\\\"q\"}"}"#
        let r = try #require(read(line))
        #expect(r.topic == "t/a b")
        #expect(r.payload == #"{"x":[1,2],"s":"é\"q"}"#)
        #expect(abs(r.time - 1_795_462_044.465677) < 1e-6)
    }

    @Test func readsControlCharacterEscapes() throws {
        let r = try #require(read(#"{"tst":"2026-11-23T19:27:24.473415Z+0000","topic":"t/bin","qos":1,"retain":1,"payloadlen":5,"payload":"a\u0001b\nc"}"#))
        #expect(Array(r.payload.utf8) == [0x61, 0x01, 0x62, 0x0A, 0x63])
        #expect(r.qos == 1 && r.retain)
    }

    @Test func readsEmbeddedJSONPayloadsOfCapitalJFormat() throws {
        let r = try #require(read(#"{"tst":"2026-11-23T19:27:24.465678Z+0000","topic":"t/a","qos":0,"retain":0,"payloadlen":23,"payload":{"x":[1,2],"s":"é\"q"}}"#))
        #expect(r.payload == #"{"x":[1,2],"s":"é\"q"}"#)
        let n = try #require(read(#"{"tst":"2026-11-23T19:27:24.479817Z+0000","topic":"t/num","qos":0,"retain":0,"payloadlen":4,"payload":21.5}"#))
        #expect(n.payload == "21.5")
    }

    @Test func rejectsLinesThatAreNotCaptureLines() {
        #expect(read("") == nil)
        #expect(read("hello") == nil)
        #expect(read(#"{"topic":"a","payload":"b"}"#) == nil, "no tst")
        #expect(read(#"{"tst":"2026-11-23T19:27:24Z","payload":"b"}"#) == nil, "no topic")
        #expect(read(#"{"tst":"2026-11-23T19:27:24Z","topic":"a","payload":"b"#) == nil, "truncated")
        #expect(read(#"{"tst":"yesterday","topic":"a","payload":"b"}"#) == nil, "bad tst")
    }

    @Test func formatRoundTripsThroughTheReader() throws {
        let payloads: [[UInt8]] = [Array(#"{"occupancy":true,"name":"dining room \"A\""}"#.utf8), Array("ON".utf8),
                                   [0x61, 0x00, 0x0A, 0xFF, 0x22, 0x5C], Array("é ☃ 😀".utf8)]
        for p in payloads {
            let line = CaptureLineReader.format(time: 1_763_856_000.25, topic: "zigbee2mqtt/dining room/ac power", qos: 1, retain: false, payload: p)
            let reader = CaptureLineReader()
            var l = line
            let got = l.withUTF8 { buf in
                try? reader.read(UnsafeRawBufferPointer(buf)) { v in (Array(v.payload), String(decoding: v.topic, as: UTF8.self), v.time) }.get()
            }
            let g = try #require(got, "line did not read back: \(line)")
            if p.contains(0xFF) {
                // Invalid UTF-8 is written byte for byte as \u00XX escapes: each byte comes back as a code point.
                #expect(g.0.count >= p.count)
            } else {
                #expect(g.0 == p)
            }
            #expect(g.1 == "zigbee2mqtt/dining room/ac power")
            #expect(abs(g.2 - 1_763_856_000.25) < 1e-6)
        }
    }
}

@Suite("Accelerometer fast path")
struct AccelFastPathTests {
    func scan(_ text: String) -> (AccelFastPath.Batch, [Double], [Double], [Double], [Double])? {
        let fast = AccelFastPath()
        var t = text
        return t.withUTF8 { buf -> (AccelFastPath.Batch, [Double], [Double], [Double], [Double])? in
            guard let b = fast.scan(UnsafeRawBufferPointer(buf)) else { return nil }
            let xs = (0..<b.count).map { fast.x[$0] * b.scale }
            let ys = (0..<b.count).map { fast.y[$0] * b.scale }
            let zs = (0..<b.count).map { fast.z[$0] * b.scale }
            let ts = (0..<b.count).map { fast.time(of: $0, in: b) }
            return (b, xs, ys, zs, ts)
        }
    }

    @Test func decodesARegularBatch() throws {
        let r = try #require(scan(#"{"t0":1763856000.5,"hz":200,"unit":"g","x":[0.1,-0.25,1e-3],"y":[-1,-0.98,-1.02],"z":[0.05,0,0.0001]}"#))
        #expect(r.0.count == 3)
        #expect(r.1 == [0.1, -0.25, 0.001])
        #expect(r.2 == [-1, -0.98, -1.02])
        #expect(r.3 == [0.05, 0, 0.0001])
        #expect(zip(r.4, [1763856000.5, 1763856000.505, 1763856000.51]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func convertsMetresPerSecondSquaredToG() throws {
        let r = try #require(scan(#"{"hz":50,"t0":10,"unit":"m/s2","x":[9.80665],"y":[0],"z":[-19.6133]}"#))
        #expect(abs(r.1[0] - 1) < 1e-12)
        #expect(abs(r.3[0] + 2) < 1e-12)
    }

    @Test func decodesIrregularTimesAndSingleSamples() throws {
        let r = try #require(scan(#"{"t":[1.0,1.05,1.2],"x":[1,2,3],"y":[4,5,6],"z":[7,8,9]}"#))
        #expect(r.4 == [1.0, 1.05, 1.2])
        let s = try #require(scan(#"{"t":5.5,"x":0.5,"y":-1,"z":0.25}"#))
        #expect(s.0.count == 1 && s.1 == [0.5] && s.4 == [5.5])
    }

    @Test func parsesNumbersExactlyLikeTheStandardLibrary() throws {
        let texts = ["0", "-0.5", "123456789.123456789", "1.7976931348623157e308", "5e-324", "0.1", "-9.80665",
                     "12345678901234567890", "3.14159265358979323846264338327950288", "1E3", "0.000001"]
        for t in texts {
            let r = try #require(scan("{\"t0\":0,\"hz\":1,\"x\":[\(t)],\"y\":[0],\"z\":[0]}"), "\(t) was declined")
            #expect(r.1[0] == Double(t)!, "\(t) parsed as \(r.1[0])")
        }
    }

    @Test func declinesWhatItDoesNotUnderstandSoTheGeneralDecoderReportsIt() {
        #expect(scan(#"{"t0":1,"hz":200,"x":[1,2],"y":[1],"z":[1,2]}"#) == nil, "unequal lengths")
        #expect(scan(#"{"t0":1,"hz":200,"x":[1,2],"y":[1,2]}"#) == nil, "missing axis")
        #expect(scan(#"{"t0":1,"hz":0,"x":[1],"y":[1],"z":[1]}"#) == nil, "zero rate")
        #expect(scan(#"{"t0":1,"hz":200,"unit":"furlong","x":[1],"y":[1],"z":[1]}"#) == nil, "unknown unit")
        #expect(scan(#"[{"bn":"dev","n":"x","v":1}]"#) == nil, "SenML")
        #expect(scan(#"{"t0":1,"hz":200,"x":[1,"#) == nil, "truncated")
        #expect(scan(#"{"t0":1,"hz":200,"x":[1],"y":[1],"z":[1]} trailing"#) == nil, "trailing garbage")
    }

    @Test func skipsUnknownKeysOfAnyShape() throws {
        let r = try #require(scan(#"{"device":{"id":"band1","fw":[1,"a]"]},"t0":1,"hz":100,"x":[1],"y":[2],"z":[3],"note":"x\"y"}"#))
        #expect(r.1 == [1] && r.2 == [2] && r.3 == [3])
    }

    @Test func progressLineSaysHowFarHowManyHowFastAndHowLongIsLeft() {
        let text = ReplayProgress.line(label: "learn", fraction: 0.25, messages: 5000, file: (2, 3), elapsed: 10)
        #expect(text == "learn: 25% (file 2/3), 5000 messages, 500 msg/s, 0:30 left")
    }

    static func scratch() -> String {
        var template = Array("/tmp/cm-rotate-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template)!)
    }

    /// London is UTC+1 in summer: midnight there is 23:00 UTC, and the names are in her local time.
    @Test func dailyRotationStartsAFileAtTheLocalMidnightNamedAfterItsFirstMessage() throws {
        let dir = Self.scratch()
        let w = try CaptureWriter(path: dir + "/home.ndjson", rotation: CaptureRotation(dailyZone: "Europe/London"))
        let t0 = try #require(Timestamp.parse("2026-07-01T22:30:00Z"))
        for (i, dt) in [0.0, 1200, 1900, 3000].enumerated() {
            try w.append(time: t0 + dt, topic: "zigbee2mqtt/hall motion", qos: 0, retain: false, payload: Array("{\"n\":\(i)}".utf8))
        }
        try w.close()
        #expect(w.files == [dir + "/home-20260701-233000.ndjson", dir + "/home-20260702-000140.ndjson"])
        let lines = try w.files.map { f in DurableFile.read(f).map { String(decoding: $0, as: UTF8.self).split(separator: "\n").count } }
        #expect(lines == [2, 2])
    }

    @Test func sizeRotationNeverLetsAFileGrowPastItsLimit() throws {
        let dir = Self.scratch()
        let w = try CaptureWriter(path: dir + "/rec.ndjson", rotation: CaptureRotation(maximumBytes: 1024))
        let payload = Array(String(repeating: "x", count: 300).utf8)
        for i in 0..<10 {
            try w.append(time: 1_795_392_000 + Double(i), topic: "t/\(i)", qos: 1, retain: false, payload: payload)
        }
        try w.close()
        let lineBytes = CaptureLineReader.format(time: 1_795_392_000, topic: "t/0", qos: 1, retain: false, payload: payload).utf8.count + 1
        let perFile = 1024 / lineBytes
        #expect(w.files.count == (10 + perFile - 1) / perFile, "\(w.files)")
        #expect(w.files.first == dir + "/rec-20261123-000000.ndjson")
        var total = 0
        for f in w.files {
            let bytes = try #require(DurableFile.read(f))
            #expect(bytes.count <= 1024)
            total += bytes.split(separator: 0x0A).count
        }
        #expect(total == 10)
    }
}
