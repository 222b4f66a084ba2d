package dev.trellis.router.telemetry;

import static java.util.Objects.requireNonNull;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Scoring metrics per model, version and variant: rows served, errors by status code, latency.
 * Exported as {@code trellis_router_rows_total}, {@code trellis_router_errors_total} and
 * {@code trellis_router_latency_seconds}. Thread-safe.
 */
public final class ScoringMetrics {
    private static final AttributeKey<String> MODEL = AttributeKey.stringKey("model");
    private static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");
    private static final AttributeKey<String> VARIANT = AttributeKey.stringKey("variant");
    private static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");
    private static final AttributeKey<String> CODE = AttributeKey.stringKey("code");
    private static final AttributeKey<String> METHOD = AttributeKey.stringKey("method");

    private final LongCounter rows;
    private final LongCounter errors;
    private final DoubleHistogram latency;
    private final Map<Key, Attributes> servedAttributes = new ConcurrentHashMap<>();

    @Inject
    public ScoringMetrics(OpenTelemetry openTelemetry) {
        Meter meter = requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.router");
        this.rows = meter.counterBuilder("trellis.router.rows")
                .setDescription("Rows scored")
                .setUnit("{row}")
                .build();
        this.errors = meter.counterBuilder("trellis.router.errors")
                .setDescription("Failed scoring calls by status code")
                .setUnit("{call}")
                .build();
        this.latency = meter.histogramBuilder("trellis.router.latency")
                .setDescription("Upstream scoring latency seen by the router")
                .setUnit("s")
                .setExplicitBucketBoundariesAdvice(
                        List.of(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1.0))
                .build();
    }

    public void served(String model, String version, String variant, String reason, int rowCount, double seconds) {
        // attribute sets are few (models x versions x variants x reasons): build each once
        Attributes attributes = servedAttributes.computeIfAbsent(
                new Key(model, version, variant, reason),
                k -> Attributes.of(MODEL, k.model(), VERSION, k.version(), VARIANT, k.variant(), REASON, k.reason()));
        rows.add(rowCount, attributes);
        latency.record(seconds, attributes);
    }

    private record Key(String model, String version, String variant, String reason) {}

    public void failed(String method, String model, String version, String code) {
        errors.add(1, Attributes.of(METHOD, method, MODEL, model, VERSION, version, CODE, code));
    }
}
