import Testing
@testable import CareSupport

@Suite("JSON")
struct JSONTests {
    @Test func keepsMemberOrderAndExactNumberText() throws {
        let v = try JSONParser.parse(#"{"b": 21.50, "a": [1, -0.0, 1e3], "c": {"d": null, "e": true}}"#)
        let o = try #require(v.objectValue)
        #expect(o.keys == ["b", "a", "c"])
        if case .number(let n)? = o["b"] { #expect(n.text == "21.50" && n.value == 21.5) } else { Issue.record("b") }
        #expect(JSONWriter.serialize(v) == #"{"b":21.50,"a":[1,-0.0,1e3],"c":{"d":null,"e":true}}"#)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let v = try JSONParser.parse(#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#)
        #expect(v.stringValue == "a\"b\\c/d\né😀")
    }

    @Test func syntaxErrorsNameLineAndColumn() {
        do {
            _ = try JSONParser.parse("{\n  \"person\": {\"id\": \"linda\",}\n}")
            Issue.record("accepted a trailing comma")
        } catch {
            #expect(error.position.line == 2)
            #expect(error.position.column == 28)
            #expect(error.message.contains("quoted member name"))
        }
    }

    @Test func recordsThePositionOfEveryValueByPath() throws {
        let doc = try JSONParser.parseDocument(Array("{\"sources\": [\n  {\"preset\": \"zigbee2mqtt\"},\n  {\"topic\": 5}\n]}".utf8))
        #expect(doc.position(of: "sources[1].topic") == JSONPosition(line: 3, column: 13))
        #expect(doc.position(of: "sources[0]") == JSONPosition(line: 2, column: 3))
    }

    @Test func rejectsHostileInputWithTypedErrors() {
        let deep = String(repeating: "[", count: 10_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
        for bad in ["", "{", "[1,]", "01", "1.", "-", "\"\\x\"", "tru", "{\"a\" 1}", "\"\u{01}\"", "[1] 2", "\"\\ud800\""] {
            #expect(throws: JSONSyntaxError.self, "\(bad)") { try JSONParser.parse(bad) }
        }
    }
}

@Suite("Timestamps")
struct TimestampTests {
    @Test func parsesMosquittoAndISOForms() {
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == 0)
        #expect(abs(Timestamp.parse("2026-11-23T00:01:02.320177Z+0000")! - 1_795_392_062.320177) < 1e-6)
        #expect(Timestamp.parse("2026-11-23T01:01:02+01:00") == 1_795_392_062)
        #expect(Timestamp.parse("2026-11-23 00:01:02") == 1_795_392_062)
        #expect(Timestamp.parse("2024-02-29T12:00:00-0530") == 1_709_227_800)
        #expect(Timestamp.parse("2026-13-01T00:00:00Z") == nil)
        #expect(Timestamp.parse("not a time at all!!") == nil)
    }

    @Test func formatsTheInternetMessageFormatsDateInUTC() {
        #expect(Timestamp.rfc5322(milliseconds: 1_795_442_523_125) == "Mon, 23 Nov 2026 14:02:03 +0000")
        #expect(Timestamp.rfc5322(milliseconds: 0) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(Timestamp.rfc5322(milliseconds: -500) == "Wed, 31 Dec 1969 23:59:59 +0000")
        #expect(Timestamp.rfc5322(milliseconds: 1_709_164_800_000) == "Thu, 29 Feb 2024 00:00:00 +0000")
    }

    @Test func formatsRFC3339WithMillisecondsAndMosquittoTST() {
        #expect(Timestamp.rfc3339(1_795_442_523.125) == "2026-11-23T14:02:03.125Z")
        #expect(Timestamp.rfc3339(-0.5) == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp.mosquittoTST(1_795_392_062.320177) == "2026-11-23T00:01:02.320177Z+0000")
    }

    @Test func daysRoundTripAcrossCenturies() {
        for d in stride(from: -800_000, through: 800_000, by: 997) {
            let c = Timestamp.civilFromDays(d)
            #expect(Timestamp.daysFromCivil(year: c.year, month: c.month, day: c.day) == d)
        }
    }
}

@Suite("Timestamps to the millisecond")
struct TimestampMillisecondTests {
    @Test func millisecondsThatAreNotExactInBinaryPrintAsWritten() {
        // 1_795_442_523.123 is not exact in binary64: truncating its product with 1000 would print .122.
        #expect(Timestamp.rfc3339(1_795_442_523.123) == "2026-11-23T14:02:03.123Z")
        #expect(Timestamp.rfc3339(milliseconds: 1_795_442_523_123) == "2026-11-23T14:02:03.123Z")
        #expect(Timestamp.rfc3339(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
    }
}
