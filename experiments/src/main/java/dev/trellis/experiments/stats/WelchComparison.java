package dev.trellis.experiments.stats;

import org.apache.commons.math3.distribution.TDistribution;

/**
 * Welch's unequal-variance t-test of treatment minus control, from per-arm summaries
 * (n, mean, sample variance):
 * t = (m_t − m_c)/se, se = sqrt(v_c/n_c + v_t/n_t);
 * Welch–Satterthwaite df = se⁴ / ((v_c/n_c)²/(n_c − 1) + (v_t/n_t)²/(n_t − 1));
 * two-sided p = 2·T_df(−|t|); 95% CI of the difference ± t_{0.975, df}·se. As R
 * {@code t.test(treatment, control)} (Welch is R's default). The relative lift uses the delta
 * method with the normal quantile, as for proportions.
 */
public final class WelchComparison {
    private WelchComparison() {}

    public record Result(
            double t,
            double degreesOfFreedom,
            double pValue,
            double difference,
            double lower,
            double upper,
            double relativeLift,
            double relativeLower,
            double relativeUpper) {}

    public static Result compare(
            long controlN,
            double controlMean,
            double controlVariance,
            long treatmentN,
            double treatmentMean,
            double treatmentVariance) {
        if (controlN < 2 || treatmentN < 2) {
            throw new IllegalArgumentException("Welch's test needs at least 2 units per arm");
        }
        double ac = controlVariance / controlN;
        double at = treatmentVariance / treatmentN;
        double se = Math.sqrt(ac + at);
        double diff = treatmentMean - controlMean;

        double relative = Double.NaN;
        double relLower = Double.NaN;
        double relUpper = Double.NaN;
        if (controlMean != 0) {
            relative = treatmentMean / controlMean - 1;
            double m2 = controlMean * controlMean;
            double seRel = Math.sqrt(at / m2 + treatmentMean * treatmentMean * ac / (m2 * m2));
            relLower = relative - TwoProportionComparison.Z_975 * seRel;
            relUpper = relative + TwoProportionComparison.Z_975 * seRel;
        }
        if (se == 0) {
            return new Result(
                    0, controlN + treatmentN - 2, diff == 0 ? 1 : 0, diff, diff, diff, relative, relLower, relUpper);
        }
        double df = (se * se * se * se) / (ac * ac / (controlN - 1) + at * at / (treatmentN - 1));
        TDistribution dist = new TDistribution(null, df);
        double t = diff / se;
        double p = 2 * dist.cumulativeProbability(-Math.abs(t));
        double q = dist.inverseCumulativeProbability(0.975);
        return new Result(t, df, p, diff, diff - q * se, diff + q * se, relative, relLower, relUpper);
    }
}
