package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.api.TargetRange;
import dev.trellis.ensemble.data.TargetScaling;
import dev.trellis.ensemble.stacking.EnsembleParts;
import dev.trellis.ensemble.stacking.LabelThresholds;
import dev.trellis.ensemble.stacking.MetaSelection;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Stacks the base models on some training rows: K-fold out-of-fold outputs of every base model, the
 * meta-learner chosen on them ({@link MetaSelection}), label cut points from the ensemble's
 * out-of-fold scores, and the base models refit on all the rows. Every (fold, model) fit and every
 * refit is an independent task on the pool. Not thread-safe; one stacking per instance.
 */
final class Stacker {
    private final TrainingData data;
    private final ExecutorService pool;
    private final ProgressListener progress;
    private final long started;

    Stacker(TrainingData data, ExecutorService pool, ProgressListener progress, long started) {
        this.data = requireNonNull(data, "data is null");
        this.pool = requireNonNull(pool, "pool is null");
        this.progress = requireNonNull(progress, "progress is null");
        this.started = started;
    }

    /**
     * A stacked ensemble and what it was chosen on.
     *
     * @param outOfFold per training row (in {@code rows} order), each base model's out-of-fold output
     */
    record Stack(EnsembleParts parts, double[][] outOfFold, MetaSelection.Selection selection) {}

    /**
     * @param rows the training rows of the data
     * @param fold the fold of each of {@code rows} (parallel to it)
     */
    Stack fit(int[] rows, int[] fold, int folds, Hyperparameters params, List<String> models, long seed) {
        int n = rows.length;
        double[][] oof = new double[n][models.size()];
        List<Future<BaseFit.Fitted>> refits = new ArrayList<>();
        List<Future<?>> tasks = new ArrayList<>();
        try {
            String refit = "refit on all " + n + " training rows";
            for (String model : models) {
                refits.add(pool.submit(() -> timed(refit, model, () -> BaseFit.fit(model, data, rows, params, seed))));
            }
            for (int k = 0; k < folds; k++) {
                int[] fitPositions = Folds.where(fold, k, false);
                int[] holdPositions = Folds.where(fold, k, true);
                int[] fitRows = select(rows, fitPositions);
                int[] holdRows = select(rows, holdPositions);
                String step = "fold " + (k + 1) + "/" + folds;
                for (int m = 0; m < models.size(); m++) {
                    String model = models.get(m);
                    int column = m;
                    tasks.add(pool.submit(() -> {
                        try (BaseFit.Fitted fitted =
                                timed(step, model, () -> BaseFit.fit(model, data, fitRows, params, seed))) {
                            double[] out = fitted.predict(data, holdRows);
                            // distinct (row, model) cells per task; Future.get() publishes the writes
                            for (int i = 0; i < holdPositions.length; i++) {
                                oof[holdPositions[i]][column] = out[i];
                            }
                        }
                        return null;
                    }));
                }
            }
            for (Future<?> task : tasks) {
                Parallel.get(task);
            }
            List<BaseFit.Fitted> fitted = new ArrayList<>();
            for (Future<BaseFit.Fitted> task : refits) {
                fitted.add(Parallel.get(task));
            }
            return assemble(rows, oof, fitted, models, params);
        } catch (RuntimeException | Error e) {
            tasks.forEach(task -> task.cancel(true));
            for (Future<BaseFit.Fitted> task : refits) {
                task.cancel(true);
                if (task.isDone() && !task.isCancelled()) {
                    try {
                        task.get().close();
                    } catch (Exception ignored) {
                        // already failing; keep the first error
                    }
                }
            }
            throw e;
        }
    }

    private Stack assemble(
            int[] rows, double[][] oof, List<BaseFit.Fitted> fitted, List<String> models, Hyperparameters params) {
        boolean binary = data.kind() == TargetKind.BINARY;
        Hyperparameters.Meta meta = params.meta();
        progress.step((binary
                        ? "meta-learner: logistic regression on out-of-fold logits"
                        : "meta-learner: linear" + " regression on out-of-fold predictions")
                + elapsed());
        MetaSelection.Selection selection = binary
                ? MetaSelection.binary(oof, data.labels(rows), models, meta.l2(), meta.nonNegative(), meta.fallback())
                : MetaSelection.regression(oof, data.values(rows), models, meta.fallback());
        progress.step("meta-learner " + selection.choice().reason());
        BaseFit.Fitted mlp = models.contains(BaseFit.MLP) ? fitted.get(models.indexOf(BaseFit.MLP)) : null;
        EnsembleParts parts = new EnsembleParts(
                data.kind(),
                data.dataset().schema(),
                binary ? TargetRange.PROBABILITY : range(data.values(rows)),
                fitted.get(models.indexOf(BaseFit.XGBOOST)).xgboost,
                fitted.get(models.indexOf(BaseFit.LIGHTGBM)).lightgbm,
                mlp == null ? null : mlp.mlp,
                mlp == null ? null : mlp.encoder,
                mlp == null ? TargetScaling.IDENTITY : mlp.targetScaling,
                selection.meta(),
                LabelThresholds.fromScores(selection.scores()));
        return new Stack(parts, oof, selection);
    }

    private static TargetRange range(double[] values) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double value : values) {
            min = Math.min(min, value);
            max = Math.max(max, value);
        }
        return new TargetRange(min, max);
    }

    private static int[] select(int[] rows, int[] positions) {
        int[] out = new int[positions.length];
        for (int i = 0; i < positions.length; i++) {
            out[i] = rows[positions[i]];
        }
        return out;
    }

    private interface Fit {
        BaseFit.Fitted run();
    }

    private BaseFit.Fitted timed(String step, String model, Fit fit) {
        long start = System.nanoTime();
        synchronized (progress) {
            progress.step(step + ": fitting " + model + elapsed());
        }
        BaseFit.Fitted fitted = fit.run();
        synchronized (progress) {
            progress.step(String.format(
                    Locale.ROOT,
                    "%s: fitted %s in %.1fs%s",
                    step,
                    model,
                    (System.nanoTime() - start) / 1e9,
                    elapsed()));
        }
        return fitted;
    }

    private String elapsed() {
        return String.format(Locale.ROOT, " (%.1fs)", (System.nanoTime() - started) / 1e9);
    }
}
