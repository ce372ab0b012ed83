import CareSupport
import SensorIngest

/// `careMonitord explain --config FILE --topic TOPIC (--payload JSON | --payload-file FILE)`: which source a
/// message matches, the device, and the readings it decodes to, as JSON on stdout. This is how a user checks
/// their setup. Exit 0 (also for a recognised message with no reading), 65 for a malformed payload or a topic no
/// source matches, 78 for a bad config.
enum ExplainCommand {
    static let usage = "careMonitord explain --config FILE --topic TOPIC (--payload JSON | --payload-file FILE)"

    static func run(_ args: ArraySlice<String>) throws(CommandError) -> Int32 {
        let a = try Arguments(command: "explain", args, valued: ["config", "topic", "payload", "payload-file"])
        let config = try loadConfiguration(try a.required("config"))
        let topic = try a.required("topic")
        let payload: [UInt8]
        switch (a.value("payload"), a.value("payload-file")) {
        case (let p?, nil): payload = Array(p.utf8)
        case (nil, let f?):
            guard let bytes = DurableFile.read(f) else {
                throw CommandError(exitCode: ExitCode.noInput, message: "explain: cannot read payload file \(f)")
            }
            payload = bytes
        default:
            throw CommandError(exitCode: ExitCode.usage, message: "explain: give exactly one of --payload or --payload-file\nusage: \(usage)")
        }
        let routing = try makeRouting(config)
        guard let route = routing.router.route(topic: topic) else {
            FileOutput.standardOutput.writeLine("{\"source\":null,\"device\":null,\"readings\":[]}")
            FileOutput.standardOutput.flush()
            let filters = routing.router.subscriptions.map { $0.filter }.joined(separator: ", ")
            throw CommandError(exitCode: ExitCode.dataError,
                               message: "explain: topic \"\(topic)\" matches no configured source (subscribed: \(filters))")
        }
        let decoded: DecodedMessage
        do {
            decoded = try route.decoder.decode(topic: topic, device: route.device, bytes: payload)
        } catch {
            throw CommandError(exitCode: ExitCode.dataError,
                               message: "explain: source \(route.sourceName) cannot decode this payload on \(topic): \(error.message)")
        }
        FileOutput.standardOutput.writeLine(JSONWriter.serialize(render(route: route, decoded: decoded)))
        FileOutput.standardOutput.flush()
        return ExitCode.ok
    }

    static func render(route: Route, decoded: DecodedMessage) -> JSONValue {
        var out = JSONObject()
        out["source"] = .string(route.sourceName)
        out["device"] = .string(route.device)
        out["readings"] = .array(decoded.readings.map { r in
            var o = JSONObject()
            o["signal"] = .string(r.signal.description)
            o["value"] = r.value.json
            o["unit"] = r.unit.map { .string($0) } ?? .null
            o["field"] = .string(r.field)
            o["raw"] = r.raw
            if let c = r.channel { o["channel"] = .string(c) }
            return .object(o)
        })
        if let t = decoded.time { out["time"] = .string(Timestamp.rfc3339(t)) }
        return .object(out)
    }
}
