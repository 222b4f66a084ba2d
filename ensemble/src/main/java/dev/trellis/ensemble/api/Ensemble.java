package dev.trellis.ensemble.api;

import java.util.List;

/**
 * A loaded, ready-to-score stacked ensemble (XGBoost, LightGBM and an MLP combined by a
 * meta-learner: logistic for a binary target, linear for a continuous one). Implementations are
 * thread-safe: {@link #predict} may be called concurrently. Each call makes one native call per base
 * model for the whole batch.
 */
public interface Ensemble extends AutoCloseable {
    FeatureSchema schema();

    /** What the scores are: probabilities of a binary target or values of a continuous one. */
    default TargetKind targetKind() {
        return TargetKind.BINARY;
    }

    /** The range scores are read against: [0, 1], or the training target's [min, max]. */
    default TargetRange targetRange() {
        return TargetRange.PROBABILITY;
    }

    /** Base model names in the order of {@link Predictions#baseScores()} columns. */
    List<String> baseModels();

    /** Scores a batch; with {@code explain}, also per-feature contributions. */
    Predictions predict(FeatureBatch batch, boolean explain);

    /** Frees native resources. Safe to call twice. */
    @Override
    void close();
}
