package dev.trellis.ensemble.api;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * Ensemble output for a batch, row-aligned with the input.
 *
 * @param score per row, the calibrated probability (binary target) or the predicted value
 *     (continuous target, see {@link TargetKind})
 * @param label label per row from the bundle's thresholds (hot / warm / lukewarm / cold, or tiers
 *     A / B / C / D for a continuous target)
 * @param lower lower bound of the 95% interval per row
 * @param upper upper bound of the 95% interval per row
 * @param agreement how much the base models agree per row, in [0, 1]
 * @param baseModels base model names, column order of {@code baseScores}
 * @param baseScores per row, each base model's probability (or predicted value)
 * @param explanations present when explanations were requested
 */
public record Predictions(
        double[] score,
        String[] label,
        double[] lower,
        double[] upper,
        double[] agreement,
        List<String> baseModels,
        double[][] baseScores,
        Optional<Explanations> explanations) {
    public Predictions {
        requireNonNull(score, "score is null");
        requireNonNull(label, "label is null");
        requireNonNull(lower, "lower is null");
        requireNonNull(upper, "upper is null");
        requireNonNull(agreement, "agreement is null");
        baseModels = List.copyOf(requireNonNull(baseModels, "baseModels is null"));
        requireNonNull(baseScores, "baseScores is null");
        requireNonNull(explanations, "explanations is null");
    }

    public int rows() {
        return score.length;
    }

    /**
     * Additive explanation in log-odds (in the target's units for a continuous target): for each row,
     * {@code baseValue + sum(contributions) + mlpTerm == logit} (exact up to float rounding for the
     * tree parts; the MLP is reported as one term).
     *
     * @param contributions per row, one value per schema feature, in schema order
     * @param baseValue per row: meta intercept plus the weighted tree base values
     * @param mlpTerm per row: meta weight times the MLP's logit
     * @param logit per row: the ensemble logit
     */
    public record Explanations(double[][] contributions, double[] baseValue, double[] mlpTerm, double[] logit) {
        public Explanations {
            requireNonNull(contributions, "contributions is null");
            requireNonNull(baseValue, "baseValue is null");
            requireNonNull(mlpTerm, "mlpTerm is null");
            requireNonNull(logit, "logit is null");
        }
    }
}
