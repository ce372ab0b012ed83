import CareSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SecretTests {
    /// A file with `contents` in a fresh directory; removed by the caller.
    private func file(_ contents: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "secret-\(UInt32.random(in: 0...UInt32.max))"
        try Data(contents).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func printingNeverShowsTheValue() {
        let secret: Secret = "hunter2"
        #expect("\(secret)" == "<secret>")
        #expect(String(describing: secret) == "<secret>")
        #expect(String(reflecting: secret) == "<secret>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"), "dump showed the value: \(dumped)")
        #expect(!"\([secret])".contains("hunter2"))
        #expect(!"\(Optional(secret) as Any)".contains("hunter2"))
        #expect(secret.reveal() == "hunter2")
        #expect(secret.withValue { $0.count } == 7)
    }

    @Test func fileIsReadWithOneTrailingNewlineRemoved() throws {
        let cases: [(String, String)] = [("pa ss\n", "pa ss"), ("token\r\n", "token"), ("two\n\n", "two\n"), ("none", "none")]
        for (contents, expected) in cases {
            let path = try file(Array(contents.utf8))
            defer { unlink(path) }
            let secret = try Secret(contentsOfFile: path)
            #expect(secret.reveal() == expected)
            #expect(secret.origin == "file \(path)")
        }
    }

    @Test func missingFileIsAnErrorNamingTheFile() {
        let path = "/nonexistent/caremonitord/mqtt-password"
        #expect {
            _ = try Secret(contentsOfFile: path)
        } throws: { error in
            guard let e = error as? SecretError else { return false }
            return e.code == .unreadable && e.errno == ENOENT && e.path == path && e.message.contains(path)
        }
    }

    @Test func emptyAndBinaryFilesAreRefusedWithoutShowingTheContents() throws {
        let empty = try file(Array("\n".utf8))
        defer { unlink(empty) }
        #expect { _ = try Secret(contentsOfFile: empty) } throws: { ($0 as? SecretError)?.code == .empty }

        let binary = try file([0x73, 0x33, 0xff, 0xfe, 0x6b])
        defer { unlink(binary) }
        #expect { _ = try Secret(contentsOfFile: binary) } throws: { error in
            guard let e = error as? SecretError else { return false }
            return e.code == .notText && e.message.contains(binary)
        }

        let large = try file(Array(repeating: UInt8(ascii: "k"), count: Secret.maximumFileSize + 10))
        defer { unlink(large) }
        #expect { _ = try Secret(contentsOfFile: large) } throws: { error in
            guard let e = error as? SecretError else { return false }
            return e.code == .tooLarge && !e.message.contains("kkkk")
        }
    }

    @Test func directoryIsAnUnreadableSecret() {
        #expect { _ = try Secret(contentsOfFile: "/tmp") } throws: { error in
            guard let e = error as? SecretError else { return false }
            return e.code == .unreadable && e.errno == EISDIR
        }
    }

    /// A fresh directory standing in for `$CREDENTIALS_DIRECTORY`, holding `files` (name → contents).
    private func credentialsDirectory(_ files: [String: String]) throws -> String {
        let dir = NSTemporaryDirectory() + "credentials-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, contents) in files { try Data(contents.utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        return dir
    }

    @Test func credentialIsReadByNameFromTheCredentialsDirectoryLikeAFile() throws {
        let dir = try credentialsDirectory(["mqtt-password": "correct-horse\n", "caremonitord.ntfy-token": "tk_1"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let secret = try Secret(credential: "mqtt-password", directory: dir)
        #expect(secret.reveal() == "correct-horse")
        #expect(secret.origin == "credential mqtt-password")
        #expect(try Secret(credential: "caremonitord.ntfy-token", directory: dir + "/").reveal() == "tk_1")
    }

    @Test func credentialOutsideSystemdSaysToUseLoadCredentialOrAFile() {
        #expect { _ = try Secret(credential: "mqtt-password", directory: nil) } throws: { error in
            guard let e = error as? SecretError else { return false }
            return e.code == .noCredentialsDirectory && e.credential == "mqtt-password"
                && e.message.contains("LoadCredential=mqtt-password:") && e.message.contains(#"{"file": PATH}"#)
        }
    }

    @Test func credentialNamesThatAreNotFileNamesAreRefusedBeforeAnythingIsOpened() {
        for name in ["", ".", "..", "../../etc/shadow", "a/b", "/etc/passwd", "id:path", "tab\there", "é"] {
            #expect(!Secret.isValidCredentialName(name), "\(name)")
            #expect { _ = try Secret(credential: name, directory: "/etc") } throws: { error in
                guard let e = error as? SecretError else { return false }
                return e.code == .invalidCredentialName && e.credential == name
            }
        }
        #expect(Secret.isValidCredentialName("caremonitord.mqtt-password") && Secret.isValidCredentialName("..x"))
    }

    @Test func credentialTheUnitWasNotGivenIsAnErrorNamingTheCredential() throws {
        let dir = try credentialsDirectory(["blank": "\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect { _ = try Secret(credential: "mqtt-password", directory: dir) } throws: { error in
            guard let e = error as? SecretError else { return false }
            return e.code == .unreadable && e.errno == ENOENT && e.credential == "mqtt-password"
                && e.path == dir + "/mqtt-password" && e.message.contains("LoadCredential=mqtt-password:")
        }
        #expect { _ = try Secret(credential: "blank", directory: dir) } throws: { error in
            (error as? SecretError).map { $0.code == .empty && $0.credential == "blank" } ?? false
        }
    }

    @Test func credentialsDirectoryComesFromTheEnvironment() throws {
        let dir = try credentialsDirectory(["mqtt-password": "from-env"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = getenv("CREDENTIALS_DIRECTORY").map { String(cString: $0) }
        defer { if let before { setenv("CREDENTIALS_DIRECTORY", before, 1) } else { unsetenv("CREDENTIALS_DIRECTORY") } }
        setenv("CREDENTIALS_DIRECTORY", dir, 1)
        #expect(Secret.credentialsDirectory() == dir)
        #expect(try Secret(credential: "mqtt-password").reveal() == "from-env")
        unsetenv("CREDENTIALS_DIRECTORY")
        #expect(Secret.credentialsDirectory() == nil)
    }

    @Test func referenceReadsAFileOrACredentialAndNamesTheMemberAtFault() throws {
        let dir = try credentialsDirectory(["mqtt-password": "pw-credential", "pw": "pw-file"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Secret(reference: ["file": .string(dir + "/pw")], credentialsDirectory: nil).reveal() == "pw-file")
        #expect(try Secret(reference: ["credential": "mqtt-password"], credentialsDirectory: dir).reveal() == "pw-credential")
        let wrong: [(JSONObject, String?, String)] = [
            ([:], nil, "found an empty object"),
            (["file": .string(dir + "/pw"), "credential": "mqtt-password"], nil, "not both"),
            (["path": "/etc/x"], "path", "unknown field"),
            (["credential": .number(3)], "credential", "found a number"),
            (["file": ""], "file", "found an empty string"),
            (["credential": "ntfy-token"], "credential", "LoadCredential=ntfy-token:"),
            (["credential": "../pw"], "credential", "is not a credential name"),
            (["file": .string(dir + "/none")], "file", dir + "/none"),
        ]
        for (reference, member, words) in wrong {
            #expect { _ = try Secret(reference: reference, credentialsDirectory: dir) } throws: { error in
                guard let e = error as? Secret.ReferenceError else { return false }
                return e.member == member && e.message.contains(words) && !e.message.contains("pw-")
            }
        }
    }

    @Test func equalityComparesValuesNotOrigins() {
        #expect(Secret("a", origin: "file /x") == Secret("a"))
        #expect(Secret("a") != Secret("b"))
    }
}
