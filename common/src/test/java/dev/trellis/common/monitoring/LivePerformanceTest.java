package dev.trellis.common.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import org.junit.jupiter.api.Test;

class LivePerformanceTest {
    @Test
    void of_smallExample_matchesHandComputedFigures() {
        double[] scores = {0.9, 0.8, 0.35, 0.35, 0.1};
        int[] outcomes = {1, 0, 1, 0, 0};
        String[] labels = {"hot", "hot", "warm", "warm", "cold"};
        LivePerformance p = LivePerformance.of(scores, outcomes, labels);
        // pairs (pos, neg): 0.9 beats all 3; 0.35 beats 0.1, ties 0.35, loses to 0.8 → (3 + 1.5) / 6
        assertThat(p.auc()).isCloseTo(4.5 / 6, offset(1e-12));
        double brier = (0.01 + 0.64 + 0.4225 + 0.1225 + 0.01) / 5;
        assertThat(p.brier()).isCloseTo(brier, offset(1e-12));
        assertThat(p.rows()).isEqualTo(5);
        assertThat(p.positives()).isEqualTo(2);
        assertThat(p.calibration())
                .extracting(LivePerformance.CalibrationBin::decile)
                .containsExactly(1, 3, 8, 9);
        assertThat(p.calibration().get(1).observedRate()).isEqualTo(0.5);
        assertThat(p.labels())
                .containsExactly(
                        new LivePerformance.LabelCount("cold", 1, 0, 0.1, 0),
                        new LivePerformance.LabelCount("hot", 2, 1, (0.9 + 0.8) / 2, 0.5),
                        new LivePerformance.LabelCount("warm", 2, 1, 0.35, 0.5));
    }

    @Test
    void of_oneClass_insufficient() {
        LivePerformance p = LivePerformance.of(new double[] {0.2, 0.4}, new int[] {0, 0}, new String[] {"a", "b"});
        assertThat(p.sufficient()).isFalse();
        assertThat(p.auc()).isNaN();
    }
}
