package dev.trellis.ensemble.stacking;

import dev.trellis.ensemble.metrics.Metrics;

/**
 * Cut points of the score labels: {@code hot} when score ≥ hot, {@code warm} when ≥ warm,
 * {@code lukewarm} when ≥ lukewarm, else {@code cold}. Defaults are quantiles of the out-of-fold
 * ensemble scores: the top 10% are hot, the next 20% warm, the next 30% lukewarm, the rest cold.
 */
public record LabelThresholds(double hot, double warm, double lukewarm) {
    public static final String HOT = "hot";
    public static final String WARM = "warm";
    public static final String LUKEWARM = "lukewarm";
    public static final String COLD = "cold";

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
        if (score >= hot) {
            return HOT;
        }
        if (score >= warm) {
            return WARM;
        }
        if (score >= lukewarm) {
            return LUKEWARM;
        }
        return COLD;
    }
}
