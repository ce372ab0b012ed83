import CareSupport
import Escalation
import SensorIngest
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `careMonitord test-alert --config FILE --member ID [--all-contacts] [--timeout SECONDS]`: is the alarm path
/// alive? Sends a marked test page to a member (or, with the person's id, to her own TV or tablet) through their real
/// notifier and waits for their answer (the ack topic with the page's token, an ntfy button, an SMS reply from their
/// number, a Pushover receipt). Exit 0 when answered, 75 when nobody answered in time, 69 when the page could not be
/// delivered, 78 when the member has not consented to be paged.
enum TestAlertCommand {
    static let usage = "careMonitord test-alert --config FILE --member ID [--all-contacts] [--timeout SECONDS] [--state-dir DIR]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "test-alert", args, valued: ["config", "member", "timeout", "state-dir"], flags: ["all-contacts"])
        let config = try loadConfiguration(try a.required("config"))
        let memberID = try a.required("member")
        guard let escalation = config.escalation else {
            throw CommandError(exitCode: ExitCode.config, message: "test-alert: \(config.file) has no circle: nobody to test")
        }
        if let m = escalation.member(memberID) {
            guard m.consent.given else {
                throw CommandError(exitCode: ExitCode.config, message: "test-alert: \(m.label) has not consented to be paged (circle.members[].consent): no test page sent")
            }
        } else if memberID == escalation.person.id {
            guard !escalation.person.contacts.isEmpty else {
                throw CommandError(exitCode: ExitCode.config, message: "test-alert: \(memberID) has no contacts (person.contacts): nothing to test")
            }
        } else {
            throw CommandError(exitCode: ExitCode.usage, message: "test-alert: \(memberID) is neither the person nor in the circle (\(escalation.members.map(\.id).joined(separator: ", ")))")
        }
        let timeoutText = a.value("timeout") ?? "300"
        guard let timeout = Double(timeoutText), timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw CommandError(exitCode: ExitCode.usage, message: "test-alert: --timeout must be seconds from 1 to 86400, not \"\(timeoutText)\"")
        }
        let logger = Logger(label: "test-alert", minimumLevel: .notice)
        // The home of the config, live, with its real notifiers; no journal: the daemon owns it. The daemon's answer
        // key (when its state directory is here) makes the page's token one that `careMonitord ack` derives too.
        let connection = ConnectionBox()
        let state = stateDirectory(a)
        var st = stat()
        let home = try MonitoredHome.build(config: config, clock: .system(journal: false), notifiers: .real(publisher: connection),
                                           stateDirectory: stat(state, &st) == 0 ? state : nil, logger: logger, events: { _ in })
        guard let live = home.escalation as? LiveEscalation else {
            throw CommandError(exitCode: ExitCode.software, message: "test-alert: the home has no live escalation")
        }
        var mqtt = try mqttConfiguration(config, routing: nil, tool: "test-alert")
        mqtt.subscriptions = [MQTTSubscription(AckTopic.filter(person: config.person.id), qos: .atLeastOnce)]
        let client = try connectedClient(mqtt, logger: logger.child("mqtt")) { m in _ = home.takeCommand(m.topic, m.payload, 0) }
        connection.set(client)
        do { _ = try live.start(schedule: false) } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "test-alert: \(error)")
        }
        defer {
            live.stop(timeout: 2)
            client.stop()
        }
        let engine = live.engine
        let allContacts = a.flag("all-contacts")
        guard let (id, outcomes) = blockingAwait({ await engine.sendTestAlert(to: memberID, allContacts: allContacts) }) else {
            throw CommandError(exitCode: ExitCode.usage, message: "test-alert: unknown member \(memberID)")
        }
        var delivered = false
        for o in outcomes {
            switch o {
            case .delivered(_, let attempts): delivered = true; printError("test-alert: page \(id) delivered (\(attempts) attempt(s))")
            case .failed(let e, let attempts): printError("test-alert: page \(id) NOT delivered after \(attempts) attempt(s): \(e)")
            }
        }
        guard delivered else { return ExitCode.unavailable }
        printError("test-alert: waiting up to \(Int(timeout)) s for \(memberID) to answer…")
        let clock = SystemClock()
        let deadline = clock.monotonicNow().advanced(bySeconds: timeout)
        while clock.monotonicNow() < deadline {
            if blockingAwait({ await engine.testAnswered(id) }) {
                printError("test-alert: \(memberID) answered: the alarm path to them works")
                return ExitCode.ok
            }
            usleep(200_000)
        }
        printError("test-alert: no answer from \(memberID) within \(Int(timeout)) s: check their phone, the notifier and the way back (ack topic, ntfy reply topic, SMS)")
        return 75
    }
}
