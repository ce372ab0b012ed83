import CareSupport
@testable import Escalation
import Testing

/// The curl transport: the request reaches the server byte for byte, nothing secret is on curl's command line, and
/// curl's failures are classified as URLSession's were.
@Suite("HTTP client over curl")
struct HTTPClientTests {
    static let token = "tk_AbCdEf123456"

    @Test func bodyWithQuotesBackslashesLineBreaksAndUTF8ArrivesIntact() async throws {
        let server = TestHTTPServer { _ in .init(201, #"{"ok":"Zoë \"✓\""}"#) }
        defer { server.stop() }
        let http = HTTPClient(notifier: "t", secrets: [Secret(Self.token)])
        let body = "{\"a\":\"q\\\"uote \\\\ back\"}\nline2\r\n\ttab Zoë – 日本 🚑 @/etc/passwd \\n literal"
        let r = try await http.send("PUT", server.baseURL + "/x/%21room?y=1",
                                    headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(Self.token)"),
                                              ("X-Quoted", #"a "b" \c"#)],
                                    body: Array(body.utf8), timeout: .seconds(10))
        #expect(r.status == 201)
        #expect(r.text == #"{"ok":"Zoë \"✓\""}"#)
        let req = try #require(server.requests.first)
        #expect(req.method == "PUT" && req.path == "/x/%21room?y=1")
        #expect(req.body == body)
        #expect(req.header("Authorization") == "Bearer \(Self.token)")
        #expect(req.header("X-Quoted") == #"a "b" \c"#)
        #expect(req.header("Content-Type") == "application/json")
    }

    @Test func nothingSecretOnTheCommandLine() {
        let args = HTTPClient.curlArguments(maxTime: 2.5)
        #expect(args.first == "--disable")
        #expect(args.contains("2.500"))
        let config = String(decoding: HTTPClient.curlConfig(method: "POST", url: "https://x.example/?token=\(Self.token)",
                                                            headers: [("Authorization", "Bearer \(Self.token)")],
                                                            body: Array("k=\(Self.token)".utf8)), as: UTF8.self)
        #expect(config.contains(Self.token))
        #expect(!args.joined(separator: " ").contains(Self.token))
        #expect(HTTPClient.curlArguments(maxTime: 0.05).contains("0.050"))
    }

    @Test func headerValuesCannotStartAnotherHeader() {
        let config = String(decoding: HTTPClient.curlConfig(method: "GET", url: "http://h/", headers: [("Title", "a\r\nX-Evil: 1"), ("E", "")],
                                                            body: nil), as: UTF8.self)
        #expect(config.contains(#"header = "Title: a X-Evil: 1""#))
        #expect(config.contains(#"header = "E;""#))
    }

    @Test func aRefusedConnectionIsRetryableAndRedacted() async throws {
        let server = TestHTTPServer()
        let url = server.baseURL
        server.stop()
        let http = HTTPClient(notifier: "t", secrets: [Secret(Self.token)])
        await #expect(throws: NotifierError.self) { try await http.send("GET", url + "/?token=\(Self.token)", timeout: .seconds(5)) }
        do {
            _ = try await http.send("GET", url + "/p?token=\(Self.token)", timeout: .seconds(5))
        } catch {
            #expect(error.disposition == .retryable)
            #expect(!error.message.contains(Self.token))
            #expect(error.message.contains("curl exit 7"), "\(error.message)")
        }
    }

    @Test func aServerThatNeverAnswersTimesOutWithTheUsualMessage() async throws {
        let server = TestHTTPServer { _ in nil }
        defer { server.stop() }
        let http = HTTPClient(notifier: "t", secrets: [])
        let start = ContinuousClock.now
        do {
            _ = try await http.send("GET", server.baseURL + "/", timeout: .milliseconds(300))
            Issue.record("should time out")
        } catch {
            #expect(error.disposition == .retryable)
            #expect(error.message.hasSuffix("no answer within 0.3 seconds"), "\(error.message)")
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func statusMapping() async throws {
        for (status, disposition) in [(503, NotifierError.Disposition.retryable), (429, .retryable), (401, .permanent), (404, .permanent), (302, .permanent)] {
            let server = TestHTTPServer { _ in .init(status, "nope") }
            defer { server.stop() }
            do {
                _ = try await HTTPClient(notifier: "t", secrets: []).send("GET", server.baseURL + "/", timeout: .seconds(5))
                Issue.record("\(status) should throw")
            } catch {
                #expect(error.disposition == disposition && error.status == status, "\(status): \(error)")
            }
        }
    }

    @Test func missingCurlIsPermanentAndSaysWhatToInstall() async {
        let http = HTTPClient(notifier: "t", secrets: [], curl: "/nonexistent/curl")
        do {
            _ = try await http.send("GET", "http://127.0.0.1:1/", timeout: .seconds(2))
            Issue.record("should fail")
        } catch {
            #expect(error.disposition == .permanent)
            #expect(error.message.contains("install the curl package"), "\(error.message)")
        }
    }

    @Test func invalidURLsArePermanent() async {
        for url in ["ftp://x.example/", "HTTP//x", "http://a b/", "mailto:x@y"] {
            do {
                _ = try await HTTPClient(notifier: "t", secrets: []).send("GET", url, timeout: .seconds(2))
                Issue.record("\(url) should fail")
            } catch {
                #expect(error.disposition == .permanent, "\(url): \(error)")
            }
        }
    }

    @Test func urlsAreCheckedAndEncodedLikeFoundationDid() {
        #expect(HTTPURL.normalized("https://ntfy.sh") == "https://ntfy.sh")
        #expect(HTTPURL.normalized("http://u:p%40@[::1]:8080/a b?c=ü#f") == "http://u:p%40@[::1]:8080/a%20b?c=%C3%BC#f")
        #expect(HTTPURL.normalized("http://127.0.0.1:99/x") != nil)
        #expect(HTTPURL.normalized("http:///path") == nil)
        #expect(HTTPURL.normalized("http:///path", requireHost: false) == "http:///path")
        #expect(HTTPURL.normalized("http://host:8o/") == nil)
        #expect(HTTPURL.normalized("ftp://host/") == nil)
        #expect(HTTPURL.normalized("http://ho st/") == nil)
    }

    @Test func curlsStandardErrorIsParsed() {
        let e = HTTPClient.parseStandardError(Array("curl: (7) Failed to connect\n\ncareMonitord-http-status=000\n".utf8))
        #expect(e.status == 0 && e.message == "Failed to connect")
        let ok = HTTPClient.parseStandardError(Array("\ncareMonitord-http-status=204\n".utf8))
        #expect(ok.status == 204 && ok.message == "")
    }
}
