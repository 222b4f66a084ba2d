package dev.trellis.common.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import org.junit.jupiter.api.Test;

class RegressionPerformanceTest {
    @Test
    void of_smallExample_matchesHandComputedFigures() {
        double[] predicted = {10, 20, 30, 40};
        double[] observed = {12, 18, 33, 40};
        String[] tiers = {"D", "C", "B", "B"};
        RegressionPerformance p = RegressionPerformance.of(predicted, observed, tiers);
        // errors -2, 2, -3, 0: SSE 17, SAE 7; observed mean 25.75, SST 189.0625 + 60.0625 + 52.5625 + 203.0625
        assertThat(p.rows()).isEqualTo(4);
        assertThat(p.sufficient()).isTrue();
        assertThat(p.rmse()).isCloseTo(Math.sqrt(17 / 4.0), offset(1e-12));
        assertThat(p.mae()).isCloseTo(7 / 4.0, offset(1e-12));
        assertThat(p.r2()).isCloseTo(1 - 17 / 504.75, offset(1e-12));
        assertThat(p.labels())
                .containsExactly(
                        new LivePerformance.LabelCount("B", 2, 0, 35, 36.5),
                        new LivePerformance.LabelCount("C", 1, 0, 20, 18),
                        new LivePerformance.LabelCount("D", 1, 0, 10, 12));
    }

    @Test
    void of_oneRowOrNoVariance_insufficient() {
        assertThat(RegressionPerformance.of(new double[] {1}, new double[] {2}, new String[] {"A"})
                        .sufficient())
                .isFalse();
        RegressionPerformance flat =
                RegressionPerformance.of(new double[] {1, 2}, new double[] {5, 5}, new String[] {"A", "B"});
        assertThat(flat.sufficient()).isFalse();
        assertThat(flat.rmse()).isNaN();
        assertThat(flat.labels()).hasSize(2);
    }
}
