import CareSupport
import Foundation
import Testing

/// `broker.password` names where the password is (`{"file": PATH}` or `{"credential": NAME}`), and the config load
/// reads it: a secret that cannot be read is a config error naming the field, before anything connects.
@Suite("broker password")
struct BrokerPasswordTests {
    func config(password: String, in dir: URL) throws -> String {
        try CLI.write("""
        { "person":  { "id": "linda", "timezone": "Europe/London" },
          "broker":  { "host": "127.0.0.1", "username": "care", "password": \(password) },
          "sources": [ { "preset": "zigbee2mqtt" } ] }
        """, "c.json", in: dir)
    }

    /// `explain` with this environment, `CREDENTIALS_DIRECTORY` set to `credentials` (nil: unset).
    func explain(_ config: String, credentials: String?) throws -> CLI.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["CREDENTIALS_DIRECTORY"] = credentials
        let r = try ChildProcess.run(executable: CLI.executable,
                                     arguments: ["explain", "--config", config, "--topic", "zigbee2mqtt/hall",
                                                 "--payload", #"{"occupancy":true}"#],
                                     environment: environment, outputLimit: 1 << 20, timeout: .seconds(60))
        return CLI.Result(status: r.status, stdout: r.standardOutput.text, stderr: r.standardError.text)
    }

    @Test func passwordFromACredentialTheUnitWasNotGivenExitsSeventyEightNamingTheField() throws {
        let dir = try CLI.temporaryDirectory()
        let credentials = dir.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        let config = try config(password: #"{"credential": "mqtt-password"}"#, in: dir)

        let outside = try explain(config, credentials: nil)
        #expect(outside.code == 78, "\(outside.stderr)")
        #expect(outside.stderr.contains("c.json:2:") && outside.stderr.contains("broker.password.credential"), "\(outside.stderr)")
        #expect(outside.stderr.contains("LoadCredential=mqtt-password:"), "\(outside.stderr)")

        let notGiven = try explain(config, credentials: credentials.path)
        #expect(notGiven.code == 78, "\(notGiven.stderr)")
        #expect(notGiven.stderr.contains("broker.password.credential: systemd passed no credential 'mqtt-password'"),
                "\(notGiven.stderr)")

        _ = try CLI.write("correct-horse-42\n", "mqtt-password", in: credentials)
        let given = try explain(config, credentials: credentials.path)
        #expect(given.code == 0, "\(given.stderr)")
        #expect(!given.stderr.contains("correct-horse-42") && !given.stdout.contains("correct-horse-42"))
    }

    @Test func passwordWrittenInTheConfigIsRefusedAndAFileStillWorks() throws {
        let dir = try CLI.temporaryDirectory()
        let plain = try explain(try config(password: #""hunter2""#, in: dir), credentials: nil)
        #expect(plain.code == 78)
        #expect(plain.stderr.contains("broker.password: passwords are not written in the config"), "\(plain.stderr)")
        #expect(!plain.stderr.contains("hunter2"))

        let file = try CLI.write("correct-horse-42\n", "mqtt-password", in: dir)
        let fromFile = try explain(try config(password: #"{"file": "\#(file)"}"#, in: dir), credentials: nil)
        #expect(fromFile.code == 0, "\(fromFile.stderr)")
        let missing = try explain(try config(password: #"{"file": "\#(file).old"}"#, in: dir), credentials: nil)
        #expect(missing.code == 78)
        #expect(missing.stderr.contains("broker.password.file") && missing.stderr.contains("\(file).old"), "\(missing.stderr)")
    }
}
