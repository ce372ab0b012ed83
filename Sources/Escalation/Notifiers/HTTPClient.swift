import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

struct HTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// The HTTP notifiers' transport: one `URLSession` per notifier instance, built once; a hard deadline on every
/// request (the task is cancelled when it passes); status codes mapped to retryable or permanent; every message
/// passed through `Redact` with the instance's secrets.
final class HTTPClient: Sendable {
    let session: URLSession
    let notifier: String
    let secrets: [Secret]

    /// `secrets` are redacted from every message; pass the configured URLs too, so that tokens inside them are.
    init(notifier: String, secrets: [Secret], urls: [String] = []) {
        let c = URLSessionConfiguration.ephemeral
        c.urlCache = nil
        c.httpCookieStorage = nil
        c.httpShouldSetCookies = false
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: c)
        self.notifier = notifier
        self.secrets = (secrets + urls.flatMap(Redact.secrets(inURL:))).filter { !$0.reveal().isEmpty }
    }

    func redact(_ s: String) -> String { Redact.text(s, secrets: secrets) }

    func fail(_ d: NotifierError.Disposition, _ m: String, status: Int? = nil) -> NotifierError {
        NotifierError(notifier: notifier, disposition: d, message: redact(m), status: status)
    }

    /// Sends one request; 2xx returns, anything else throws a classified error.
    func send(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
              timeout: Duration) async throws(NotifierError) -> HTTPResponse {
        guard let u = URL(string: url), u.scheme == "http" || u.scheme == "https" else {
            throw fail(.permanent, "invalid URL \(url)")
        }
        var req = URLRequest(url: u)
        req.httpMethod = method
        req.timeoutInterval = max(0.05, timeout.secondsDouble)
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        if let body { req.httpBody = Data(body) }
        let once = Mutex(false)
        let result: Result<HTTPResponse, NotifierError> = await withCheckedContinuation { cont in
            let finish: @Sendable (Result<HTTPResponse, NotifierError>) -> Void = { r in
                if once.withLock({ done in defer { done = true }; return !done }) { cont.resume(returning: r) }
            }
            let task = session.dataTask(with: req) { data, response, error in
                if let error {
                    let ns = error as NSError
                    if ns.code == NSURLErrorCancelled || ns.code == NSURLErrorTimedOut {
                        finish(.failure(self.fail(.retryable, "\(method) \(url): no answer within \(timeout)")))
                    } else {
                        finish(.failure(self.fail(.retryable, "\(method) \(url): \(ns.localizedDescription)")))
                    }
                    return
                }
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                finish(.success(HTTPResponse(status: status, body: data.map { Array($0) } ?? [])))
            }
            task.resume()
            // The hard deadline: URLSession's timeout is an idle timeout, this one is absolute.
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.secondsDouble) {
                finish(.failure(self.fail(.retryable, "\(method) \(url): no answer within \(timeout)")))
                task.cancel()
            }
        }
        let r = try result.get()
        switch r.status {
        case 200..<300: return r
        case 408, 425, 429, 500..<600:
            throw fail(.retryable, "\(method) \(url) answered HTTP \(r.status): \(snippet(r))", status: r.status)
        case 401, 403:
            throw fail(.permanent, "\(method) \(url) answered HTTP \(r.status): the token or password was refused; check the secret. \(snippet(r))", status: r.status)
        default:
            throw fail(.permanent, "\(method) \(url) answered HTTP \(r.status): \(snippet(r))", status: r.status)
        }
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

/// Shared config reading for HTTP notifiers.
extension ConfigReader {
    mutating func url(_ o: CareSupport.JSONObject, _ key: String, _ path: String, default d: String? = nil) -> String? {
        guard let s = string(o, key, path, required: d == nil) ?? d else { return nil }
        guard let u = URL(string: s), u.scheme == "http" || u.scheme == "https", u.host != nil else {
            fail(ConfigReader.join(path, key), "expected an http or https URL, found \"\(Redact.url(s))\"")
            return nil
        }
        return s
    }

    mutating func retryPolicy(_ o: CareSupport.JSONObject, _ path: String) -> RetryPolicy {
        RetryPolicy(attempts: int(o, "attempts", path, default: 4, range: 1...20),
                    attemptTimeout: .seconds(int(o, "attemptTimeoutSeconds", path, default: 10, range: 1...300)),
                    deadline: .seconds(int(o, "deadlineSeconds", path, default: 60, range: 1...3600)))
    }
}

import CareSupport
