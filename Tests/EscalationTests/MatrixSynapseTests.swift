import CareSupport
@testable import Escalation
import Foundation
import Testing
import TestSupport

/// The matrix notifier against a real homeserver: Synapse from PyPI (`tools/install-test-servers`), started here on a
/// free loopback port with a generated config (SQLite, registration by shared secret, client API only: no
/// federation).
@Suite("Matrix against Synapse", .serialized,
       .enabled(if: TestPythonServer.available, "needs Synapse from PyPI, which tools/install-test-servers could not install"))
struct MatrixSynapseTests {
    static let sharedSecret = "caremonitord-test-registration"

    /// A homeserver named `localhost` with users `bot`, `anna` and `eve` (user id → access token).
    struct Homeserver {
        let server: TestPythonServer
        let tokens: [String: String]
        var base: String { "http://127.0.0.1:\(server.port)" }
        let http = HTTPClient(notifier: "test", secrets: [])

        init() throws {
            server = try TestPythonServer("synapse", prepare: { port, dir in
                try Self.configuration(port: port, directory: dir).write(toFile: dir + "/homeserver.yaml", atomically: true, encoding: .utf8)
                let seed = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString().replacingOccurrences(of: "=", with: "")
                try "ed25519 a_test \(seed)\n".write(toFile: dir + "/signing.key", atomically: true, encoding: .utf8)
            }, arguments: { _, dir in ["-m", "synapse.app.homeserver", "-c", dir + "/homeserver.yaml"] })
            let out = try TestPythonServer.python(Self.register, ["http://127.0.0.1:\(server.port)", MatrixSynapseTests.sharedSecret, "bot", "anna", "eve"])
            tokens = try JSONParser.parse(out).objectValue?.members.reduce(into: [:]) { $0[$1.key] = $1.value.stringValue } ?? [:]
        }

        static func configuration(port: Int, directory d: String) -> String {
            let unlimited = "{per_second: 1000, burst_count: 1000}"
            return """
            server_name: localhost
            listeners:
              - {port: \(port), bind_addresses: ['127.0.0.1'], type: http, tls: false, resources: [{names: [client], compress: false}]}
            database: {name: sqlite3, args: {database: \(d)/homeserver.db}}
            media_store_path: \(d)/media
            signing_key_path: \(d)/signing.key
            registration_shared_secret: \(MatrixSynapseTests.sharedSecret)
            macaroon_secret_key: test-macaroon
            form_secret: test-form
            report_stats: false
            trusted_key_servers: []
            suppress_key_server_warning: true
            federation_domain_whitelist: []
            presence: {enabled: false}
            rc_message: \(unlimited)
            rc_registration: \(unlimited)
            rc_joins: {local: \(unlimited)}
            """
        }

        /// Synapse's shared-secret registration (`/_synapse/admin/v1/register`, an HMAC-SHA1 over the nonce and
        /// the user); prints {user id: access token}.
        static let register = """
            import hashlib, hmac, json, sys, urllib.request
            base, secret, users = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
            url = base + "/_synapse/admin/v1/register"
            tokens = {}
            for user in users:
                nonce = json.load(urllib.request.urlopen(url))["nonce"]
                password = "password-" + user
                mac = hmac.new(secret, b"\\x00".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]), hashlib.sha1)
                body = json.dumps({"nonce": nonce, "username": user, "password": password, "admin": False, "mac": mac.hexdigest()})
                req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
                r = json.load(urllib.request.urlopen(req))
                tokens[r["user_id"]] = r["access_token"]
            print(json.dumps(tokens))
            """

        @discardableResult
        func call(_ method: String, _ path: String, as user: String, _ body: JSONValue = [:]) async throws -> JSONValue {
            let r = try await http.send(method, base + path, headers: [("Authorization", "Bearer \(tokens[user] ?? "")"), ("Content-Type", "application/json")],
                                        body: method == "GET" ? nil : Array(JSONWriter.serialize(body).utf8), timeout: .seconds(10))
            return try JSONParser.parse(r.body)
        }

        func say(_ text: String, as user: String, in room: String) async throws {
            try await call("PUT", "/_matrix/client/v3/rooms/\(HTTPClient.percentEncode(room))/send/m.room.message/\(UUID().uuidString)",
                           as: user, ["msgtype": "m.text", "body": .string(text)])
        }

        /// The room's text messages as (sender, body), oldest first.
        func messages(in room: String, as user: String) async throws -> [(String, String)] {
            let v = try await call("GET", "/_matrix/client/v3/rooms/\(HTTPClient.percentEncode(room))/messages?dir=b&limit=50", as: user)
            return (v["chunk"]?.arrayValue ?? []).reversed().compactMap { e in
                guard e["type"]?.stringValue == "m.room.message", let s = e["sender"]?.stringValue, let b = e["content"]?["body"]?.stringValue else { return nil }
                return (s, b)
            }
        }
    }

    @Test func memberRepliesInTheRoomAreClaimsAndAStrangersReplyIsRefusedAndCounted() async throws {
        let hs = try Homeserver()
        defer { hs.server.stop() }
        // A room of version 12: its id has no server part.
        let created = try await hs.call("POST", "/_matrix/client/v3/createRoom", as: "@bot:localhost",
                                        ["room_version": "12", "preset": "private_chat", "invite": ["@anna:localhost", "@eve:localhost"]])
        let room = try #require(created["room_id"]?.stringValue)
        #expect(room.hasPrefix("!") && !room.contains(":"))
        for user in ["@anna:localhost", "@eve:localhost"] {
            try await hs.call("POST", "/_matrix/client/v3/join/\(HTTPClient.percentEncode(room))", as: user)
        }

        let config = try EscalationConfig.decode(text: """
            {"person": {"id": "linda", "name": "Linda", "timezone": "Europe/London"},
             "notifiers": {"matrix": {"homeserver": "\(hs.base)", "accessToken": "\(hs.tokens["@bot:localhost"] ?? "")", "room": "\(room)"}},
             "circle": {"members": [{"id": "anna", "name": "Anna", "role": "family", "consent": true,
                                     "contacts": [{"notifier": "matrix", "address": "@anna:localhost"}]}]},
             "policies": [{"kind": "fall", "tiers": [{"members": ["anna"]}]}]}
            """).get()
        let notifiers = NotifierRegistry.instantiate(config.notifiers, context: NotifierContext())
        let engine = EscalationEngine(config: config, clock: ManualClock(wall: Fixture.start), notifiers: notifiers, stateDirectory: nil)
        #expect(await engine.receive(Fixture.fall()) == .open)
        await engine.waitForDeliveries()
        let id = try #require(await engine.openIncidents.first?.id)

        let page = try #require(try await hs.messages(in: room, as: "@anna:localhost").last)
        #expect(page.0 == "@bot:localhost")
        #expect(page.1.contains("@anna:localhost, reply here: 1 if you are going"), "\(page.1)")
        #expect(page.1.contains("2 if you can't"))

        try await hs.say("1", as: "@eve:localhost", in: room)
        try await hs.say("1 10", as: "@anna:localhost", in: room)
        await engine.pollNotifiers(now: .now)

        let responses = try #require(await engine.incident(id)?.responses)
        #expect(responses.count == 1)
        #expect(responses["anna"]?.kind == .claimed(etaMinutes: 10))
        #expect(await engine.refusedReplies == ["matrix": 1])
        // Each answer once: the next sync starts after them.
        let matrix = try #require(notifiers["matrix"] as? MatrixNotifier)
        #expect(await matrix.pollReplies(now: .now + .seconds(3)).isEmpty)
    }
}
