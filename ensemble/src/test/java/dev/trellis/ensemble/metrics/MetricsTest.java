package dev.trellis.ensemble.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class MetricsTest {
    @Test
    void aucRoc_perfectAndTies() {
        assertThat(Metrics.aucRoc(new double[] {0.1, 0.2, 0.8, 0.9}, new int[] {0, 0, 1, 1}))
                .isEqualTo(1.0);
        assertThat(Metrics.aucRoc(new double[] {0.5, 0.5, 0.5, 0.5}, new int[] {0, 1, 0, 1}))
                .isEqualTo(0.5);
        // pairs: (0.4 vs 0.4) tie = 0.5, (0.8 vs 0.4) = 1, (0.4 vs 0.1)=1, (0.8 vs 0.1)=1 → 3.5/4
        assertThat(Metrics.aucRoc(new double[] {0.1, 0.4, 0.4, 0.8}, new int[] {0, 0, 1, 1}))
                .isCloseTo(0.875, within(1e-12));
    }

    @Test
    void averagePrecision_knownValue() {
        // sklearn average_precision_score([0,1,1,0,1], [0.1,0.9,0.4,0.35,0.8]) = 1.0 (positives ranked first)
        assertThat(Metrics.averagePrecision(new double[] {0.1, 0.9, 0.4, 0.35, 0.8}, new int[] {0, 1, 1, 0, 1}))
                .isCloseTo(1.0, within(1e-12));
        // sklearn average_precision_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.8333...
        assertThat(Metrics.averagePrecision(new double[] {0.1, 0.4, 0.35, 0.8}, new int[] {0, 0, 1, 1}))
                .isCloseTo(0.8333333333, within(1e-9));
    }

    @Test
    void compute_brierLogLossThresholdAndTopK() {
        MetricSet m = Metrics.compute(new double[] {0.9, 0.2, 0.6, 0.4}, new int[] {1, 0, 0, 1}, 0.5, 2);
        assertThat(m.brier()).isCloseTo((0.01 + 0.04 + 0.36 + 0.36) / 4, within(1e-12));
        assertThat(m.logLoss())
                .isCloseTo(-(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.4)) / 4, within(1e-12));
        assertThat(m.accuracy()).isEqualTo(0.5);
        assertThat(m.precision()).isEqualTo(0.5);
        assertThat(m.recall()).isEqualTo(0.5);
        assertThat(m.topKHits()).isEqualTo(1);
        assertThat(MetricSet.fromMap(m.toMap())).isEqualTo(m);
    }

    @Test
    void quantile_interpolates() {
        assertThat(Metrics.quantile(new double[] {4, 1, 3, 2, 5}, 0.5)).isEqualTo(3.0);
        assertThat(Metrics.quantile(new double[] {1, 2}, 0.9)).isCloseTo(1.9, within(1e-12));
    }
}
