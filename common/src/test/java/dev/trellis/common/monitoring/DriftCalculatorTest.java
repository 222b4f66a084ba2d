package dev.trellis.common.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.common.monitoring.DriftReport.Verdict;
import dev.trellis.common.monitoring.FeatureDrift.Severity;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.apache.commons.math3.stat.inference.KolmogorovSmirnovTest;
import org.junit.jupiter.api.Test;

class DriftCalculatorTest {
    private final DriftCalculator calculator = new DriftCalculator(DriftThresholds.DEFAULTS);

    private static double[] normal(int n, double mean, long seed) {
        Random random = new Random(seed);
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = mean + random.nextGaussian();
        }
        return values;
    }

    private static String[] categories(int n, double firstShare, long seed) {
        Random random = new Random(seed);
        String[] values = new String[n];
        for (int i = 0; i < n; i++) {
            double u = random.nextDouble();
            values[i] = u < firstShare ? "a" : u < (1 + firstShare) / 2 ? "b" : "c";
        }
        return values;
    }

    @Test
    void compare_sameDistribution_noDrift() {
        FeatureDrift drift = calculator.compare(
                Profiles.numericBaseline("x", normal(5000, 0, 1)), Profiles.numericWindow("x", normal(2000, 0, 2)));
        assertThat(drift.severity()).isEqualTo(Severity.OK);
        assertThat(drift.psi()).isLessThan(0.05);
        assertThat(drift.ksPValue()).isGreaterThan(0.001);
    }

    @Test
    void compare_shiftedNumeric_driftsWithTheLibrarysKsFigures() {
        double[] base = normal(5000, 0, 1);
        double[] live = normal(2000, 1, 2);
        FeatureProfile baseline = Profiles.numericBaseline("x", base);
        FeatureDrift drift = calculator.compare(baseline, Profiles.numericWindow("x", live));
        assertThat(drift.severity()).isEqualTo(Severity.DRIFTED);
        assertThat(drift.psi()).isGreaterThan(0.25);
        KolmogorovSmirnovTest ks = new KolmogorovSmirnovTest();
        assertThat(drift.ksStatistic()).isEqualTo(ks.kolmogorovSmirnovStatistic(baseline.values(), live));
        // the sketch stands in for the 5,000 training values: close to the full-sample statistic
        assertThat(drift.ksStatistic())
                .isCloseTo(ks.kolmogorovSmirnovStatistic(base, live), org.assertj.core.data.Offset.offset(0.01));
        assertThat(drift.reasons()).anyMatch(r -> r.startsWith("PSI")).anyMatch(r -> r.startsWith("KS"));
    }

    @Test
    void compare_psiMatchesTheFormulaOnTheBaselineBins() {
        long[] base = {50, 30, 20};
        long[] live = {20, 30, 50};
        double expected = (0.2 - 0.5) * Math.log(0.2 / 0.5) + 0 + (0.5 - 0.2) * Math.log(0.5 / 0.2);
        assertThat(DriftCalculator.psi(base, live)).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void compare_categoricalShift_chiSquareAndPsi() {
        FeatureDrift same = calculator.compare(
                Profiles.categorical("c", categories(3000, 0.5, 1)),
                Profiles.categorical("c", categories(1000, 0.5, 2)));
        assertThat(same.severity()).isEqualTo(Severity.OK);
        FeatureDrift shifted = calculator.compare(
                Profiles.categorical("c", categories(3000, 0.5, 1)),
                Profiles.categorical("c", categories(1000, 1.0, 2)));
        assertThat(shifted.severity()).isEqualTo(Severity.DRIFTED);
        assertThat(shifted.chiSquarePValue()).isLessThan(1e-10);
    }

    @Test
    void compare_missingRateJump_drifts() {
        double[] live = normal(1000, 0, 2);
        for (int i = 0; i < 300; i++) {
            live[i] = Double.NaN;
        }
        FeatureDrift drift = calculator.compare(
                Profiles.numericBaseline("x", normal(5000, 0, 1)), Profiles.numericWindow("x", live));
        assertThat(drift.severity()).isEqualTo(Severity.DRIFTED);
        assertThat(drift.liveMissingRate()).isEqualTo(0.3);
        assertThat(drift.reasons()).anyMatch(r -> r.startsWith("missing rate"));
    }

    @Test
    void compare_verdicts_noBaselineInsufficientDataAndSortedBySeverity() {
        Baseline baseline = new Baseline(
                5000,
                List.of(
                        Profiles.numericBaseline("a", normal(5000, 0, 1)),
                        Profiles.numericBaseline("b", normal(5000, 0, 3))),
                Profiles.numericBaseline(FeatureProfile.SCORE, normal(5000, 0, 4)));
        FeatureProfile score = Profiles.numericWindow(FeatureProfile.SCORE, normal(1000, 0, 5));
        List<FeatureProfile> live = List.of(
                Profiles.numericWindow("a", normal(1000, 0, 6)), Profiles.numericWindow("b", normal(1000, 2, 7)));

        assertThat(calculator.compare(Optional.empty(), live, score).verdict()).isEqualTo(Verdict.NO_BASELINE);
        DriftReport few = calculator.compare(
                Optional.of(baseline), live, Profiles.numericWindow(FeatureProfile.SCORE, normal(199, 0, 5)));
        assertThat(few.verdict()).isEqualTo(Verdict.INSUFFICIENT_DATA);
        assertThat(few.summary()).startsWith("insufficient data: 199 live rows");
        assertThat(few.features()).isEmpty();

        DriftReport report = calculator.compare(Optional.of(baseline), live, score);
        assertThat(report.verdict()).isEqualTo(Verdict.DRIFT);
        assertThat(report.features()).extracting(FeatureDrift::feature).startsWith("b");
        assertThat(report.features())
                .filteredOn(f -> f.severity() == Severity.DRIFTED)
                .extracting(FeatureDrift::feature)
                .containsExactly("b");
        assertThat(report.summary()).startsWith("b: PSI");
    }

    @Test
    void parse_overridesDefaultsAndNamesBadKeys() {
        DriftThresholds t = DriftThresholds.parse("psi=0.3, min-rows=50");
        assertThat(t.psi()).isEqualTo(0.3);
        assertThat(t.minRows()).isEqualTo(50);
        assertThat(t.pValue()).isEqualTo(DriftThresholds.DEFAULTS.pValue());
        assertThat(DriftThresholds.parse(t.format())).isEqualTo(t);
        assertThat(DriftThresholds.parse("")).isEqualTo(DriftThresholds.DEFAULTS);
        assertThatThrownBy(() -> DriftThresholds.parse("psy=1")).hasMessageContaining("unknown drift threshold [psy]");
        assertThatThrownBy(() -> DriftThresholds.parse("psi=x")).hasMessageContaining("psi: 'x' is not a number");
        assertThatThrownBy(() -> DriftThresholds.parse("psi=0.05")).hasMessageContaining("psi-warn <= psi");
    }
}
