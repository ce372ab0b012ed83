import CareSupport

/// The heartbeat URL ping: an HTTP GET to a dead-man's-switch service (healthchecks.io, Uptime Kuma's push monitor,
/// …) that alerts someone outside the home when the pings stop. The URL's path and query embed the check's token,
/// so logs and errors show only its scheme and host (`https://hc-ping.com/<secret>`).
final class HeartbeatPinger: Sendable {
    let url: Secret
    let http: HTTPClient
    /// The URL as logs may show it.
    let shown: String

    init(url: Secret) {
        self.url = url
        let text = url.reveal()
        var secrets = [url]
        if let (scheme, host) = Self.schemeAndHost(text) {
            let path = Redact.pathSecrets(inURL: text)
            secrets += path
            shown = "\(scheme)://\(host)" + (path.isEmpty ? "" : "/<secret>")
        } else {
            shown = "<secret>"
        }
        http = HTTPClient(notifier: "heartbeat", secrets: secrets, urls: [text])
    }

    /// One GET with a hard deadline; the error is already redacted.
    func ping(timeout: Duration) async -> NotifierError? {
        do {
            _ = try await http.send("GET", url.reveal(), headers: [("User-Agent", "careMonitord")], timeout: timeout)
            return nil
        } catch {
            return error
        }
    }

    /// "https", "hc-ping.com:443" out of a URL (userinfo dropped), or nil when it has no scheme.
    static func schemeAndHost(_ s: String) -> (String, String)? {
        guard let r = s.firstRange(of: "://") else { return nil }
        let scheme = s[..<r.lowerBound].lowercased()
        var rest = s[r.upperBound...]
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return (scheme, String(rest))
    }
}
