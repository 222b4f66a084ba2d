package dev.trellis.experiments.stats;

import org.apache.commons.math3.distribution.ChiSquaredDistribution;

/**
 * Sample-ratio mismatch: chi-square goodness of fit of the exposed units per variant against the
 * configured weights (normalized to sum 1), df = k − 1; flagged when p < 0.001. As R
 * {@code chisq.test(observed, p = weights)}.
 */
public final class SampleRatioMismatch {
    public static final double THRESHOLD = 0.001;

    private SampleRatioMismatch() {}

    public record Result(double chiSquare, double pValue, boolean mismatch) {}

    public static Result test(long[] observed, double[] weights) {
        if (observed.length != weights.length || observed.length < 2) {
            throw new IllegalArgumentException("need one weight per observed count and at least 2 arms");
        }
        long total = 0;
        double weightSum = 0;
        for (int i = 0; i < observed.length; i++) {
            total += observed[i];
            weightSum += weights[i];
        }
        if (total == 0 || weightSum <= 0) {
            return new Result(0, 1, false);
        }
        double chi = 0;
        int df = -1;
        for (int i = 0; i < observed.length; i++) {
            double expected = total * weights[i] / weightSum;
            if (expected > 0) {
                double d = observed[i] - expected;
                chi += d * d / expected;
                df++;
            } else if (observed[i] > 0) {
                return new Result(Double.POSITIVE_INFINITY, 0, true); // units in an arm with weight 0
            }
        }
        if (df < 1) {
            return new Result(0, 1, false);
        }
        double p = 1 - new ChiSquaredDistribution(null, df).cumulativeProbability(chi);
        return new Result(chi, p, p < THRESHOLD);
    }
}
