package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.VersionPerformance;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * The latest live performance the router computed per model and version (each GetPerformance call,
 * e.g. a scheduled {@code trellis monitor performance}, refreshes it), as Prometheus gauges:
 * {@code trellis_performance_auc}, {@code trellis_performance_auc_change} (live minus the bundle's
 * test AUC), {@code trellis_performance_brier} and {@code trellis_performance_outcomes} (rows with
 * an outcome), labelled model, version and metric. Only versions with sufficient data appear.
 * Thread-safe.
 */
public final class PerformanceGauges {
    private static final AttributeKey<String> MODEL = AttributeKey.stringKey("model");
    private static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");
    private static final AttributeKey<String> METRIC = AttributeKey.stringKey("metric");

    private final Map<Attributes, VersionPerformance> latest = new ConcurrentHashMap<>();

    @Inject
    public PerformanceGauges(OpenTelemetry openTelemetry) {
        Meter meter = requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.router.monitoring");
        gauge(
                meter,
                "trellis.performance.auc",
                "live AUC of the version's logged scores against outcomes",
                VersionPerformance::getAuc);
        gauge(
                meter,
                "trellis.performance.auc_change",
                "live AUC minus the bundle's held-out test AUC",
                VersionPerformance::getAucChange);
        gauge(meter, "trellis.performance.brier", "live Brier score", VersionPerformance::getBrier);
        gauge(meter, "trellis.performance.outcomes", "logged samples with an outcome", p -> p.getWithOutcome());
    }

    private void gauge(Meter meter, String name, String description, ToDoubleFunction<VersionPerformance> value) {
        meter.gaugeBuilder(name)
                .setDescription(description)
                .buildWithCallback(m -> latest.forEach((attributes, p) -> {
                    m.record(value.applyAsDouble(p), attributes);
                }));
    }

    void update(String metric, VersionPerformance performance) {
        Attributes attributes =
                Attributes.of(MODEL, performance.getModel(), VERSION, performance.getVersion(), METRIC, metric);
        if (performance.getSufficient() && performance.getBundleTestMetricsMap().containsKey("auc_roc")) {
            latest.put(attributes, performance);
        } else {
            latest.remove(attributes);
        }
    }
}
