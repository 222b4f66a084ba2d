package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.monitoring.Baseline;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.stacking.StackedEnsemble;
import java.util.Map;

/**
 * A trained ensemble, its metrics and where it came from.
 *
 * @param metrics split ("out_of_fold", "test") → model ("xgboost", "lightgbm", "mlp", "ensemble") → metrics
 * @param metricThresholds model → threshold of its classification metrics
 * @param baseline what drift monitoring compares production with: the training rows' feature
 *     profiles and the out-of-fold score distribution
 */
public record TrainingResult(
        StackedEnsemble ensemble,
        Map<String, Map<String, MetricSet>> metrics,
        Map<String, Double> metricThresholds,
        String dataFile,
        String dataSha256,
        int rows,
        int positives,
        int trainRows,
        int testRows,
        TrainingOptions options,
        Baseline baseline)
        implements AutoCloseable {
    public static final String OUT_OF_FOLD = "out_of_fold";
    public static final String TEST = "test";
    public static final String ENSEMBLE = "ensemble";

    public TrainingResult {
        requireNonNull(ensemble, "ensemble is null");
        // keep insertion order (splits, then models) so bundle.json and tables read in a stable order
        metrics = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(metrics));
        metricThresholds = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(metricThresholds));
        requireNonNull(dataFile, "dataFile is null");
        requireNonNull(dataSha256, "dataSha256 is null");
        requireNonNull(options, "options is null");
        requireNonNull(baseline, "baseline is null");
    }

    @Override
    public void close() {
        ensemble.close();
    }
}
