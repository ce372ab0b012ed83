import CareSupport
import Foundation
import Testing
import TestSupport

/// `careMonitord report`: one self-contained page, opened in a real browser (headless Chromium).
@Suite("careMonitord report")
struct ReportTests {
    static let chromium = TestBroker.findProgram("chromium")

    /// The fall the circle answered late: the report of its day, written where a person can look at it.
    static func report(_ seed: String, into dir: URL) throws -> (path: String, result: CLI.Result) {
        let seeds = CLI.repository.appendingPathComponent("seeds")
        let out = dir.appendingPathComponent("\(seed).html").path
        let r = try CLI.run(["report", "--config", seeds.appendingPathComponent("\(seed).config.json").path, "--out", out,
                             seeds.appendingPathComponent("\(seed).capture.ndjson").path])
        return (out, r)
    }

    @Test func reportIsOneFileThatFetchesNothing() throws {
        let (path, r) = try Self.report("fall-no-answer-tier1", into: try CLI.temporaryDirectory())
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.summary?["days"] == 1 && r.summary?["incidents"] == 1, "\(r.stderr)")
        let html = try String(contentsOfFile: path, encoding: .utf8)
        for fetching in ["<script", "<link", "src=", "href=", "url(", "@import"] {
            #expect(!html.contains(fetching), "the report holds \(fetching)")
        }
        #expect(html.contains("missed target") && html.contains("within target"), "answered late, attended in time")
    }

    /// Chromium, with every host name unresolvable, renders the page without a console message and shows a day with
    /// its activity, the fall marked, the incident with every page and answer and its response times. The
    /// screenshot is kept in .build/reports/ for a person to look at.
    @Test(.enabled(if: ReportTests.chromium != nil, "needs the Debian package chromium (tools/install-deps installs it)"))
    func chromiumRendersTheReportWithNoConsoleMessageAndEveryPart() throws {
        let dir = try CLI.temporaryDirectory()
        let (path, r) = try Self.report("fall-no-answer-tier1", into: dir)
        #expect(r.code == 0, "\(r.stderr)")
        let browser = try #require(Self.chromium)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                      "--user-data-dir=\(dir.appendingPathComponent("profile").path)", "--host-resolver-rules=MAP * ~NOTFOUND",
                      "--enable-logging=stderr", "--v=0"]
        let dom = try ChildProcess.run(executable: browser, arguments: common + ["--dump-dom", "file://\(path)"],
                                       outputLimit: 1 << 22, timeout: .seconds(60))
        #expect(dom.status == .exited(0), "\(dom.standardError.text.suffix(2000))")
        let log = dom.standardError.text.split(separator: "\n")
        #expect(!log.contains { $0.contains(":CONSOLE") || $0.contains("Failed to load resource") },
                "console: \(log.filter { $0.contains("CONSOLE") })")
        let page = dom.standardOutput.text
        for part in ["<section class=\"day\"", "Monday 23 November 2026", "<svg class=\"timeline\"", "class=\"activity\"",
                     "<svg class=\"acceleration\"", "Learned routine", "First activity",
                     "class=\"detection-mark\"", "<div class=\"incident\"", "resolved by ben", "answered: claim",
                     "notified (tier 2)", "first answer 7 min", "missed target", "arrived 13 min", "within target"] {
            #expect(page.contains(part), "the rendered page has no \(part)")
        }
        let shots = CLI.repository.appendingPathComponent(".build/reports")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let shot = shots.appendingPathComponent("fall-no-answer-tier1.png").path
        let s = try ChildProcess.run(executable: browser, arguments: common + ["--screenshot=\(shot)", "--window-size=1150,1400", "file://\(path)"],
                                     outputLimit: 1 << 22, timeout: .seconds(60))
        #expect(s.status == .exited(0) && FileManager.default.fileExists(atPath: shot), "\(s.standardError.text.suffix(1000))")
    }

    /// With `--state-dir` the incidents are a running daemon's, from its journal; no capture is needed.
    @Test func reportOfADaemonsJournalShowsItsIncidentsAndResponseTimes() async throws {
        let dir = try CLI.temporaryDirectory()
        let state = dir.appendingPathComponent("state").path
        let configPath = try CLI.write(circleConfig(port: 1883), "c.json", in: dir)
        try await CircleCommandTests.journalOneAnsweredFall(config: configPath, state: state)
        let out = dir.appendingPathComponent("daemon.html").path
        let r = try CLI.run(["report", "--config", configPath, "--state-dir", state, "--out", out])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.summary?["incidents"] == 1, "\(r.stderr)")
        let html = try String(contentsOfFile: out, encoding: .utf8)
        #expect(html.contains("first answer 30 s") && html.contains("within target") && html.contains("answered: resolve"), "\(html.suffix(3000))")
    }
}
