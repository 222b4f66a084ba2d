package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.Metrics;
import dev.trellis.ensemble.metrics.RegressionMetricSet;
import dev.trellis.ensemble.stacking.MetaLearner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;

/**
 * Trains the stacked ensemble: the small-data rules ({@link SmallData}), a stratified train/test
 * split, optionally tuning ({@link Tuner}) inside the training rows, stratified K-fold out-of-fold
 * outputs of the base models, the meta-learner chosen on them, base models refit on all training
 * rows, and metrics out-of-fold and on the test rows. Deterministic for a given seed: every fit is
 * seeded and single-threaded, and results are gathered by position.
 *
 * <p>Classification metrics (accuracy, precision, recall, F1) of each model use that model's
 * "hot + warm" cut: the 70th percentile of its own out-of-fold scores, i.e. the top 30% are called
 * positive. For the ensemble this is exactly the bundle's {@code warm} label threshold. Top-k hits use
 * k = round(20% of the rows evaluated), the CoIL 2000 task's 800 of 4,000.
 */
public final class Trainer {
    public static final double POSITIVE_FRACTION = 0.30;
    public static final double TOP_K_FRACTION = 0.20;

    private final TrainingOptions options;
    private final ProgressListener progress;
    private final long started = System.nanoTime();

    public Trainer(TrainingOptions options, ProgressListener progress) {
        this.options = requireNonNull(options, "options is null");
        this.progress = requireNonNull(progress, "progress is null");
    }

    public static int topK(int rows) {
        return (int) Math.round(TOP_K_FRACTION * rows);
    }

    /**
     * @throws IllegalArgumentException when there is too little data to train (see {@link SmallData})
     */
    public TrainingResult train(Dataset data) {
        requireNonNull(data, "data is null");
        SmallData.Plan plan = SmallData.plan(data, options);
        plan.warning().ifPresent(warning -> progress.step("warning: " + warning));
        TrainingData all = new TrainingData(data);
        int[] strata = Folds.strata(data);
        int[][] split = Folds.split(strata, plan.testFraction(), options.seed());
        int[] trainRows = split[0];
        int[] testRows = split[1];
        int[] trainStrata = new int[trainRows.length];
        for (int i = 0; i < trainRows.length; i++) {
            trainStrata[i] = strata[trainRows[i]];
        }
        int[] fold = Folds.folds(trainStrata, plan.folds(), options.seed() + 1);
        List<String> models = new ArrayList<>(List.of(BaseFit.XGBOOST, BaseFit.LIGHTGBM));
        if (plan.mlp()) {
            models.add(BaseFit.MLP);
        }
        ExecutorService pool = Parallel.pool(options.threads());
        Hyperparameters params = plan.params();
        Optional<TrainingResult.TuningReport> tuning = Optional.empty();
        Stacker.Stack stack;
        try {
            if (options.tune()) {
                progress.step("tuning within " + options.tuneBudget().toSeconds() + "s of planned work" + elapsed());
                Tuner.Result tuned = new Tuner(all, trainRows, fold, plan.folds(), options.seed(), pool, progress)
                        .tune(params, models, options.tuneBudget(), options.threads());
                params = tuned.params();
                tuning = Optional.of(report(tuned, options));
            }
            stack = new Stacker(all, pool, progress, started)
                    .fit(trainRows, fold, plan.folds(), params, models, options.seed());
        } finally {
            Parallel.shutdown(pool);
        }
        Ensemble ensemble = stack.parts().toEnsemble();
        try {
            progress.step("evaluating" + elapsed());
            Map<String, Map<String, MetricSet>> metrics = new LinkedHashMap<>();
            Map<String, Map<String, RegressionMetricSet>> regression = new LinkedHashMap<>();
            Map<String, Double> metricThresholds = new LinkedHashMap<>();
            Dataset test = testRows.length == 0 ? null : data.subset(testRows);
            if (data.kind() == TargetKind.BINARY) {
                int[] labels = all.labels(trainRows);
                Map<String, double[]> oofScores =
                        byModel(models, stack.outOfFold(), stack.selection().scores(), true);
                oofScores.forEach(
                        (name, scores) -> metricThresholds.put(name, Metrics.quantile(scores, 1 - POSITIVE_FRACTION)));
                metricThresholds.put(
                        TrainingResult.ENSEMBLE, stack.parts().thresholds().warm());
                metrics.put(
                        TrainingResult.OUT_OF_FOLD, evaluate(oofScores, labels, metricThresholds, topK(labels.length)));
                if (test != null) {
                    metrics.put(TrainingResult.TEST, evaluate(ensemble, test, metricThresholds));
                }
            } else {
                double[] targets = all.values(trainRows);
                double baseline = mean(targets);
                double[] scores = stack.selection().scores();
                double[] lower = new double[scores.length];
                double[] upper = new double[scores.length];
                for (int i = 0; i < scores.length; i++) {
                    double[] interval = stack.parts().meta().interval(stack.outOfFold()[i], scores[i]);
                    lower[i] = interval[0];
                    upper[i] = interval[1];
                }
                Map<String, RegressionMetricSet> oof = new LinkedHashMap<>();
                byModel(models, stack.outOfFold(), scores, false).forEach((name, predictions) -> {
                    boolean ensembleRow = name.equals(TrainingResult.ENSEMBLE);
                    oof.put(
                            name,
                            RegressionMetricSet.compute(
                                    predictions,
                                    targets,
                                    baseline,
                                    ensembleRow ? lower : null,
                                    ensembleRow ? upper : null));
                });
                regression.put(TrainingResult.OUT_OF_FOLD, oof);
                if (test != null) {
                    regression.put(TrainingResult.TEST, evaluateRegression(ensemble, test, baseline));
                }
            }
            progress.step("done" + elapsed());
            List<String> warnings = plan.warning().map(List::of).orElse(List.of());
            return new TrainingResult(
                    stack.parts(),
                    ensemble,
                    metrics,
                    regression,
                    metricThresholds,
                    data.source().getFileName().toString(),
                    data.sha256(),
                    data.rows(),
                    data.positives(),
                    trainRows.length,
                    testRows.length,
                    mean(all.values(trainRows)),
                    options,
                    params,
                    plan.folds(),
                    stack.selection().choice(),
                    warnings,
                    plan.mlpSkipped(),
                    tuning,
                    BaselineProfiler.profile(
                            data.subset(trainRows).features(), stack.selection().scores()));
        } catch (RuntimeException | Error e) {
            ensemble.close();
            throw e;
        }
    }

    private static TrainingResult.TuningReport report(Tuner.Result tuned, TrainingOptions options) {
        List<TrainingResult.ModelTuning> models = new ArrayList<>();
        for (Tuner.ModelReport r : tuned.reports()) {
            models.add(new TrainingResult.ModelTuning(
                    r.model(), r.trials(), r.fits(), r.startLoss(), r.bestLoss(), r.iterations()));
        }
        return new TrainingResult.TuningReport(models, options.tuneBudget().toMillis() / 1000.0, tuned.seconds());
    }

    /** Per-model and ensemble metrics of a binary {@code ensemble} on {@code data}. */
    public static Map<String, MetricSet> evaluate(
            Ensemble ensemble, Dataset data, Map<String, Double> metricThresholds) {
        return evaluate(ensemble, data, metricThresholds, topK(data.rows()));
    }

    /** Per-model and ensemble metrics of a binary {@code ensemble} on {@code data}, with top-{@code k} hits. */
    public static Map<String, MetricSet> evaluate(
            Ensemble ensemble, Dataset data, Map<String, Double> metricThresholds, int k) {
        Predictions p = ensemble.predict(data.features(), false);
        return evaluate(byModel(ensemble.baseModels(), p), data.labels(), metricThresholds, k);
    }

    /** Per-model and ensemble metrics of a regression {@code ensemble} on {@code data}. */
    public static Map<String, RegressionMetricSet> evaluateRegression(
            Ensemble ensemble, Dataset data, double baseline) {
        Predictions p = ensemble.predict(data.features(), false);
        Map<String, RegressionMetricSet> result = new LinkedHashMap<>();
        byModel(ensemble.baseModels(), p).forEach((name, predictions) -> {
            boolean ensembleRow = name.equals(TrainingResult.ENSEMBLE);
            result.put(
                    name,
                    RegressionMetricSet.compute(
                            predictions,
                            data.targets(),
                            baseline,
                            ensembleRow ? p.lower() : null,
                            ensembleRow ? p.upper() : null));
        });
        return result;
    }

    static Map<String, MetricSet> evaluate(
            Map<String, double[]> scores, int[] labels, Map<String, Double> thresholds, int k) {
        Map<String, MetricSet> result = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> entry : scores.entrySet()) {
            result.put(
                    entry.getKey(),
                    Metrics.compute(entry.getValue(), labels, thresholds.getOrDefault(entry.getKey(), 0.5), k));
        }
        return result;
    }

    /** Base model → its scores (probabilities when {@code sigmoid}), then the ensemble's. */
    static Map<String, double[]> byModel(List<String> models, double[][] outputs, double[] ensemble, boolean sigmoid) {
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (int m = 0; m < models.size(); m++) {
            double[] p = new double[outputs.length];
            for (int i = 0; i < outputs.length; i++) {
                p[i] = sigmoid ? MetaLearner.sigmoid(outputs[i][m]) : outputs[i][m];
            }
            scores.put(models.get(m), p);
        }
        scores.put(TrainingResult.ENSEMBLE, ensemble);
        return scores;
    }

    private static Map<String, double[]> byModel(List<String> models, Predictions p) {
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (int m = 0; m < models.size(); m++) {
            double[] column = new double[p.rows()];
            for (int i = 0; i < column.length; i++) {
                column[i] = p.baseScores()[i][m];
            }
            scores.put(models.get(m), column);
        }
        scores.put(TrainingResult.ENSEMBLE, p.score());
        return scores;
    }

    static double mean(double[] values) {
        double sum = 0;
        for (double value : values) {
            sum += value;
        }
        return sum / values.length;
    }

    private String elapsed() {
        return String.format(Locale.ROOT, " (%.1fs)", (System.nanoTime() - started) / 1e9);
    }

    /** [train indices, test indices], each sorted; positives and negatives split separately. */
    public static int[][] stratifiedSplit(int[] labels, double testFraction, long seed) {
        return Folds.split(labels, testFraction, seed);
    }

    /** Fold number per row; each class dealt round-robin over the folds after a seeded shuffle. */
    public static int[] stratifiedFolds(int[] labels, int folds, long seed) {
        return Folds.folds(labels, folds, seed);
    }
}
