package dev.trellis.experiments.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Reference values, to 1e-6. R is not available here, so each figure was computed independently
 * with python3 + mpmath (30 digits) from the textbook formulas R implements: Φ via erfc, the t CDF
 * via the regularized incomplete beta (F(t) = I_{df/(df+t²)}(df/2, 1/2)/2 for t < 0), quantiles by
 * root finding, chi-square p for df 1 as erfc(sqrt(x/2)) and for df 2 as exp(−x/2). The script is
 * reproduced in the comments of each test.
 */
class StatisticsTest {
    private static final Offset<Double> EPS = within(1e-6);

    /**
     * R: prop.test(c(250, 200), c(2000, 2000), correct = FALSE) → X-squared = 6.259781, p = 0.01235095,
     * 95% CI of p1 − p2 (0.005431009, 0.044568991). z = sqrt(X²) = 2.501955416802672.
     * Relative lift 0.25, delta-method CI 0.25 ± 1.959964·sqrt(pt(1−pt)/nt/pc² + pt²·pc(1−pc)/nc/pc⁴)
     * = (0.030869364855855, 0.469130635144145).
     */
    @Test
    void proportionTest_matchesReference() {
        TwoProportionComparison.Result r = TwoProportionComparison.compare(200, 2000, 250, 2000);
        assertThat(r.z()).isCloseTo(2.5019554168026719, EPS);
        assertThat(r.z() * r.z()).isCloseTo(6.2597809076682316, EPS);
        assertThat(r.pValue()).isCloseTo(0.0123509477111914, EPS);
        assertThat(r.absoluteLift()).isCloseTo(0.025, EPS);
        assertThat(r.absoluteLower()).isCloseTo(0.0054310085546560, EPS);
        assertThat(r.absoluteUpper()).isCloseTo(0.0445689914453440, EPS);
        assertThat(r.relativeLift()).isCloseTo(0.25, EPS);
        assertThat(r.relativeLower()).isCloseTo(0.0308693648558546, EPS);
        assertThat(r.relativeUpper()).isCloseTo(0.4691306351441454, EPS);
    }

    @Test
    void proportionTest_noVarianceGivesPOne() {
        TwoProportionComparison.Result r = TwoProportionComparison.compare(0, 100, 0, 100);
        assertThat(r.pValue()).isEqualTo(1.0);
        assertThat(r.relativeLift()).isNaN();
    }

    /**
     * R: t.test(y, x) with x = c(19.1, 20.3, 18.7, 21.0, 19.8, 20.5),
     * y = c(21.2, 22.0, 20.9, 23.1, 21.7, 22.4, 21.5) → t = 4.236856, df = 9.970445,
     * p = 0.001736407, 95% CI (0.9139388, 2.9432040). Means 19.9 / 21.828571, variances
     * 0.764 / 0.559047619.
     */
    @Test
    void welchTest_matchesReference() {
        double[] x = {19.1, 20.3, 18.7, 21.0, 19.8, 20.5};
        double[] y = {21.2, 22.0, 20.9, 23.1, 21.7, 22.4, 21.5};
        WelchComparison.Result r =
                WelchComparison.compare(x.length, mean(x), variance(x), y.length, mean(y), variance(y));
        assertThat(r.t()).isCloseTo(4.2368560097781713, EPS);
        assertThat(r.degreesOfFreedom()).isCloseTo(9.9704446121192081, EPS);
        assertThat(r.pValue()).isCloseTo(0.0017364069164402, EPS);
        assertThat(r.difference()).isCloseTo(1.9285714285714286, EPS);
        assertThat(r.lower()).isCloseTo(0.9139388432236488, EPS);
        assertThat(r.upper()).isCloseTo(2.9432040139192083, EPS);
    }

    /**
     * R: chisq.test(c(5100, 4900), p = c(.5, .5)) → X² = 4, p = erfc(sqrt(2)) = 0.04550026;
     * chisq.test(c(5300, 4700)) → X² = 36, p = 1.973175e-09 (mismatch);
     * chisq.test(c(1030, 8970), p = c(.1, .9)) → X² = 1, p = 0.3173105;
     * chisq.test(c(3300, 3450, 3250)) → X² = 6.5, df 2, p = exp(−3.25) = 0.03877421.
     */
    @Test
    void sampleRatioMismatch_matchesReference() {
        SampleRatioMismatch.Result a = SampleRatioMismatch.test(new long[] {5100, 4900}, new double[] {0.5, 0.5});
        assertThat(a.chiSquare()).isCloseTo(4.0, EPS);
        assertThat(a.pValue()).isCloseTo(0.0455002638963584, EPS);
        assertThat(a.mismatch()).isFalse();

        SampleRatioMismatch.Result b = SampleRatioMismatch.test(new long[] {5300, 4700}, new double[] {0.5, 0.5});
        assertThat(b.chiSquare()).isCloseTo(36.0, EPS);
        assertThat(b.pValue()).isCloseTo(1.9731752900753963e-9, within(1e-12));
        assertThat(b.mismatch()).isTrue();

        SampleRatioMismatch.Result c = SampleRatioMismatch.test(new long[] {1030, 8970}, new double[] {0.1, 0.9});
        assertThat(c.chiSquare()).isCloseTo(1.0, EPS);
        assertThat(c.pValue()).isCloseTo(0.3173105078629141, EPS);

        SampleRatioMismatch.Result d =
                SampleRatioMismatch.test(new long[] {3300, 3450, 3250}, new double[] {1.0 / 3, 1.0 / 3, 1.0 / 3});
        assertThat(d.chiSquare()).isCloseTo(6.5, EPS);
        assertThat(d.pValue()).isCloseTo(0.0387742078317220, EPS);
    }

    /**
     * R: power.prop.test(p1 = 0.10, p2 = 0.12, power = 0.8) → n = 3840.847 per group, so 3841.
     * Means: σ = 2, δ = 0.5 → 2·(1.959964 + 0.841621)²·4/0.25 = 251.16 → 252.
     */
    @Test
    void sampleSize_matchesReference() {
        assertThat(SampleSize.perArmForProportion(0.10, 0.02)).isEqualTo(3841);
        assertThat(SampleSize.perArmForMean(2.0, 0.5)).isEqualTo(252);
    }

    private static double mean(double[] xs) {
        double s = 0;
        for (double x : xs) {
            s += x;
        }
        return s / xs.length;
    }

    private static double variance(double[] xs) {
        double m = mean(xs);
        double s = 0;
        for (double x : xs) {
            s += (x - m) * (x - m);
        }
        return s / (xs.length - 1);
    }
}
