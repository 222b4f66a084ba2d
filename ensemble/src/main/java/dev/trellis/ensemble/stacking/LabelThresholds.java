package dev.trellis.ensemble.stacking;

import dev.trellis.ensemble.metrics.Metrics;

/**
 * Cut points of the score labels: {@code hot} when score ≥ hot, {@code warm} when ≥ warm,
 * {@code lukewarm} when ≥ lukewarm, else {@code cold}. Defaults are quantiles of the out-of-fold
 * ensemble scores: the top 10% are hot, the next 20% warm, the next 30% lukewarm, the rest cold.
 * A continuous target uses the same cuts on its predicted values under the names of
 * {@link #TIERS}: A, B, C, D.
 */
public record LabelThresholds(double hot, double warm, double lukewarm) {
    public static final String HOT = "hot";
    public static final String WARM = "warm";
    public static final String LUKEWARM = "lukewarm";
    public static final String COLD = "cold";
    /** Labels of a continuous target's predictions, highest first. */
    public static final java.util.List<String> TIERS = java.util.List.of("A", "B", "C", "D");

    public LabelThresholds {
        if (!(hot >= warm && warm >= lukewarm) || !Double.isFinite(hot) || !Double.isFinite(lukewarm)) {
            throw new IllegalArgumentException(
                    "thresholds must satisfy hot >= warm >= lukewarm: " + hot + ", " + warm + ", " + lukewarm);
        }
    }

    public static LabelThresholds fromScores(double[] scores) {
        return new LabelThresholds(
                Metrics.quantile(scores, 0.90), Metrics.quantile(scores, 0.70), Metrics.quantile(scores, 0.40));
    }

    public String label(double score) {
        return switch (rank(score)) {
            case 0 -> HOT;
            case 1 -> WARM;
            case 2 -> LUKEWARM;
            default -> COLD;
        };
    }

    /** The tier (A, B, C or D) of a continuous target's predicted value. */
    public String tier(double value) {
        return TIERS.get(rank(value));
    }

    private int rank(double score) {
        if (score >= hot) {
            return 0;
        }
        if (score >= warm) {
            return 1;
        }
        if (score >= lukewarm) {
            return 2;
        }
        return 3;
    }
}
