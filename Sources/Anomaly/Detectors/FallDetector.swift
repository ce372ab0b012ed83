import CareSupport

/// (Being built: issue "Detectors".) Accepts no signal yet, so it never fires.
public final class FallDetector: Detector {
    public static let name = "fall"
    public static let kinds: [DetectionKind] = [.fall]
    let context: DetectorContext

    public static func make(_ settings: JSONObject?, _ path: String, _ context: DetectorContext) throws(DetectorConfigurationError) -> any Detector {
        FallDetector(context: context)
    }

    init(context: DetectorContext) { self.context = context }
    public func accepts(_ signal: SignalInfo) -> Bool { false }
    public func process(_ sample: Sample) {}
    public func advance(to time: Double) {}
}
