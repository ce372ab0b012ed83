import CareSupport
import Foundation
import Testing

/// The one pipeline (`MonitoredHome`) seen through `replay`: escalation runs as the capture goes, on its clock.
@Suite("a monitored home on the capture's clock")
struct HomeTests {
    static func line(_ time: String, _ topic: String, _ payload: String) -> String {
        let o: JSONObject = ["tst": .string(time + "Z+0000"), "topic": .string(topic), "qos": 1, "retain": 0,
                             "payloadlen": .number(Double(payload.utf8.count)), "payload": .string(payload)]
        return JSONWriter.serialize(.object(o))
    }

    static let seeds = CLI.repository.appendingPathComponent("seeds")

    /// The lines of seed `name`'s capture.
    static func seedLines(_ name: String) throws -> [String] {
        try String(contentsOf: seeds.appendingPathComponent("\(name).capture.ndjson"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }

    /// `replay` of `lines` under seed `config`'s config: its result and its event lines.
    static func replay(_ lines: some Sequence<String>, config: String) throws -> (result: CLI.Result, events: [JSONValue]) {
        let path = try CLI.write(lines.joined(separator: "\n") + "\n", "capture.ndjson", in: try CLI.temporaryDirectory())
        let r = try CLI.run(["replay", "--config", seeds.appendingPathComponent("\(config).config.json").path, path])
        return (r, r.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) })
    }

    /// Ben claims; the front door opens and there is movement inside: the arrival is verified by the home's own
    /// sensors, with no "arrived" answer from anyone, and everyone already paged hears it.
    @Test func replayVerifiesAnArrivalFromTheFrontDoorThenMovementInside() throws {
        let seed = try Self.seedLines("linda-fall")
        // The seed up to Ben's claim at 14:09, then the door and the hallway instead of his "arrived".
        let claim = try #require(seed.firstIndex { $0.contains(#"\"action\":\"claim\""#) })
        let incident = "linda-20261123-140203"
        let capture = seed[...claim] + [
            Self.line("2026-11-23T14:18:30.000000", "zigbee2mqtt/front door", #"{"contact":false,"battery":97}"#),
            Self.line("2026-11-23T14:18:40.000000", "zigbee2mqtt/hallway motion", #"{"occupancy":true,"battery":90}"#),
            Self.line("2026-11-23T14:25:00.000000", "caremonitord/linda/incidents/\(incident)/ack", #"{"member":"ben","action":"resolve"}"#),
        ]
        let (r, events) = try Self.replay(capture, config: "linda-fall")
        #expect(r.code == 0, "\(r.stderr)")
        let arrived = try #require(events.first { $0["state"]?.stringValue == "arrived" }, "no arrival in \(r.stdout)")
        #expect(arrived["time"]?.stringValue == "2026-11-23T14:18:40.000Z")
        #expect(arrived["by"]?.stringValue == "ben")
        #expect(events.contains { $0["type"]?.stringValue == "notification" && $0["member"]?.stringValue == "anna"
                                  && $0["time"]?.stringValue == "2026-11-23T14:18:40.000Z" }, "Anna is not told of the arrival")
        #expect(!events.contains { $0["type"]?.stringValue == "ack" && $0["action"]?.stringValue == "arrived" })
        #expect(events.last { $0["type"]?.stringValue == "incident" }?["state"]?.stringValue == "resolved")
        // One stream in time order: detections, timers, acks and evidence interleaved as they happened.
        let times = events.compactMap { $0["time"]?.stringValue }
        #expect(times == times.sorted(), "event lines out of time order")
    }

    /// The door alone is not an arrival, nor is movement without the door: both are needed after a claim.
    @Test func movementWithoutTheDoorIsNoArrival() throws {
        let seed = try Self.seedLines("linda-fall")
        let claim = try #require(seed.firstIndex { $0.contains(#"\"action\":\"claim\""#) })
        let capture = seed[...claim] + [
            Self.line("2026-11-23T14:18:40.000000", "zigbee2mqtt/hallway motion", #"{"occupancy":true,"battery":90}"#),
        ]
        let (r, _) = try Self.replay(capture, config: "linda-fall")
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""state":"claimed""#))
        #expect(!r.stdout.contains(#""state":"arrived""#), "movement alone counted as an arrival")
    }

    /// `learn` replays through the same home and keeps what the routine learned, which it prints back.
    @Test func learnKeepsTheRoutineInTheStateDirectoryAndPrintsIt() throws {
        let seeds = Self.seeds
        let dir = try CLI.temporaryDirectory()
        let r = try CLI.run(["learn", "--config", seeds.appendingPathComponent("linda-morning.config.json").path,
                             "--state-dir", dir.path, seeds.appendingPathComponent("linda-morning.capture.ndjson").path])
        #expect(r.code == 0, "\(r.stderr)")
        let out = try JSONParser.parse(r.stdout)
        #expect(out["routine"]?["learnedDays"]?.doubleValue == 1, "\(r.stdout)")
        let saved = try JSONParser.parse(String(contentsOfFile: dir.path + "/linda/learned.json", encoding: .utf8))
        #expect(saved["version"]?.doubleValue == 1)
        #expect(saved["routine"] != nil)
    }

    /// Escalation on the capture's clock is deterministic: the seeds, whose lines are not in time order, replay to
    /// the same lines every time, whatever the reader's and the detector thread's timing.
    @Test func replayOfTheSameCaptureGivesTheSameLinesEveryTime() throws {
        let seeds = Self.seeds
        for name in ["linda-fall", "linda-morning"] {
            var outputs: Set<String> = []
            for _ in 0..<8 {
                let r = try CLI.run(["replay", "--config", seeds.appendingPathComponent("\(name).config.json").path,
                                     seeds.appendingPathComponent("\(name).capture.ndjson").path])
                outputs.insert(r.stdout)
            }
            #expect(outputs.count == 1, "\(name): \(outputs.count) different outputs")
        }
    }

    /// Each incident's arrival is seen: the door's state is followed between incidents (an opening is a change from
    /// closed), and a movement counts only after an opening during the same incident.
    @Test func aSecondIncidentsArrivalIsSeenAndAStaleOpeningCountsForNothing() throws {
        func at(_ hhmmss: String) -> String { "2026-11-23T\(hhmmss).000000" }
        func fall(_ t: String) -> String { Self.line(at(t), "zigbee2mqtt/hallway radar", #"{"presence":true,"fall_down_status":"fall"}"#) }
        func ack(_ t: String, _ id: String, _ action: String) -> String {
            Self.line(at(t), "caremonitord/linda/incidents/\(id)/ack", #"{"member":"ben","action":"\#(action)"}"#)
        }
        func door(_ t: String, open: Bool) -> String { Self.line(at(t), "zigbee2mqtt/front door", #"{"contact":\#(!open)}"#) }
        func motion(_ t: String) -> String { Self.line(at(t), "zigbee2mqtt/hallway motion", #"{"occupancy":true}"#) }
        let first = "linda-20261123-140000", second = "linda-20261123-150000", third = "linda-20261123-160000"
        let capture = [
            fall("14:00:00"), ack("14:05:00", first, "claim"), door("14:10:00", open: true), motion("14:10:10"),
            ack("14:20:00", first, "resolve"), door("14:21:00", open: false),
            fall("15:00:00"), ack("15:05:00", second, "claim"), door("15:10:00", open: true), motion("15:10:10"),
            ack("15:20:00", second, "resolve"),
            // Left open after the second: the third incident's claim, then movement with no new opening.
            fall("16:00:00"), ack("16:05:00", third, "claim"), motion("16:10:10"), ack("16:20:00", third, "resolve"),
        ]
        let (r, events) = try Self.replay(capture, config: "linda-fall")
        #expect(r.code == 0, "\(r.stderr)")
        let arrivals = events.filter { $0["state"]?.stringValue == "arrived" }.compactMap { $0["incident"]?.stringValue }
        #expect(arrivals == [first, second], "arrivals: \(arrivals)\n\(r.stdout)")
    }

    /// She stays in bed and nothing reports for a while: `not-up` becomes due at 08:12 in the quiet, and Anna's claim
    /// at 08:17 is the very next message. The detection opens its incident at 08:12, so the claim finds it, as it would
    /// live (it used to be read first, for an incident not yet open, and dropped).
    /// Also when the answer is the capture's last message.
    @Test(arguments: [false, true])
    func anAnswerRightAfterAQuietFindsTheIncidentThatOpenedInIt(answerIsTheLastMessage: Bool) throws {
        let seed = try Self.seedLines("not-up-in-the-morning")
        // No thermometer readings from 08:00 to the claim: nothing moves the capture's clock there.
        var quiet = seed.filter { !($0.contains("living room temp") && $0.contains("2026-11-23T08:") && $0 < "{\"tst\":\"2026-11-23T08:17") }
        if answerIsTheLastMessage, let claim = quiet.firstIndex(where: { $0.contains(#"\"action\":\"claim\""#) }) {
            quiet = Array(quiet[...claim])
        }
        #expect(quiet.count < seed.count)
        let (r, events) = try Self.replay(quiet, config: "not-up-in-the-morning")
        #expect(r.code == 0, "\(r.stderr)")
        let opened = try #require(events.first { $0["type"]?.stringValue == "incident" && $0["state"]?.stringValue == "opened" }, "\(r.stdout)")
        #expect(opened["incident"]?.stringValue == "linda-20261123-081201")
        let claimed = events.first { $0["type"]?.stringValue == "incident" && $0["state"]?.stringValue == "claimed" }
        #expect(claimed?["time"]?.stringValue == "2026-11-23T08:17:00.000Z", "the claim was dropped: \(r.stdout)")
        let times = events.compactMap { $0["time"]?.stringValue }
        #expect(times == times.sorted(), "event lines out of time order")
    }

    /// Anna claims the `not-up` and lets herself in: the front door is the first sign of life. That is her arriving,
    /// not Linda getting up, so the incident is not stood down (nobody is told "recovery detected"): it shows her
    /// arrival and waits for her answer. (Linda getting up herself still stands it down: the seed.)
    @Test func aCarerLettingHerselfInIsAnArrivalNotARecovery() throws {
        let seed = try Self.seedLines("not-up-in-the-morning")
        // The seed up to Anna's claim at 08:17 (Linda never gets up), then Anna at the door and in the hall at 08:30.
        let claim = try #require(seed.firstIndex { $0.contains(#"\"action\":\"claim\""#) })
        let capture = seed[...claim].filter { $0 < "{\"tst\":\"2026-11-23T08:30" } + [
            Self.line("2026-11-23T08:30:00.000000", "zigbee2mqtt/front door", #"{"contact":false}"#),
            Self.line("2026-11-23T08:30:10.000000", "zigbee2mqtt/hall motion", #"{"occupancy":true}"#),
        ]
        let (r, events) = try Self.replay(capture, config: "not-up-in-the-morning")
        #expect(r.code == 0, "\(r.stderr)")
        #expect(events.contains { $0["kind"]?.stringValue == "not-up" && $0["state"]?.stringValue == "cleared" })
        #expect(!events.contains { $0["state"]?.stringValue == "stood-down" }, "stood down at Anna's arrival: \(r.stdout)")
        #expect(!r.stdout.contains("recovery detected"))
        let arrived = try #require(events.first { $0["state"]?.stringValue == "arrived" }, "\(r.stdout)")
        #expect(arrived["by"]?.stringValue == "anna")
        #expect(arrived["time"]?.stringValue == "2026-11-23T08:30:10.000Z")
    }
}
