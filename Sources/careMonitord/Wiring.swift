import Anomaly
import CareSupport
import SensorIngest

/// The configured sources as the pipeline's `TopicRouting`.
struct ConfiguredRouting: TopicRouting {
    let router: SourceRouter
    let sources: [SourceConfiguration]

    init(sources: [SourceConfiguration]) throws {
        self.sources = sources
        router = try SourceRouter(sources: sources)
    }

    var sourceNames: [String] { sources.map(\.displayName) }

    func route(topic: String) -> TopicRoute? {
        guard let r = router.route(topic: topic) else { return nil }
        let decoder = r.decoder
        return TopicRoute(sourceIndex: r.sourceIndex, sourceName: r.sourceName, device: r.device,
                          isAccelerometer: r.format == "accel", placement: r.placement?.rawValue,
                          decode: { (topic, device, payload) throws(DecodeError) -> DecodedMessage in
                              try decoder.decode(topic: topic, device: device, payload: payload)
                          })
    }
}

/// Loads a config, printing its warnings; config problems become exit 78 with every problem listed.
func loadConfiguration(_ path: String) throws(CommandError) -> Configuration {
    do {
        let c = try Configuration.load(path: path)
        for w in c.warnings { printError("warning: \(w)") }
        return c
    } catch let e as ConfigurationError {
        throw CommandError(exitCode: ExitCode.config, message: e.description)
    } catch let e as CommandError {
        throw e
    } catch {
        throw CommandError(exitCode: ExitCode.config, message: "\(path): \(error)")
    }
}

func makeRouting(_ config: Configuration) throws(CommandError) -> ConfiguredRouting {
    do {
        return try ConfiguredRouting(sources: config.sources)
    } catch {
        throw CommandError(exitCode: ExitCode.config, message: "\(config.file): \(error)")
    }
}
