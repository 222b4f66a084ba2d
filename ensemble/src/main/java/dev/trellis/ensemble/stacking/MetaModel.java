package dev.trellis.ensemble.stacking;

/**
 * The target-specific half of a stacked ensemble: how the base models' outputs {@code z} (logits for
 * a binary target, predicted values for a continuous one) combine into a score, the score's 95%
 * interval, and how much the base models agree. {@link MetaLearner} is the logistic form,
 * {@link LinearMetaLearner} the linear one. Weights are in base model order; a base model the
 * meta-learner dropped has weight 0. Implementations are immutable and thread-safe.
 */
public interface MetaModel {
    double intercept();

    double[] weights();

    /** {@code intercept + Σ wₘ·zₘ}: the ensemble logit, or the predicted value. */
    default double link(double[] z) {
        double eta = intercept();
        double[] weights = weights();
        for (int m = 0; m < weights.length; m++) {
            eta += weights[m] * z[m];
        }
        return eta;
    }

    /** The score of a link value: a probability, or the value itself. */
    double score(double link);

    /** What a base model's output reports as its own score (probability or value). */
    double baseScore(double z);

    /** The 95% interval {lower, upper} of the score; it always contains the score. */
    double[] interval(double[] z, double link);

    /** How much the base models agree, in [0, 1]. */
    double agreement(double[] z);
}
