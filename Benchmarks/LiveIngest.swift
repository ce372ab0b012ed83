/// Figure 5 (live ingest through a real mosquitto on loopback): not measured yet. `Sources/SensorIngest/MQTT/` has
/// no client to drive; the C side (`cmb_mosquitto_count` in BenchmarkC) is ready for the comparison.
enum LiveIngestBenchmark {
    static func run(_ options: Options) {
        var line = JSONLine(bench: "live_ingest")
        line.add("skipped", true)
        line.add("reason", "SensorIngest has no MQTT client yet (Sources/SensorIngest/MQTT/ is empty)")
        line.emit()
    }
}
