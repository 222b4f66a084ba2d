package dev.trellis.experiments.stats;

import org.apache.commons.math3.distribution.NormalDistribution;

/**
 * Two-proportion z-test of a treatment against a control.
 *
 * <ul>
 *   <li>z = (p_t − p_c) / sqrt(p̂(1 − p̂)(1/n_c + 1/n_t)), p̂ = (x_c + x_t)/(n_c + n_t) (pooled);
 *       two-sided p = 2Φ(−|z|). Same p as R {@code prop.test(correct = FALSE)}, whose X² = z².
 *   <li>absolute lift p_t − p_c with the unpooled Wald 95% CI
 *       ± z₀.₉₇₅ · sqrt(p_c(1 − p_c)/n_c + p_t(1 − p_t)/n_t) (R's prop.test interval, sign flipped).
 *   <li>relative lift p_t/p_c − 1 with the delta-method CI
 *       ± z₀.₉₇₅ · sqrt(Var(p_t)/p_c² + p_t² Var(p_c)/p_c⁴), Var(p) = p(1 − p)/n.
 * </ul>
 */
public final class TwoProportionComparison {
    static final NormalDistribution NORMAL = new NormalDistribution(null, 0, 1);
    static final double Z_975 = NORMAL.inverseCumulativeProbability(0.975);

    private TwoProportionComparison() {}

    public record Result(
            double controlRate,
            double treatmentRate,
            double z,
            double pValue,
            double absoluteLift,
            double absoluteLower,
            double absoluteUpper,
            double relativeLift,
            double relativeLower,
            double relativeUpper) {}

    public static Result compare(
            long controlConversions, long controlUnits, long treatmentConversions, long treatmentUnits) {
        if (controlUnits <= 0 || treatmentUnits <= 0) {
            throw new IllegalArgumentException("both arms need units");
        }
        if (controlConversions < 0
                || controlConversions > controlUnits
                || treatmentConversions < 0
                || treatmentConversions > treatmentUnits) {
            throw new IllegalArgumentException("conversions must be within 0..units");
        }
        double nc = controlUnits;
        double nt = treatmentUnits;
        double pc = controlConversions / nc;
        double pt = treatmentConversions / nt;
        double pooled = (controlConversions + treatmentConversions) / (nc + nt);
        double sePooled = Math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt));
        double diff = pt - pc;
        double z = sePooled == 0 ? 0 : diff / sePooled;
        double p = sePooled == 0 ? 1 : 2 * NORMAL.cumulativeProbability(-Math.abs(z));

        double varC = pc * (1 - pc) / nc;
        double varT = pt * (1 - pt) / nt;
        double seDiff = Math.sqrt(varC + varT);

        double relative = Double.NaN;
        double relativeLower = Double.NaN;
        double relativeUpper = Double.NaN;
        if (pc > 0) {
            relative = pt / pc - 1;
            double seRelative = Math.sqrt(varT / (pc * pc) + pt * pt * varC / (pc * pc * pc * pc));
            relativeLower = relative - Z_975 * seRelative;
            relativeUpper = relative + Z_975 * seRelative;
        }
        return new Result(
                pc,
                pt,
                z,
                p,
                diff,
                diff - Z_975 * seDiff,
                diff + Z_975 * seDiff,
                relative,
                relativeLower,
                relativeUpper);
    }
}
