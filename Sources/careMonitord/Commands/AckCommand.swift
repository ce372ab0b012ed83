import CareSupport
import Escalation
import SensorIngest

/// `careMonitord ack --config FILE --incident ID --member ID --action claim|decline|arrived|resolve|cancel
/// [--eta MINUTES] [--state-dir DIR]`: answers an incident the way the TV app or Home Assistant do, by publishing
/// `{"member","action","eta","token"}` to `caremonitord/<person>/incidents/<id>/ack` (QoS 1). The token is derived
/// from the daemon's answer key in its state directory, so this works only on the gateway, as a user who may read it.
enum AckCommand {
    static let usage = "careMonitord ack --config FILE --incident ID --member ID --action claim|decline|arrived|resolve|cancel [--eta MINUTES] [--state-dir DIR]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "ack", args, valued: ["config", "incident", "member", "action", "eta", "state-dir"])
        let config = try loadConfiguration(try a.required("config"))
        let incident = try a.required("incident")
        let member = try a.required("member")
        let actionText = try a.required("action")
        guard let action = Ack.Action(rawValue: actionText) else {
            throw CommandError(exitCode: ExitCode.usage, message: "ack: --action \(actionText): use one of \(Ack.Action.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var payload: JSONObject = ["member": .string(member), "action": .string(action.rawValue)]
        if let eta = a.value("eta") {
            guard let minutes = Int(eta), minutes >= 0, minutes < 24 * 60 else {
                throw CommandError(exitCode: ExitCode.usage, message: "ack: --eta \(eta): minutes from now, e.g. 10")
            }
            payload["eta"] = .number(Double(minutes))
        }
        if let members = config.escalation?.members.map(\.id), !members.contains(member), member != config.person.id {
            printError("warning: \(member) is not a member of \(config.person.id)'s circle (\(members.joined(separator: ", "))): the daemon will ignore this ack")
        }
        do {
            let key = try AnswerKey.load(stateDirectory: stateDirectory(a), create: false)
            payload["token"] = .string(key.token(person: config.person.id, incident: incident, member: member))
        } catch {
            throw CommandError(exitCode: ExitCode.ioError, message: "ack: the daemon's answer key: \(error) (--state-dir names the daemon's state directory)")
        }
        let client = try connectedClient(try mqttConfiguration(config, routing: nil, tool: "ack"), logger: Logger(label: "ack", minimumLevel: .warning))
        let topic = AckTopic.topic(person: config.person.id, incident: incident)
        do {
            try client.publish(topic: topic, payload: JSONWriter.serialize(.object(payload)), qos: .atLeastOnce)
        } catch {
            client.stop()
            throw CommandError(exitCode: ExitCode.unavailable, message: "ack: cannot publish to \(topic): \(error)")
        }
        client.stop()
        printError("ack: \(member) \(action.rawValue) \(incident) sent on \(topic)")
        return ExitCode.ok
    }
}
