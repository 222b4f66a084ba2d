package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.monitoring.Baseline;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.RegressionMetricSet;
import dev.trellis.ensemble.stacking.EnsembleParts;
import dev.trellis.ensemble.stacking.MetaSelection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A trained ensemble, its metrics and where it came from.
 *
 * @param parts the ensemble's parts, as bundle.json records them
 * @param ensemble the scoring ensemble built from {@code parts} (it owns their native models)
 * @param metrics binary target: split ("out_of_fold", "test") → model ("xgboost", "lightgbm",
 *     "mlp", "ensemble") → metrics; empty for a continuous target
 * @param regressionMetrics continuous target: the same shape; empty for a binary target
 * @param metricThresholds model → threshold of its classification metrics
 * @param targetMean mean of the training rows' target (the positive rate of a binary one)
 * @param options the options as given
 * @param params the settings the bundle was trained with: after the small-data rules and tuning
 * @param folds the folds used (the small-data rules may lower them)
 * @param metaChoice which meta-learner was kept, and why
 * @param warnings one line each (small data), also printed by {@code trellis train}
 * @param mlpSkipped why the MLP is not in the ensemble, when it is not
 * @param tuning what {@code --tune} searched and chose, when it ran
 * @param baseline what drift monitoring compares production with: the training rows' feature
 *     profiles and the out-of-fold score distribution
 */
public record TrainingResult(
        EnsembleParts parts,
        Ensemble ensemble,
        Map<String, Map<String, MetricSet>> metrics,
        Map<String, Map<String, RegressionMetricSet>> regressionMetrics,
        Map<String, Double> metricThresholds,
        String dataFile,
        String dataSha256,
        int rows,
        int positives,
        int trainRows,
        int testRows,
        double targetMean,
        TrainingOptions options,
        Hyperparameters params,
        int folds,
        MetaSelection.Choice metaChoice,
        List<String> warnings,
        Optional<String> mlpSkipped,
        Optional<TuningReport> tuning,
        Baseline baseline)
        implements AutoCloseable {
    public static final String OUT_OF_FOLD = "out_of_fold";
    public static final String TEST = "test";
    public static final String ENSEMBLE = "ensemble";

    public TrainingResult {
        requireNonNull(parts, "parts is null");
        requireNonNull(ensemble, "ensemble is null");
        // keep insertion order (splits, then models) so bundle.json and tables read in a stable order
        metrics = Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
        regressionMetrics = Collections.unmodifiableMap(new LinkedHashMap<>(regressionMetrics));
        metricThresholds = Collections.unmodifiableMap(new LinkedHashMap<>(metricThresholds));
        requireNonNull(dataFile, "dataFile is null");
        requireNonNull(dataSha256, "dataSha256 is null");
        requireNonNull(options, "options is null");
        requireNonNull(params, "params is null");
        requireNonNull(metaChoice, "metaChoice is null");
        warnings = List.copyOf(warnings);
        requireNonNull(mlpSkipped, "mlpSkipped is null");
        requireNonNull(tuning, "tuning is null");
        requireNonNull(baseline, "baseline is null");
    }

    public TargetKind kind() {
        return parts.kind();
    }

    /**
     * What tuning did, for the training report and bundle.json.
     *
     * @param models per base model: configurations tried, fits, held-out loss of the starting
     *     settings and of the chosen ones, and the chosen rounds (epochs)
     * @param seconds how long the search took (the only figure that depends on the machine)
     */
    public record TuningReport(List<ModelTuning> models, double budgetSeconds, double seconds) {
        public TuningReport {
            models = List.copyOf(models);
        }
    }

    /** One base model's search. */
    public record ModelTuning(String model, int trials, int fits, double startLoss, double bestLoss, int iterations) {}

    @Override
    public void close() {
        ensemble.close();
    }
}
