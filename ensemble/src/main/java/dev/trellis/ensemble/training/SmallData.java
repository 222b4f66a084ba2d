package dev.trellis.ensemble.training;

import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * How training adapts to little data. Below {@value #SMALL_ROWS} rows (or, for a binary target,
 * {@value #SMALL_MINORITY} rows of the rarer class) it uses fewer folds (about
 * {@value #MINORITY_PER_FOLD} rare-class rows per fold, at least 2 folds), no test split (the metrics
 * are out-of-fold), stronger regularization (shallower, more heavily penalized trees with fewer
 * rounds, a stronger meta-learner penalty), and no MLP, and says so in one warning line. Below
 * {@value #MIN_ROWS} rows (or {@value #MIN_MINORITY} of either class) it refuses.
 */
public final class SmallData {
    public static final int SMALL_ROWS = 500;
    public static final int SMALL_MINORITY = 50;
    public static final int MIN_ROWS = 40;
    public static final int MIN_MINORITY = 10;
    public static final int MINORITY_PER_FOLD = 4;
    /** Rows per fold of a small continuous target. */
    public static final int ROWS_PER_FOLD = 20;

    private SmallData() {}

    /**
     * What training does with {@code data}.
     *
     * @param folds folds to use
     * @param testFraction test share to use
     * @param params settings to use
     * @param mlp whether the MLP is trained
     * @param warning the one-line warning when training adapted
     * @param mlpSkipped why the MLP was skipped, when it was
     */
    public record Plan(
            int folds,
            double testFraction,
            Hyperparameters params,
            boolean mlp,
            Optional<String> warning,
            Optional<String> mlpSkipped) {}

    /** @throws IllegalArgumentException when there is too little data to train at all */
    public static Plan plan(Dataset data, TrainingOptions options) {
        int rows = data.rows();
        boolean binary = data.kind() == TargetKind.BINARY;
        int minority = binary ? Math.min(data.positives(), rows - data.positives()) : rows;
        String size = binary
                ? String.format(Locale.ROOT, "%,d rows, %,d in the rarer class", rows, minority)
                : String.format(Locale.ROOT, "%,d rows", rows);
        if (rows < MIN_ROWS || (binary && minority < MIN_MINORITY)) {
            throw new IllegalArgumentException(data.source() + ": too little data to train (" + size
                    + "): training needs at least " + MIN_ROWS + " rows"
                    + (binary ? " and " + MIN_MINORITY + " of each class" : ""));
        }
        boolean small = rows < SMALL_ROWS || (binary && minority < SMALL_MINORITY);
        if (!small) {
            return new Plan(
                    options.folds(),
                    options.testFraction(),
                    options.params(),
                    true,
                    Optional.empty(),
                    Optional.empty());
        }
        int folds =
                Math.max(2, Math.min(options.folds(), binary ? minority / MINORITY_PER_FOLD : rows / ROWS_PER_FOLD));
        Hyperparameters p = options.params();
        Hyperparameters.Xgboost x = p.xgboost();
        Hyperparameters.Lightgbm l = p.lightgbm();
        Hyperparameters params = p.withXgboost(new Hyperparameters.Xgboost(
                        Math.min(x.rounds(), 150),
                        Math.min(x.maxDepth(), 2),
                        Math.max(x.eta(), 0.05),
                        x.subsample(),
                        x.colsample(),
                        Math.min(x.minChildWeight(), 2),
                        Math.max(x.lambda(), 5)))
                .withLightgbm(new Hyperparameters.Lightgbm(
                        Math.min(l.rounds(), 150),
                        Math.min(l.numLeaves(), 4),
                        Math.max(l.learningRate(), 0.05),
                        Math.max(5, Math.min(l.minDataInLeaf(), rows / 20)),
                        l.featureFraction(),
                        l.baggingFraction(),
                        Math.max(l.lambdaL2(), 5)))
                .withMeta(new Hyperparameters.Meta(
                        Math.max(p.meta().l2(), 5),
                        p.meta().nonNegative(),
                        p.meta().fallback()));
        String skipped = String.format(
                Locale.ROOT,
                "MLP skipped: %,d rows is below %,d%s (a 64-32-16 network would fit noise)",
                rows,
                SMALL_ROWS,
                binary ? " or " + SMALL_MINORITY + " in the rarer class" : "");
        List<String> adaptations = new ArrayList<>();
        adaptations.add(folds + " folds");
        if (options.testFraction() > 0) {
            adaptations.add("no test split (metrics are out-of-fold)");
        }
        adaptations.add("stronger regularization (depth 2 and 4-leaf trees, L2 5, at most 150 rounds)");
        adaptations.add("MLP skipped");
        String warning = "small data (" + size + "; below " + SMALL_ROWS + " rows"
                + (binary ? " or " + SMALL_MINORITY + " in the rarer class" : "") + "): "
                + String.join(", ", adaptations);
        return new Plan(folds, 0, params, false, Optional.of(warning), Optional.of(skipped));
    }
}
