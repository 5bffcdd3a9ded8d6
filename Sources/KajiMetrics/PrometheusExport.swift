import CoreMetrics
import Engine
import Prometheus

/// One process's metrics in the Prometheus text format: a swift-prometheus registry behind a swift-metrics
/// factory that knows Kaji's metric descriptions, so every family gets its HELP line and its histogram
/// buckets (seconds) from `MetricDescription`, whichever code emits it.
public final class PrometheusExport: Sendable {
    /// The registry the metrics live in.
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory that records into `registry` (hand it to `EngineMetrics`, or bootstrap it).
    public let factory: any MetricsFactory
    /// The descriptions the factory knows.
    public let descriptions: [MetricDescription]

    /// The content type of `render()`: the Prometheus text exposition format, version 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// - Parameter descriptions: the metrics this process emits (their HELP texts and buckets). A metric
    ///   emitted without a description gets no HELP line and the default buckets.
    public init(descriptions: [MetricDescription]) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        self.descriptions = descriptions
        self.factory = DescribedFactory(registry: registry, descriptions: descriptions)
    }

    /// The current values, in the text format.
    public func render() -> String {
        registry.emitToString()
    }
}

/// A swift-metrics factory over a Prometheus registry that passes each metric's HELP text (swift-prometheus'
/// own factory passes none) and its buckets.
struct DescribedFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let help: [String: String]
    let buckets: [String: [Double]]
    /// `buckets` as durations, for timers.
    let durationBuckets: [String: [Duration]]

    /// Buckets of a histogram without a description (seconds).
    static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    init(registry: PrometheusCollectorRegistry, descriptions: [MetricDescription]) {
        self.registry = registry
        var help: [String: String] = [:], buckets: [String: [Double]] = [:]
        for description in descriptions {
            help[description.name] = description.help
            if !description.buckets.isEmpty { buckets[description.name] = description.buckets }
        }
        self.help = help
        self.buckets = buckets
        self.durationBuckets = buckets.mapValues { $0.map(Self.duration) }
    }

    static func duration(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }

    static let defaultDurationBuckets = defaultBuckets.map(duration)

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? "")
    }

    private func bucketList(_ label: String) -> [Double] { buckets[label] ?? Self.defaultBuckets }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: bucketList(label))
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: durationBuckets[label] ?? Self.defaultDurationBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
