package dev.trellis.ensemble.stacking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.ensemble.metrics.Metrics;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MetaSelectionTest {
    private static final List<String> NAMES = List.of("a", "b", "c");

    /** Three noisy logits of one latent signal; c is the mirror image of a with extra noise. */
    private static double[][] logits(int n, int[] labels, Random random) {
        double[][] z = new double[n][3];
        for (int i = 0; i < n; i++) {
            double signal = random.nextGaussian();
            labels[i] = random.nextDouble() < MetaLearner.sigmoid(-1 + 1.5 * signal) ? 1 : 0;
            z[i][0] = -1 + 1.2 * signal + 0.6 * random.nextGaussian();
            z[i][1] = -1 + 1.0 * signal + 0.9 * random.nextGaussian();
            z[i][2] = 0.8 * z[i][0] - 0.4 * (signal + random.nextGaussian());
        }
        return z;
    }

    @Test
    void fitNonNegative_isTheBestFeasibleSubsetFit() {
        Random random = new Random(4);
        int n = 5000;
        int[] labels = new int[n];
        double[][] z = logits(n, labels, random);
        MetaLearner unconstrained = MetaLearner.fit(z, labels, 1.0);
        assertThat(unconstrained.weights()[2])
                .as("the mirrored model gets a negative weight")
                .isNegative();
        MetaLearner constrained = MetaLearner.fitNonNegative(z, labels, 1.0);
        assertThat(java.util.Arrays.stream(constrained.weights()).boxed().toList())
                .allMatch(w -> w >= 0);
        assertThat(constrained.weights()[2]).isZero();
        // every row and column of a dropped model is zero, the rest is the two-model fit's
        MetaLearner twoModels = MetaLearner.fitColumns(z, labels, 1.0, 0, 1);
        assertThat(constrained.weights()).containsExactly(twoModels.weights());
        assertThat(constrained.covariance()[3]).containsOnly(0.0);
        double best = MetaLearner.logLikelihood(constrained, z, labels);
        for (int mask = 1; mask < 8; mask++) {
            MetaLearner subset = MetaLearner.fitColumns(z, labels, 1.0, MetaLearner.columns(mask, 3));
            if (java.util.Arrays.stream(subset.weights()).allMatch(w -> w >= 0)) {
                assertThat(MetaLearner.logLikelihood(subset, z, labels)).isLessThanOrEqualTo(best + 1e-6);
            }
        }
    }

    @Test
    void binary_stackedNeverLosesToTheBestBase() {
        Random random = new Random(5);
        int n = 4000;
        int[] labels = new int[n];
        double[][] z = logits(n, labels, random);
        MetaSelection.Selection selection = MetaSelection.binary(z, labels, NAMES, 1.0, true, true);
        assertThat(selection.choice().kind()).isEqualTo(MetaSelection.STACKED);
        assertThat(selection.choice().reason()).startsWith("stacked: out-of-fold AUC");
        assertNotWorseThanEveryBase(selection.scores(), z, labels);
    }

    @Test
    void binary_shrunkenStackLoses_fallsBackToTheBestAucModel() {
        Random random = new Random(6);
        int n = 4000;
        int[] labels = new int[n];
        double[][] z = logits(n, labels, random);
        // an absurd penalty shrinks the stacked weights to almost nothing: its log loss is the prior's
        MetaSelection.Selection selection = MetaSelection.binary(z, labels, NAMES, 1e7, true, true);
        assertThat(selection.choice().kind()).isEqualTo(MetaSelection.SINGLE);
        assertThat(selection.choice().base()).isEqualTo("a");
        assertThat(selection.choice().reason()).startsWith("fell back to a alone");
        assertThat(selection.meta().weights()[1]).isZero();
        assertThat(selection.meta().weights()[2]).isZero();
        assertNotWorseThanEveryBase(selection.scores(), z, labels);
        // without the fallback the losing stack is kept, and says so
        MetaSelection.Selection kept = MetaSelection.binary(z, labels, NAMES, 1e7, true, false);
        assertThat(kept.choice().reason()).startsWith("stacked (no fallback)");
    }

    private static void assertNotWorseThanEveryBase(double[] scores, double[][] z, int[] labels) {
        double auc = Metrics.aucRoc(scores, labels);
        double loss = Metrics.compute(scores, labels, 0.5, 1).logLoss();
        for (int m = 0; m < 3; m++) {
            double[] p = new double[z.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = MetaLearner.sigmoid(z[i][m]);
            }
            assertThat(auc).isGreaterThanOrEqualTo(Metrics.aucRoc(p, labels));
            assertThat(loss)
                    .isLessThanOrEqualTo(Metrics.compute(p, labels, 0.5, 1).logLoss());
        }
    }

    @Test
    void regression_nonNegativeStackBeatsEveryBaseAndIntervalCovers() {
        Random random = new Random(7);
        int n = 4000;
        double[][] z = new double[n][3];
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            double truth = 50 + 20 * random.nextGaussian();
            y[i] = truth + 3 * random.nextGaussian();
            z[i][0] = truth + 4 * random.nextGaussian();
            z[i][1] = 0.9 * truth + 8 + 5 * random.nextGaussian();
            z[i][2] = 100 - truth + random.nextGaussian(); // anti-correlated: must get weight 0
        }
        MetaSelection.Selection selection = MetaSelection.regression(z, y, NAMES, true);
        LinearMetaLearner meta = (LinearMetaLearner) selection.meta();
        assertThat(selection.choice().kind()).isEqualTo(MetaSelection.STACKED);
        assertThat(java.util.Arrays.stream(meta.weights()).boxed().toList()).allMatch(w -> w >= 0);
        assertThat(meta.weights()[2]).isZero();
        double sse = LinearMetaLearner.sse(meta, z, y);
        for (int m = 0; m < 3; m++) {
            double base = 0;
            for (int i = 0; i < n; i++) {
                base += (z[i][m] - y[i]) * (z[i][m] - y[i]);
            }
            assertThat(sse).isLessThanOrEqualTo(base);
        }
        int covered = 0;
        for (int i = 0; i < n; i++) {
            double link = meta.link(z[i]);
            double[] interval = meta.interval(z[i], link);
            assertThat(interval[0]).isLessThanOrEqualTo(link);
            assertThat(interval[1]).isGreaterThanOrEqualTo(link);
            covered += y[i] >= interval[0] && y[i] <= interval[1] ? 1 : 0;
        }
        assertThat((double) covered / n).isCloseTo(0.95, within(0.003));
        assertThat(meta.agreement(new double[] {10, 10, 10})).isEqualTo(1.0);
        assertThat(meta.agreement(new double[] {0, 2 * meta.halfWidth(), 1})).isEqualTo(0.0);
    }
}
