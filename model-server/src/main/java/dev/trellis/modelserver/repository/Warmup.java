package dev.trellis.modelserver.repository;

import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.api.TargetKind;

/**
 * Scores synthetic rows before a version is served, so the first real request does not pay for
 * lazy native initialisation, and a bundle that loads but cannot score is refused.
 */
final class Warmup {
    private static final int ROWS = 4;

    private Warmup() {}

    static void run(Ensemble ensemble) {
        FeatureBatch batch = syntheticRows(ensemble.schema());
        for (boolean explain : new boolean[] {false, true, false}) {
            Predictions predictions = ensemble.predict(batch, explain);
            if (predictions.rows() != batch.rows()) {
                throw new IllegalStateException("warm-up returned " + predictions.rows() + " rows for " + batch.rows());
            }
            boolean probabilities = ensemble.targetKind() == TargetKind.BINARY;
            for (double score : predictions.score()) {
                // a predicted value may leave the training range (trees do not, the MLP may): only finite
                if (probabilities ? !(score >= 0 && score <= 1) : !Double.isFinite(score)) {
                    throw new IllegalStateException(
                            "warm-up score " + (probabilities ? "out of [0, 1]: " : "not finite: ") + score);
                }
            }
        }
        // a single row too: the path most requests take when the server is idle
        ensemble.predict(syntheticRows(ensemble.schema(), 1), false);
    }

    static FeatureBatch syntheticRows(FeatureSchema schema) {
        return syntheticRows(schema, ROWS);
    }

    /** Row 0: numeric 0 and the first category; row 1: all missing; others alternate. */
    static FeatureBatch syntheticRows(FeatureSchema schema, int rows) {
        FeatureBatch batch = new FeatureBatch(schema, rows);
        for (int row = 0; row < rows; row++) {
            boolean missing = row % 2 == 1;
            for (int i = 0; i < schema.size(); i++) {
                Feature feature = schema.features().get(i);
                if (missing) {
                    continue;
                }
                if (feature.type() == FeatureType.NUMERIC) {
                    batch.setNumeric(row, i, row);
                } else if (!feature.vocabulary().isEmpty()) {
                    batch.setCategorical(
                            row,
                            i,
                            feature.vocabulary().get(row % feature.vocabulary().size()));
                }
            }
        }
        return batch;
    }
}
