import CareSupport
#if canImport(Glibc)
import Glibc
#endif

struct HTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]
    /// The `Retry-After` header in seconds (a 429 or 503), when the server sent one as a number.
    var retryAfterSeconds: Int? = nil
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// The HTTP notifiers' transport: the `curl` program (Debian package `curl`), one process per request, so that the
/// daemon links neither Foundation nor libcurl (the idle footprint). The whole request (URL, headers with their
/// tokens, body) goes to curl through a config on its standard input (`--config -`), never on its command line,
/// which any local user can read in /proc. A hard deadline on every request (curl's `--max-time`, and the process
/// is killed shortly after if it is still there); status codes mapped to retryable or permanent; every message
/// passed through `Redact` with the instance's secrets.
final class HTTPClient: Sendable {
    let notifier: String
    let secrets: [Secret]
    /// The program run; tests point it elsewhere to see a missing curl.
    let curl: String

    /// Bytes of response body kept; the rest is read and dropped.
    static let responseLimit = 1 << 20

    /// `secrets` are redacted from every message; pass the configured URLs too, so that tokens inside them are.
    init(notifier: String, secrets: [Secret], urls: [String] = [], curl: String = "curl") {
        self.notifier = notifier
        self.curl = curl
        self.secrets = (secrets + urls.flatMap(Redact.secrets(inURL:))).filter { !$0.reveal().isEmpty }
    }

    func redact(_ s: String) -> String { Redact.text(s, secrets: secrets) }

    func fail(_ d: NotifierError.Disposition, _ m: String, status: Int? = nil) -> NotifierError {
        NotifierError(notifier: notifier, disposition: d, message: redact(m), status: status)
    }

    /// Sends one request; 2xx returns, anything else throws a classified error.
    func send(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
              timeout: Duration) async throws(NotifierError) -> HTTPResponse {
        guard let target = HTTPURL.normalized(url, requireHost: false) else {
            throw fail(.permanent, "invalid URL \(url)")
        }
        if let body, body.contains(0) {
            throw fail(.permanent, "\(method) \(url): the request body contains a NUL byte, which curl's config cannot carry")
        }
        let seconds = max(0.05, timeout.secondsDouble)
        let config = Self.curlConfig(method: method, url: target, headers: headers, body: body)
        let result: ProcessResult
        do {
            // curl stops itself at --max-time; the runner's timeout only catches a curl that does not.
            result = try await ProgramRunner.run(curl, arguments: Self.curlArguments(maxTime: seconds),
                                                 environment: Self.curlEnvironment(), input: config,
                                                 timeout: timeout + .seconds(2), outputLimit: Self.responseLimit)
        } catch {
            if error.code == .notFound {
                throw fail(.permanent, "\(method) \(url): the curl program was not found: install the curl package (apt-get install curl)")
            }
            throw fail(.permanent, "\(method) \(url): cannot run curl: \(error.message)")
        }
        let r = try classifyTransport(method, url, timeout: timeout, result)
        switch r.status {
        case 200..<300: return r
        case 408, 425, 429, 500..<600:
            var e = fail(.retryable, "\(method) \(url) answered HTTP \(r.status): \(snippet(r))", status: r.status)
            e.retryAfter = r.retryAfterSeconds.map { .seconds($0) }
            throw e
        case 401, 403:
            throw fail(.permanent, "\(method) \(url) answered HTTP \(r.status): the token or password was refused; check the secret. \(snippet(r))", status: r.status)
        default:
            throw fail(.permanent, "\(method) \(url) answered HTTP \(r.status): \(snippet(r))", status: r.status)
        }
    }

    /// curl's outcome as a response (any status) or a transport error: a timeout, a connection that failed... are
    /// retryable (as they were with URLSession); a URL or protocol curl refuses is permanent.
    func classifyTransport(_ method: String, _ url: String, timeout: Duration,
                           _ p: ProcessResult) throws(NotifierError) -> HTTPResponse {
        let (status, message, retryAfter) = Self.parseStandardError(p.standardError.bytes)
        if p.timedOut {
            throw fail(.retryable, "\(method) \(url): no answer within \(timeout)")
        }
        guard case .exited(let code) = p.status else {
            throw fail(.retryable, "\(method) \(url): curl \(p.status)")
        }
        let detail = message.isEmpty ? "curl exited with \(code)" : "\(message) (curl exit \(code))"
        switch code {
        case 0:
            guard let status, status >= 100 else {
                throw fail(.retryable, "\(method) \(url): no HTTP status from curl")
            }
            return HTTPResponse(status: status, body: p.standardOutput.bytes, retryAfterSeconds: retryAfter)
        case 28:
            throw fail(.retryable, "\(method) \(url): no answer within \(timeout)")
        // 1 unsupported protocol, 2 failed to initialise, 3 malformed URL, 4 feature not built in,
        // 43 internal error (bad option), 48 unknown option (a curl too old for an option we pass).
        case 1, 2, 3, 4, 43, 48:
            throw fail(.permanent, "\(method) \(url): \(detail)")
        // 6 cannot resolve, 7 cannot connect, 35 TLS handshake, 52 empty reply, 55/56 send/receive error,
        // certificate problems, out of memory...: as URLSession's transport errors were, worth another try.
        default:
            throw fail(.retryable, "\(method) \(url): \(detail)")
        }
    }

    static let statusMarker = "\ncareMonitord-http-status="
    static let retryAfterMarker = "\ncareMonitord-retry-after="

    /// curl's arguments: nothing secret (the request is in the config on standard input).
    static func curlArguments(maxTime seconds: Double) -> [String] {
        let ms = Int((seconds * 1000).rounded(.up))
        let frac = String(ms % 1000)
        return ["--disable",  // first: no ~/.curlrc
                "--config", "-",
                "--silent", "--show-error",
                "--max-time", "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)",
                "--proto", "=http,https",
                "--max-redirs", "0",
                "--globoff",
                "--output", "-",
                "--write-out", "%{stderr}\(retryAfterMarker)%header{retry-after}\(statusMarker)%{http_code}\n"]
    }

    /// curl's environment: the proxy and CA settings libcurl honoured under URLSession, and nothing else (no HOME,
    /// no locale: `--max-time`'s decimal point is the C locale's).
    static func curlEnvironment() -> [String: String] {
        let pass = ["http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
                    "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"]
        var env: [String: String] = [:]
        for k in pass { if let v = getenv(k) { env[k] = String(cString: v) } }
        return env
    }

    /// The request as a curl config (`man curl`, -K): one `option = "value"` a line, values quoted with `\\`, `\"`,
    /// `\n`, `\r`, `\t` escaped; the body as `data-raw` (no `@file` reading, sent byte for byte).
    static func curlConfig(method: String, url: String, headers: [(String, String)], body: [UInt8]?) -> [UInt8] {
        var out: [UInt8] = []
        func line(_ option: String, _ value: [UInt8]) {
            out += Array(option.utf8) + Array(" = \"".utf8)
            out += quote(value)
            out += Array("\"\n".utf8)
        }
        line("url", Array(url.utf8))
        line("request", Array(method.utf8))
        for (k, v) in headers {
            // A header line cannot carry a line break (it would start another header); "K:" alone would remove
            // curl's own header K, "K;" sends it empty.
            let value = String(v.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
            line("header", Array((value.isEmpty ? "\(k);" : "\(k): \(value)").utf8))
        }
        if let body { line("data-raw", body) }
        return out
    }

    static func quote(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            default: out.append(b)
            }
        }
        return out
    }

    /// The status written by `--write-out` (nil if absent) and curl's own message (`curl: (7) Failed to connect…`
    /// without the `curl: (7) ` prefix), from curl's standard error.
    static func parseStandardError(_ bytes: [UInt8]) -> (status: Int?, message: String, retryAfterSeconds: Int?) {
        var text = String(decoding: bytes, as: UTF8.self)
        var status: Int?
        var retryAfter: Int?
        if let r = text.ranges(of: statusMarker).last {
            let rest = text[r.upperBound...]
            status = Int(rest.prefix(while: { $0.isASCII && $0.isNumber }))
            text = String(text[..<r.lowerBound]) + String(rest.drop(while: { $0 != "\n" }))
        }
        if let r = text.ranges(of: retryAfterMarker).last {
            let rest = text[r.upperBound...]
            // Seconds only; an HTTP date is ignored (the backoff applies instead). A day at most.
            retryAfter = Int(rest.prefix(while: { $0.isASCII && $0.isNumber }).prefix(6)).map { min($0, 86_400) }
            text = String(text[..<r.lowerBound]) + String(rest.drop(while: { $0 != "\n" }))
        }
        var lines: [String] = []
        for l in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var s = Substring(l)
            if s.hasPrefix("curl: (") , let close = s.firstIndex(of: ")") {
                s = s[s.index(after: close)...].drop(while: { $0 == " " })
            }
            if !s.isEmpty { lines.append(String(s)) }
        }
        return (status, lines.joined(separator: "; "), retryAfter)
    }

    func snippet(_ r: HTTPResponse) -> String {
        let t = r.text
        return t.count > 200 ? String(t.prefix(200)) + "…" : t
    }

    static func formEncode(_ fields: [(String, String)]) -> [UInt8] {
        Array(fields.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&").utf8)
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }

    static func trimSlash(_ s: String) -> String { s.hasSuffix("/") ? String(s.dropLast()) : s }
}

/// The http and https URLs the notifiers accept, checked without Foundation: `http://` or `https://` (lower case),
/// an authority whose host is non-empty (a name, an IPv4 address or a bracketed IPv6 address, optional
/// `user:password@` and `:port`), then any path, query and fragment. As Foundation's `URL(string:)` does, characters
/// a URL may not contain (space, non-ASCII, `"`, `<`...) in the path, query and fragment are percent-encoded;
/// in the authority they make the URL invalid.
enum HTTPURL {
    /// The URL as sent (percent-encoded where needed), or nil if it is not an http(s) URL. Without `requireHost`,
    /// an empty host is let through (curl then refuses it, permanently).
    static func normalized(_ s: String, requireHost: Bool = true) -> String? {
        let b = Array(s.utf8)
        let scheme: [UInt8]
        if b.starts(with: Array("http://".utf8)) { scheme = Array("http://".utf8) }
        else if b.starts(with: Array("https://".utf8)) { scheme = Array("https://".utf8) }
        else { return nil }
        var i = scheme.count
        let authorityStart = i
        while i < b.count, b[i] != UInt8(ascii: "/"), b[i] != UInt8(ascii: "?"), b[i] != UInt8(ascii: "#") { i += 1 }
        let authority = Array(b[authorityStart..<i])
        guard authorityValid(authority, requireHost: requireHost) else { return nil }
        var out = scheme + authority
        for c in b[i...] {
            if allowed(c) { out.append(c) } else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += [UInt8(ascii: "%"), hex[Int(c >> 4)], hex[Int(c & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Unreserved, reserved and `%` (RFC 3986).
    static func allowed(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("-._~:/?#[]@!$&'()*+,;=%".utf8).contains(c)
        }
    }

    static func authorityValid(_ a: [UInt8], requireHost: Bool) -> Bool {
        guard a.allSatisfy(allowed) else { return false }
        var hostPort = a[...]
        if let at = a.lastIndex(of: UInt8(ascii: "@")) { hostPort = a[(at + 1)...] }
        var host = hostPort
        if hostPort.first == UInt8(ascii: "[") {
            guard let close = hostPort.firstIndex(of: UInt8(ascii: "]")) else { return false }
            host = hostPort[...close]
            let rest = hostPort[(close + 1)...]
            guard rest.isEmpty || (rest.first == UInt8(ascii: ":") && portValid(rest.dropFirst())) else { return false }
            return host.count > 2
        }
        if let colon = hostPort.firstIndex(of: UInt8(ascii: ":")) {
            host = hostPort[..<colon]
            guard portValid(hostPort[(colon + 1)...]) else { return false }
        }
        guard !host.contains(UInt8(ascii: "[")), !host.contains(UInt8(ascii: "]")) else { return false }
        return !requireHost || !host.isEmpty
    }

    static func portValid(_ p: ArraySlice<UInt8>) -> Bool {
        p.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}

/// Shared config reading for HTTP notifiers.
extension ConfigReader {
    mutating func url(_ o: CareSupport.JSONObject, _ key: String, _ path: String, default d: String? = nil) -> String? {
        guard let s = string(o, key, path, required: d == nil) ?? d else { return nil }
        guard HTTPURL.normalized(s) != nil else {
            fail(ConfigReader.join(path, key), "expected an http or https URL, found \"\(Redact.url(s))\"")
            return nil
        }
        return s
    }

    /// A token never travels in clear over a network: `http://` is refused unless the host is this machine.
    mutating func refuseCleartext(url: String?, key: String, carrying secret: Secret?, _ path: String) {
        guard let url, secret != nil, let (scheme, host) = HeartbeatPinger.schemeAndHost(url), scheme == "http" else { return }
        let name = host.hasPrefix("[") ? String(host.prefix(while: { $0 != "]" }).dropFirst()) : String(host.split(separator: ":").first ?? "")
        let loopback = name == "localhost" || name == "::1" || name.hasPrefix("127.")
        if !loopback {
            fail(ConfigReader.join(path, key), "would send the token to \(name) in clear over http://; use https:// (or a loopback address)")
        }
    }

    mutating func retryPolicy(_ o: CareSupport.JSONObject, _ path: String) -> RetryPolicy {
        RetryPolicy(attempts: int(o, "attempts", path, default: 4, range: 1...20),
                    attemptTimeout: .seconds(int(o, "attemptTimeoutSeconds", path, default: 10, range: 1...300)),
                    deadline: .seconds(int(o, "deadlineSeconds", path, default: 60, range: 1...3600)))
    }
}
