package dev.trellis.modelserver.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.monitoring.DriftCalculator;
import dev.trellis.common.monitoring.DriftReport;
import dev.trellis.common.monitoring.FeatureDrift;
import dev.trellis.modelserver.config.ModelServerConfig;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableDoubleGauge;
import io.opentelemetry.api.metrics.ObservableDoubleMeasurement;
import io.opentelemetry.api.metrics.ObservableLongGauge;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * Drift of each loaded version's live window on this replica, as Prometheus gauges computed when
 * scraped (at most once per second per version, however many gauges read it):
 * {@code trellis_drift_detected{model,version}} (1 DRIFT, 0 NO_DRIFT; absent without a verdict),
 * {@code trellis_drift_window_rows{model,version}}, and per feature (the score as "(score)")
 * {@code trellis_drift_psi}, {@code trellis_drift_ks_statistic}, {@code trellis_drift_missing_rate}.
 * Label sets are bounded by the loaded versions and their schemas. Thread-safe.
 */
public final class DriftGauges implements AutoCloseable {
    public static final AttributeKey<String> MODEL = AttributeKey.stringKey("model");
    public static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");
    public static final AttributeKey<String> FEATURE = AttributeKey.stringKey("feature");
    private static final long CACHE_NANOS = 1_000_000_000L;

    private final LiveProfiles profiles;
    private final DriftCalculator calculator;
    private final Map<ProfileWindow, Cached> cache = new ConcurrentHashMap<>();
    private final List<AutoCloseable> instruments = new ArrayList<>();

    @Inject
    public DriftGauges(OpenTelemetry openTelemetry, LiveProfiles profiles, ModelServerConfig config) {
        this.profiles = requireNonNull(profiles, "profiles is null");
        this.calculator =
                new DriftCalculator(requireNonNull(config, "config is null").driftThresholds());
        Meter meter =
                requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.modelserver.monitoring");
        ObservableLongGauge detected = meter.gaugeBuilder("trellis.drift.detected")
                .ofLongs()
                .setDescription("1 when the version's live window drifted from its training baseline, 0 when not; "
                        + "absent with no baseline or too few rows")
                .buildWithCallback(m -> {
                    for (ProfileWindow window : profiles.windows()) {
                        DriftReport report = report(window);
                        if (report.verdict() == DriftReport.Verdict.DRIFT
                                || report.verdict() == DriftReport.Verdict.NO_DRIFT) {
                            m.record(report.verdict() == DriftReport.Verdict.DRIFT ? 1 : 0, version(window));
                        }
                    }
                });
        instruments.add(detected);
        ObservableLongGauge rows = meter.gaugeBuilder("trellis.drift.window.rows")
                .ofLongs()
                .setUnit("{row}")
                .setDescription("rows in the version's live drift window")
                .buildWithCallback(m -> {
                    for (ProfileWindow window : profiles.windows()) {
                        m.record(report(window).liveRows(), version(window));
                    }
                });
        instruments.add(rows);
        instruments.add(featureGauge(
                meter, "trellis.drift.psi", "population stability index against the baseline", FeatureDrift::psi));
        instruments.add(featureGauge(
                meter,
                "trellis.drift.ks.statistic",
                "two-sample Kolmogorov-Smirnov statistic against the baseline (numeric features and the score)",
                FeatureDrift::ksStatistic));
        instruments.add(featureGauge(
                meter, "trellis.drift.missing.rate", "missing rate in the live window", FeatureDrift::liveMissingRate));
    }

    private ObservableDoubleGauge featureGauge(
            Meter meter, String name, String description, ToDoubleFunction<FeatureDrift> value) {
        return meter.gaugeBuilder(name)
                .setDescription(description)
                .buildWithCallback((ObservableDoubleMeasurement m) -> {
                    for (ProfileWindow window : profiles.windows()) {
                        for (FeatureDrift drift : report(window).features()) {
                            m.record(
                                    value.applyAsDouble(drift),
                                    version(window).toBuilder()
                                            .put(FEATURE, drift.feature())
                                            .build());
                        }
                    }
                });
    }

    private static Attributes version(ProfileWindow window) {
        return Attributes.of(MODEL, window.model(), VERSION, Integer.toString(window.version()));
    }

    /** The version's drift, recomputed when older than a second; windows that closed leave the cache. */
    DriftReport report(ProfileWindow window) {
        long now = System.nanoTime();
        cache.keySet().retainAll(profiles.windows());
        Cached cached = cache.get(window);
        if (cached == null || now - cached.nanos() > CACHE_NANOS) {
            ProfileWindow.Snapshot snapshot = window.snapshot();
            cached = new Cached(now, calculator.compare(window.baseline(), snapshot.features(), snapshot.score()));
            cache.put(window, cached);
        }
        return cached.report();
    }

    @Override
    public void close() {
        for (AutoCloseable instrument : instruments) {
            try {
                instrument.close();
            } catch (Exception e) {
                // closing a callback registration does not fail
            }
        }
        instruments.clear();
    }

    private record Cached(long nanos, DriftReport report) {}
}
