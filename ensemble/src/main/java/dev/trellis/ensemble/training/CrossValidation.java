package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.Metrics;
import dev.trellis.ensemble.metrics.RegressionMetricSet;
import dev.trellis.ensemble.stacking.MetaModel;
import dev.trellis.ensemble.stacking.MetaSelection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * {@code trellis evaluate --cv R×K}: repeated stratified K-fold cross-validation of the whole
 * training recipe. For every repetition the rows are dealt into K stratified folds (seed + repetition);
 * for every outer fold k, the recipe is run on the other folds exactly as {@code trellis train} runs
 * it, with those K − 1 folds as its stacking folds, and scored on fold k, which it never saw:
 * tuning (with {@code --tune}) on the K − 1 folds, each base model's out-of-fold outputs from fits
 * without fold k and the inner fold, the meta-learner chosen on them, and the base models refit on
 * all K − 1 folds. Nothing of fold k reaches any choice made for it, so every figure is honest.
 *
 * <p>Without tuning the base-model fits are shared between outer folds: the fit without folds
 * {a, b} serves outer fold a's inner fold b and outer fold b's inner fold a, so a repetition costs
 * K(K − 1)/2 + K fits per base model instead of K². Deterministic: every fit is seeded and results
 * are gathered by position. Not thread-safe; one run at a time.
 */
public final class CrossValidation {
    private final TrainingOptions options;
    private final ProgressListener progress;

    public CrossValidation(TrainingOptions options, ProgressListener progress) {
        this.options = requireNonNull(options, "options is null");
        this.progress = requireNonNull(progress, "progress is null");
    }

    /**
     * One model's metrics on one outer fold: for a binary target auc_roc, pr_auc, brier, log_loss,
     * top_k_hits, top_k_recall (hits / positives, k = 20% of the fold); for a continuous one rmse,
     * mae, r2, baseline_rmse, and interval_coverage for the ensemble.
     */
    public record FoldMetrics(int repeat, int fold, String model, Map<String, Double> metrics) {
        public FoldMetrics {
            metrics = Map.copyOf(metrics);
        }
    }

    /**
     * @param models the base models and "ensemble", in table order
     * @param choices per outer fold, the meta-learner's choice ("stacked" or "single:&lt;model&gt;")
     * @param seconds wall time of the whole run
     */
    public record Result(
            TargetKind kind,
            int repeats,
            int folds,
            List<String> models,
            List<FoldMetrics> metrics,
            List<String> choices,
            Hyperparameters params,
            double seconds) {
        public Result {
            models = List.copyOf(models);
            metrics = List.copyOf(metrics);
            choices = List.copyOf(choices);
        }

        /** Per model, the values of one metric over every outer fold, in run order. */
        public Map<String, double[]> values(String metric) {
            Map<String, double[]> out = new LinkedHashMap<>();
            for (String model : models) {
                out.put(
                        model,
                        metrics.stream()
                                .filter(m ->
                                        m.model().equals(model) && m.metrics().containsKey(metric))
                                .mapToDouble(m -> m.metrics().get(metric))
                                .toArray());
            }
            return out;
        }
    }

    /** A fit: base model, excluded outer folds, settings; with tuning, settings differ per outer fold. */
    private record FitKey(String model, List<Integer> excluded, Hyperparameters params) {}

    public Result run(Dataset data, int repeats, int folds) {
        requireNonNull(data, "data is null");
        if (repeats < 1 || folds < 3) {
            throw new IllegalArgumentException("--cv needs at least 1 repetition and 3 folds (R×K, e.g. 5x5)");
        }
        long started = System.nanoTime();
        SmallData.Plan plan = SmallData.plan(data, options);
        plan.warning().ifPresent(warning -> progress.step("warning: " + warning));
        TrainingData all = new TrainingData(data);
        List<String> models = new ArrayList<>(List.of(BaseFit.XGBOOST, BaseFit.LIGHTGBM));
        if (plan.mlp()) {
            models.add(BaseFit.MLP);
        }
        int[] strata = Folds.strata(data);
        List<FoldMetrics> metrics = new ArrayList<>();
        List<String> choices = new ArrayList<>();
        ExecutorService pool = Parallel.pool(options.threads());
        try {
            for (int r = 0; r < repeats; r++) {
                long seed = options.seed() + r;
                int[] fold = Folds.folds(strata, folds, seed);
                Hyperparameters[] params = new Hyperparameters[folds];
                for (int k = 0; k < folds; k++) {
                    params[k] = plan.params();
                    if (options.tune()) {
                        progress.step(String.format(
                                Locale.ROOT, "repetition %d/%d, fold %d/%d: tuning", r + 1, repeats, k + 1, folds));
                        int[] rows = Folds.where(fold, k, false);
                        int[] inner = new int[rows.length];
                        for (int i = 0; i < rows.length; i++) {
                            inner[i] = fold[rows[i]] < k ? fold[rows[i]] : fold[rows[i]] - 1;
                        }
                        params[k] = new Tuner(all, rows, inner, folds - 1, seed, pool, ProgressListener.NONE)
                                .tune(plan.params(), models, options.tuneBudget(), options.threads())
                                .params();
                    }
                }
                Map<FitKey, Future<double[]>> fits = new LinkedHashMap<>();
                for (int k = 0; k < folds; k++) {
                    for (String model : models) {
                        submit(fits, pool, all, fold, model, List.of(k), params[k], seed);
                        for (int j = 0; j < folds; j++) {
                            if (j != k) {
                                submit(
                                        fits,
                                        pool,
                                        all,
                                        fold,
                                        model,
                                        List.of(Math.min(j, k), Math.max(j, k)),
                                        params[k],
                                        seed);
                            }
                        }
                    }
                }
                progress.step(String.format(
                        Locale.ROOT, "repetition %d/%d: %d base-model fits", r + 1, repeats, fits.size()));
                for (int k = 0; k < folds; k++) {
                    int[] trainRows = Folds.where(fold, k, false);
                    int[] testRows = Folds.where(fold, k, true);
                    double[][] inner = new double[trainRows.length][models.size()];
                    double[][] outer = new double[testRows.length][models.size()];
                    for (int m = 0; m < models.size(); m++) {
                        String model = models.get(m);
                        double[] own = Parallel.get(fits.get(new FitKey(model, List.of(k), params[k])));
                        for (int i = 0; i < testRows.length; i++) {
                            outer[i][m] = own[testRows[i]];
                        }
                        for (int i = 0; i < trainRows.length; i++) {
                            int j = fold[trainRows[i]];
                            double[] pair = Parallel.get(
                                    fits.get(new FitKey(model, List.of(Math.min(j, k), Math.max(j, k)), params[k])));
                            inner[i][m] = pair[trainRows[i]];
                        }
                    }
                    MetaSelection.Selection selection = select(all, trainRows, inner, models, params[k].meta());
                    choices.add(
                            selection.choice().kind().equals(MetaSelection.STACKED)
                                    ? MetaSelection.STACKED
                                    : MetaSelection.SINGLE + ":"
                                            + selection.choice().base());
                    double[] ensemble = new double[testRows.length];
                    MetaModel meta = selection.meta();
                    for (int i = 0; i < testRows.length; i++) {
                        ensemble[i] = meta.score(meta.link(outer[i]));
                    }
                    metrics.addAll(foldMetrics(all, r, k, models, trainRows, testRows, outer, ensemble, meta));
                }
                progress.step(String.format(
                        Locale.ROOT,
                        "repetition %d/%d done (%.1fs)",
                        r + 1,
                        repeats,
                        (System.nanoTime() - started) / 1e9));
            }
        } finally {
            Parallel.shutdown(pool);
        }
        List<String> columns = new ArrayList<>(models);
        columns.add(TrainingResult.ENSEMBLE);
        return new Result(
                data.kind(),
                repeats,
                folds,
                columns,
                metrics,
                choices,
                plan.params(),
                (System.nanoTime() - started) / 1e9);
    }

    private static void submit(
            Map<FitKey, Future<double[]>> fits,
            ExecutorService pool,
            TrainingData data,
            int[] fold,
            String model,
            List<Integer> excluded,
            Hyperparameters params,
            long seed) {
        fits.computeIfAbsent(
                new FitKey(model, excluded, params),
                key -> pool.submit(() -> {
                    int[] fitRows = Arrays.stream(rowsOf(fold))
                            .filter(i -> !excluded.contains(fold[i]))
                            .toArray();
                    int[] predictRows = Arrays.stream(rowsOf(fold))
                            .filter(i -> excluded.contains(fold[i]))
                            .toArray();
                    double[] out = new double[fold.length];
                    Arrays.fill(out, Double.NaN);
                    try (BaseFit.Fitted fitted = BaseFit.fit(model, data, fitRows, params, seed)) {
                        double[] predicted = fitted.predict(data, predictRows);
                        for (int i = 0; i < predictRows.length; i++) {
                            out[predictRows[i]] = predicted[i];
                        }
                    }
                    return out;
                }));
    }

    private static int[] rowsOf(int[] fold) {
        int[] rows = new int[fold.length];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = i;
        }
        return rows;
    }

    private static MetaSelection.Selection select(
            TrainingData data, int[] rows, double[][] inner, List<String> models, Hyperparameters.Meta meta) {
        return data.kind() == TargetKind.BINARY
                ? MetaSelection.binary(inner, data.labels(rows), models, meta.l2(), meta.nonNegative(), meta.fallback())
                : MetaSelection.regression(inner, data.values(rows), models, meta.fallback());
    }

    private static List<FoldMetrics> foldMetrics(
            TrainingData data,
            int repeat,
            int fold,
            List<String> models,
            int[] trainRows,
            int[] testRows,
            double[][] outer,
            double[] ensemble,
            MetaModel meta) {
        List<FoldMetrics> out = new ArrayList<>();
        boolean binary = data.kind() == TargetKind.BINARY;
        Map<String, double[]> scores = Trainer.byModel(models, outer, ensemble, binary);
        if (binary) {
            int[] labels = data.labels(testRows);
            int k = Trainer.topK(testRows.length);
            int positives = Arrays.stream(labels).sum();
            scores.forEach((model, p) -> {
                MetricSet m = Metrics.compute(p, labels, 0.5, k);
                Map<String, Double> values = new LinkedHashMap<>();
                values.put("auc_roc", m.aucRoc());
                values.put("pr_auc", m.prAuc());
                values.put("brier", m.brier());
                values.put("log_loss", m.logLoss());
                values.put("top_k_hits", (double) m.topKHits());
                values.put("top_k_recall", positives == 0 ? Double.NaN : (double) m.topKHits() / positives);
                out.add(new FoldMetrics(repeat, fold, model, values));
            });
        } else {
            double[] targets = data.values(testRows);
            double baseline = Trainer.mean(data.values(trainRows));
            double[] lower = new double[testRows.length];
            double[] upper = new double[testRows.length];
            for (int i = 0; i < testRows.length; i++) {
                double[] interval = meta.interval(outer[i], ensemble[i]);
                lower[i] = interval[0];
                upper[i] = interval[1];
            }
            scores.forEach((model, predictions) -> {
                boolean ensembleRow = model.equals(TrainingResult.ENSEMBLE);
                RegressionMetricSet m = RegressionMetricSet.compute(
                        predictions, targets, baseline, ensembleRow ? lower : null, ensembleRow ? upper : null);
                out.add(new FoldMetrics(repeat, fold, model, m.toMap()));
            });
        }
        return out;
    }
}
