package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.CalibrationBin;
import dev.trellis.api.v1.LabelMix;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.api.v1.VersionPerformance;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * The live performance of the tracked (model, metric) pairs as {@link PerformanceRefresh} last
 * computed it over its trailing window, as Prometheus gauges labelled model, version and metric:
 * {@code trellis_performance_outcomes} (samples with an outcome, every version with samples); for a
 * binary target with sufficient data {@code _auc}, {@code _auc_change} (live minus the bundle's test
 * AUC, when the bundle has one), {@code _brier} and per score decile
 * {@code _calibration_observed_rate} / {@code _calibration_mean_score}; for a continuous target
 * {@code _rmse}, {@code _mae}, {@code _r2} and {@code _rmse_change}; for both, per label
 * {@code _label_rows} and {@code _label_mean_observed}. Label sets are bounded: versions of the
 * tracked models, ten deciles, the bundle's labels. Scrapes only read the last computed figures.
 * Thread-safe.
 */
public final class PerformanceGauges {
    private static final AttributeKey<String> MODEL = AttributeKey.stringKey("model");
    private static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");
    private static final AttributeKey<String> METRIC = AttributeKey.stringKey("metric");
    private static final AttributeKey<String> DECILE = AttributeKey.stringKey("decile");
    private static final AttributeKey<String> LABEL = AttributeKey.stringKey("label");

    private final Set<TrackedMetric> tracked = ConcurrentHashMap.newKeySet();
    private final Map<TrackedMetric, List<VersionPerformance>> latest = new ConcurrentHashMap<>();

    @Inject
    public PerformanceGauges(OpenTelemetry openTelemetry) {
        Meter meter = requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.router.monitoring");
        gauge(meter, "outcomes", "logged samples with an outcome", p -> true, p -> p.getWithOutcome());
        Predicate<VersionPerformance> binary = p -> p.getSufficient() && !regression(p);
        Predicate<VersionPerformance> continuous = p -> p.getSufficient() && regression(p);
        gauge(meter, "auc", "live AUC of the version's logged scores against outcomes", binary, p -> p.getAuc());
        gauge(
                meter,
                "auc_change",
                "live AUC minus the bundle's held-out test AUC",
                binary.and(p -> p.containsBundleTestMetrics("auc_roc")),
                VersionPerformance::getAucChange);
        gauge(meter, "brier", "live Brier score", binary, VersionPerformance::getBrier);
        gauge(meter, "rmse", "live RMSE of the predicted values (target units)", continuous, p -> p.getRmse());
        gauge(meter, "mae", "live MAE of the predicted values (target units)", continuous, p -> p.getMae());
        gauge(meter, "r2", "live R² of the predicted values", continuous, p -> p.getR2());
        gauge(
                meter,
                "rmse_change",
                "live RMSE minus the bundle's held-out test RMSE",
                continuous.and(p -> p.containsBundleTestMetrics("rmse")),
                p -> p.getRmseChange());
        meter.gaugeBuilder("trellis.performance.calibration_observed_rate")
                .setDescription("observed positive rate of the samples in a score decile")
                .buildWithCallback(m -> forEach(binary, (metric, p) -> {
                    for (CalibrationBin bin : p.getCalibrationList()) {
                        m.record(bin.getObservedRate(), decile(metric, p, bin));
                    }
                }));
        meter.gaugeBuilder("trellis.performance.calibration_mean_score")
                .setDescription("mean score of the samples in a score decile")
                .buildWithCallback(m -> forEach(binary, (metric, p) -> {
                    for (CalibrationBin bin : p.getCalibrationList()) {
                        m.record(bin.getMeanScore(), decile(metric, p, bin));
                    }
                }));
        meter.gaugeBuilder("trellis.performance.label_rows")
                .ofLongs()
                .setDescription("samples with an outcome per label")
                .buildWithCallback(m -> forEach(p -> true, (metric, p) -> {
                    for (LabelMix label : p.getLabelsList()) {
                        m.record(label.getRows(), label(metric, p, label));
                    }
                }));
        meter.gaugeBuilder("trellis.performance.label_mean_observed")
                .setDescription("mean observed value per label (the positive rate for a binary target)")
                .buildWithCallback(m -> forEach(p -> true, (metric, p) -> {
                    for (LabelMix label : p.getLabelsList()) {
                        m.record(label.getMeanObserved(), label(metric, p, label));
                    }
                }));
    }

    private static boolean regression(VersionPerformance p) {
        return p.getTargetKind() == TargetKind.TARGET_KIND_REGRESSION;
    }

    private void gauge(
            Meter meter,
            String name,
            String description,
            Predicate<VersionPerformance> when,
            ToDoubleFunction<VersionPerformance> value) {
        meter.gaugeBuilder("trellis.performance." + name)
                .setDescription(description)
                .buildWithCallback(m ->
                        forEach(when, (metric, p) -> m.record(value.applyAsDouble(p), attributes(metric, p))));
    }

    private void forEach(
            Predicate<VersionPerformance> when, java.util.function.BiConsumer<String, VersionPerformance> action) {
        latest.forEach(
                (tracked, versions) -> versions.stream().filter(when).forEach(p -> action.accept(tracked.metric(), p)));
    }

    private static Attributes attributes(String metric, VersionPerformance p) {
        return Attributes.of(MODEL, p.getModel(), VERSION, p.getVersion(), METRIC, metric);
    }

    private static Attributes decile(String metric, VersionPerformance p, CalibrationBin bin) {
        return attributes(metric, p).toBuilder()
                .put(DECILE, Integer.toString(bin.getDecile()))
                .build();
    }

    private static Attributes label(String metric, VersionPerformance p, LabelMix label) {
        return attributes(metric, p).toBuilder().put(LABEL, label.getLabel()).build();
    }

    /** Keeps the pair's gauges fresh from now on; true when it was not tracked yet. */
    boolean track(TrackedMetric metric) {
        return tracked.add(requireNonNull(metric, "metric is null"));
    }

    Set<TrackedMetric> tracked() {
        return Set.copyOf(tracked);
    }

    /** Replaces the pair's figures: versions no longer in {@code versions} disappear from the gauges. */
    void replace(TrackedMetric metric, List<VersionPerformance> versions) {
        latest.put(requireNonNull(metric, "metric is null"), List.copyOf(versions));
    }

    /** The figures the gauges show for the pair (empty before its first refresh). */
    List<VersionPerformance> latest(TrackedMetric metric) {
        return latest.getOrDefault(metric, List.of());
    }
}
