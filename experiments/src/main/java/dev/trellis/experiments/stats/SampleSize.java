package dev.trellis.experiments.stats;

/**
 * Units needed per arm, α = 0.05 two-sided, power 0.8.
 *
 * <p>Proportions (as R {@code power.prop.test}, strict = FALSE), with p₁ the baseline rate,
 * p₂ = p₁ + δ, p̄ = (p₁ + p₂)/2:
 * n = ( z₀.₉₇₅·sqrt(2p̄(1 − p̄)) + z₀.₈·sqrt(p₁(1 − p₁) + p₂(1 − p₂)) )² / δ², rounded up.
 *
 * <p>Continuous metrics (normal approximation, equal variances): n = 2(z₀.₉₇₅ + z₀.₈)² σ² / δ².
 */
public final class SampleSize {
    public static final double ALPHA = 0.05;
    public static final double POWER = 0.8;
    static final double Z_ALPHA = TwoProportionComparison.NORMAL.inverseCumulativeProbability(1 - ALPHA / 2);
    static final double Z_BETA = TwoProportionComparison.NORMAL.inverseCumulativeProbability(POWER);

    private SampleSize() {}

    /**
     * @param baselineRate control conversion rate, 0..1
     * @param minimumDetectableEffect absolute lift to detect, > 0
     */
    public static long perArmForProportion(double baselineRate, double minimumDetectableEffect) {
        if (!(baselineRate >= 0 && baselineRate <= 1) || !(minimumDetectableEffect > 0)) {
            throw new IllegalArgumentException("need a baseline rate in [0, 1] and a positive effect");
        }
        double p1 = baselineRate;
        double p2 = Math.min(1, p1 + minimumDetectableEffect);
        if (p2 == p1) {
            p2 = Math.max(0, p1 - minimumDetectableEffect); // baseline at 1: detect a drop instead
        }
        double delta = Math.abs(p2 - p1);
        double pBar = (p1 + p2) / 2;
        double root = Z_ALPHA * Math.sqrt(2 * pBar * (1 - pBar)) + Z_BETA * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
        return (long) Math.ceil(root * root / (delta * delta));
    }

    /**
     * @param standardDeviation per-unit standard deviation of the metric
     * @param minimumDetectableEffect absolute difference of means to detect, > 0
     */
    public static long perArmForMean(double standardDeviation, double minimumDetectableEffect) {
        if (!(standardDeviation >= 0) || !(minimumDetectableEffect > 0)) {
            throw new IllegalArgumentException("need a standard deviation ≥ 0 and a positive effect");
        }
        double z = Z_ALPHA + Z_BETA;
        return (long) Math.ceil(2
                * z
                * z
                * standardDeviation
                * standardDeviation
                / (minimumDetectableEffect * minimumDetectableEffect));
    }
}
