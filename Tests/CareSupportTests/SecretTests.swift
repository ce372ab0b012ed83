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

    @Test func equalityComparesValuesNotOrigins() {
        #expect(Secret("a", origin: "file /x") == Secret("a"))
        #expect(Secret("a") != Secret("b"))
    }
}
