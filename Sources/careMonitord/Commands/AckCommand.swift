import CareSupport
import Escalation
import SensorIngest

/// `careMonitord ack --config FILE --incident ID --member ID --action claim|decline|arrived|resolve|cancel
/// [--eta MINUTES]`: answers an incident the way the TV app or Home Assistant do, by publishing
/// `{"member","action","eta"}` to `caremonitord/<person>/incidents/<id>/ack` (QoS 1).
enum AckCommand {
    static let usage = "careMonitord ack --config FILE --incident ID --member ID --action claim|decline|arrived|resolve|cancel [--eta MINUTES]"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "ack", args, valued: ["config", "incident", "member", "action", "eta"])
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
