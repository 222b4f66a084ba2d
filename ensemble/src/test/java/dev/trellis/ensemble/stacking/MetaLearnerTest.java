package dev.trellis.ensemble.stacking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class MetaLearnerTest {
    @Test
    void fit_recoversCoefficients() {
        Random random = new Random(1);
        int n = 20000;
        double[][] x = new double[n][3];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 3; j++) {
                x[i][j] = random.nextGaussian();
            }
            double eta = -0.5 + 1.0 * x[i][0] + 0.5 * x[i][1] - 0.25 * x[i][2];
            y[i] = random.nextDouble() < MetaLearner.sigmoid(eta) ? 1 : 0;
        }
        MetaLearner meta = MetaLearner.fit(x, y, 1e-3);
        assertThat(meta.intercept()).isCloseTo(-0.5, within(0.06));
        assertThat(meta.weights()[0]).isCloseTo(1.0, within(0.06));
        assertThat(meta.weights()[1]).isCloseTo(0.5, within(0.06));
        assertThat(meta.weights()[2]).isCloseTo(-0.25, within(0.06));
        double[][] cov = meta.covariance();
        for (int a = 0; a < 4; a++) {
            assertThat(cov[a][a]).isPositive();
            for (int b = 0; b < 4; b++) {
                assertThat(cov[a][b]).isCloseTo(cov[b][a], within(1e-12));
            }
        }
        // standard error of a weight with n=20000 is about 0.02
        assertThat(Math.sqrt(cov[1][1])).isBetween(0.01, 0.04);
        assertThat(meta.logitVariance(new double[] {0, 0, 0})).isCloseTo(cov[0][0], within(1e-15));
    }

    @Test
    void labelThresholds_defaultQuantilesAndLabels() {
        double[] scores = new double[101];
        for (int i = 0; i <= 100; i++) {
            scores[i] = i / 100.0;
        }
        LabelThresholds t = LabelThresholds.fromScores(scores);
        assertThat(t.hot()).isCloseTo(0.9, within(1e-12));
        assertThat(t.warm()).isCloseTo(0.7, within(1e-12));
        assertThat(t.lukewarm()).isCloseTo(0.4, within(1e-12));
        assertThat(t.label(0.95)).isEqualTo("hot");
        assertThat(t.label(0.9)).isEqualTo("hot");
        assertThat(t.label(0.75)).isEqualTo("warm");
        assertThat(t.label(0.5)).isEqualTo("lukewarm");
        assertThat(t.label(0.1)).isEqualTo("cold");
    }
}
