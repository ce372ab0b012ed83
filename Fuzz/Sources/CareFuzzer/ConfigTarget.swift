import CareSupport
import SensorIngest

/// A config file: refused with problems that each say something, or loaded; a loaded one then builds what `run`
/// builds before it connects (the router, the MQTT settings, the person's local time).
func fuzzConfig(_ input: UnsafeRawBufferPointer) {
    do {
        let config = try Configuration.load(bytes: Array(input), path: "fuzz.json")
        for w in config.warnings { precondition(!w.isEmpty, "config: an empty warning") }
        _ = try? SourceRouter(sources: config.sources, options: DecoderOptions())
        _ = try? mqttConfiguration(config, routing: nil)
        precondition(LocalTime(identifier: config.person.timezone) != nil, "config: accepted a time zone it cannot load")
    } catch let error as ConfigurationError {
        precondition(!error.problems.isEmpty, "config: refused without a problem")
        for p in error.problems { precondition(!p.message.isEmpty, "config: a problem without a message at \(p.path)") }
        _ = error.description
    } catch let error as CommandError {
        precondition(!error.message.isEmpty, "config: an error without a message")
    } catch {
        preconditionFailure("config: an error of an unexpected type: \(error)")
    }
}
