import CareSupport
@testable import Escalation
import Foundation
import Testing
import TestSupport

/// The email notifier through msmtp (Debian) to a real SMTP server, aiosmtpd from PyPI (`tools/install-test-servers`)
/// on a free loopback port, storing what it receives in a Maildir that Python's own email parser then reads.
@Suite("E-mail through msmtp and an SMTP server", .serialized,
       .enabled(if: TestPythonServer.available && TestBroker.findProgram("msmtp") != nil,
                "needs msmtp (Debian) and aiosmtpd (PyPI): tools/install-deps installs both"))
struct EmailSMTPTests {
    /// Each message's Message-ID, In-Reply-To, References, and its Date as `email.utils.parsedate_to_datetime` reads it.
    static let readMaildir = """
        import json, mailbox, sys
        from email.utils import parsedate_to_datetime
        out = []
        for m in mailbox.Maildir(sys.argv[1], create=False):
            try:
                parsed = parsedate_to_datetime(m["Date"]).isoformat()
            except Exception as e:
                parsed = "refused: %r" % e
            out.append({"id": m["Message-ID"], "inReplyTo": m["In-Reply-To"], "references": m["References"], "date": parsed})
        print(json.dumps(sorted(out, key=lambda m: m["id"])))
        """

    @Test func messagesOfOneIncidentAreOneThreadAndTheirDatesParse() async throws {
        let msmtp = try #require(TestBroker.findProgram("msmtp"))
        let smtp = try TestPythonServer("aiosmtpd", arguments: { port, dir in
            ["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)", "-c", "aiosmtpd.handlers.Mailbox", dir + "/maildir"]
        })
        defer { smtp.stop() }
        let rc = smtp.directory + "/msmtprc"
        try "account default\nhost 127.0.0.1\nport \(smtp.port)\nauth off\ntls off\nfrom care@linda.example\n"
            .write(toFile: rc, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: rc)  // msmtp refuses others' access
        let mail = EmailNotifier(name: "email", program: msmtp, arguments: ["-C", rc, "-t"], from: "care@linda.example")

        var first = sampleNotification(address: "anna@example.org")
        first.key = "\(first.incident)/1"
        var later = sampleNotification(address: "anna@example.org", purpose: .update)
        later.key = "\(later.incident)/4"
        later.time = later.time.adding(seconds: 300)
        for n in [first, later] {
            let outcome = await mail.deliver(n)
            guard case .delivered = outcome else { Issue.record("\(outcome)"); return }
        }

        let got = try JSONParser.parse(TestPythonServer.python(Self.readMaildir, [smtp.directory + "/maildir"]))
        #expect(got == [
            ["id": "<linda-20261123-140200.1@caremonitord>", "inReplyTo": nil, "references": nil, "date": "2026-11-23T14:03:00+00:00"],
            ["id": "<linda-20261123-140200.4@caremonitord>", "inReplyTo": "<linda-20261123-140200.1@caremonitord>",
             "references": "<linda-20261123-140200.1@caremonitord>", "date": "2026-11-23T14:08:00+00:00"],
        ])
    }
}
