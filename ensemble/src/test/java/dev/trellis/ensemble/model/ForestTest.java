package dev.trellis.ensemble.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.TreeEncoder;
import dev.trellis.ensemble.stacking.StackedEnsemble;
import dev.trellis.ensemble.testing.TestBundles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The Java trees and TreeSHAP against the native libraries, on a bundle the trainer wrote. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ForestTest {
    private LoadedBundle loaded;
    private StackedEnsemble ensemble;
    private Path bundle;
    private Matrix rows;

    @BeforeAll
    void load(@TempDir Path repository) {
        bundle = TestBundles.install(repository, "churn", 1, 42);
        loaded = BundleLoader.load(bundle);
        ensemble = (StackedEnsemble) loaded.ensemble();
        Dataset data = TestBundles.subset(TestBundles.churn(), 400, 3);
        FeatureBatch batch = data.features();
        // the last rows: every feature missing, so each split's missing-value rule is exercised
        FeatureBatch withMissing = new FeatureBatch(batch.schema(), batch.rows() + 2);
        for (int f = 0; f < batch.schema().size(); f++) {
            boolean numeric = batch.schema().features().get(f).type() == dev.trellis.ensemble.api.FeatureType.NUMERIC;
            Object source = numeric ? batch.numeric(f) : batch.categorical(f);
            Object target = numeric ? withMissing.numeric(f) : withMissing.categorical(f);
            System.arraycopy(source, 0, target, 0, batch.rows());
        }
        rows = new TreeEncoder(batch.schema()).encode(withMissing);
    }

    @AfterAll
    void close() {
        loaded.close();
    }

    @Test
    void load_javaPathsVerifiedForBothLibraries() {
        assertThat(ensemble.xgboost().hasJavaPath()).isTrue();
        assertThat(ensemble.xgboost().hasJavaExplanations()).isTrue();
        assertThat(ensemble.lightgbm().hasJavaPath()).isTrue();
        assertThat(ensemble.lightgbm().hasJavaExplanations()).isTrue();
    }

    @Test
    void contributions_xgboostMatchesPredictContrib() {
        double[] java = ensemble.xgboost().contributions(rows);
        double[] reference = ensemble.xgboost().nativeContributions(rows);
        assertThat(java).hasSameSizeAs(reference);
        for (int i = 0; i < java.length; i++) {
            assertThat(java[i]).as("value %d", i).isCloseTo(reference[i], within(1e-5));
        }
    }

    @Test
    void contributions_lightgbmMatchesNative() {
        double[] java = ensemble.lightgbm().contributions(rows);
        double[] reference = ensemble.lightgbm().nativeContributions(rows);
        assertThat(java).hasSameSizeAs(reference);
        for (int i = 0; i < java.length; i++) {
            assertThat(java[i]).as("value %d", i).isCloseTo(reference[i], within(1e-5));
        }
    }

    @Test
    void contributions_addUpToMargins() {
        int width = rows.cols() + 1;
        double[] xgb = ensemble.xgboost().contributions(rows);
        double[] lgb = ensemble.lightgbm().contributions(rows);
        double[] xgbMargins = ensemble.xgboost().nativeMargins(rows);
        double[] lgbMargins = ensemble.lightgbm().rawScoresBatchPath(rows);
        for (int r = 0; r < rows.rows(); r++) {
            double x = 0;
            double l = 0;
            for (int c = 0; c < width; c++) {
                x += xgb[r * width + c];
                l += lgb[r * width + c];
            }
            assertThat(x).isCloseTo(xgbMargins[r], within(1e-5));
            assertThat(l).isCloseTo(lgbMargins[r], within(1e-9));
        }
    }

    @Test
    void margins_javaMatchesNativeForEveryBatchSize() {
        double[] xgbNative = ensemble.xgboost().nativeMargins(rows);
        double[] lgbNative = ensemble.lightgbm().rawScoresBatchPath(rows);
        // the walker processes rows in blocks: sizes around the block edge
        for (int size : new int[] {1, 7, 63, 64, 65, rows.rows()}) {
            Matrix part =
                    rows.selectRows(java.util.stream.IntStream.range(0, size).toArray());
            double[] x = margins(ensemble.xgboost().forest(), part);
            double[] l = ensemble.lightgbm().rawScores(part);
            for (int r = 0; r < size; r++) {
                assertThat(x[r]).isCloseTo(xgbNative[r], within(1e-6));
                assertThat(l[r]).isCloseTo(lgbNative[r], within(1e-9));
            }
        }
    }

    private static double[] margins(Forest forest, Matrix x) {
        double[] out = new double[x.rows()];
        forest.margins(x.values(), x.rows(), out);
        return out;
    }

    @Test
    void margins_categoricalSplitsOfSmallAndLargeBitsetsFollowTheSplitRule() {
        // tree 0: categories {0, 5, 31, 32, 63} (a 64-bit mask, the branch-free path);
        // tree 1: categories {5, 70, 95} (three words, the bitset path); a row left in tree t adds 10^t
        int[] small = {1 | 1 << 5 | 1 << 31, 1 | 1 << 31};
        int[] large = {1 << 5, 0, 1 << (70 - 64) | 1 << (95 - 64)};
        java.util.List<Forest.Tree> trees = new java.util.ArrayList<>();
        for (int[] bits : new int[][] {small, large}) {
            double leftValue = bits == small ? 1 : 10;
            trees.add(new Forest.Tree(
                    new int[] {0},
                    new float[] {0},
                    new boolean[] {false},
                    new int[][] {bits},
                    new int[] {~0},
                    new int[] {~1},
                    new double[] {leftValue, 0},
                    new double[] {10},
                    new double[] {5, 5}));
        }
        Forest forest = new Forest(1, false, 0, trees);
        float[] values = {
            Float.NaN,
            -1,
            -0.5f,
            0,
            0.7f,
            5,
            5.9f,
            6,
            31,
            32,
            33,
            63,
            64,
            65,
            70,
            95,
            96,
            127,
            128,
            1e10f,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY
        };
        double[] expected = new double[values.length];
        for (int r = 0; r < values.length; r++) {
            float value = values[r];
            int category = (int) value;
            boolean valid = !Float.isNaN(value) && category >= 0;
            expected[r] = (valid && java.util.Set.of(0, 5, 31, 32, 63).contains(category) ? 1 : 0)
                    + (valid && java.util.Set.of(5, 70, 95).contains(category) ? 10 : 0);
        }
        // the whole batch (one block of columns) and each row alone (the one-row path)
        double[] batch = new double[values.length];
        forest.margins(values, values.length, batch);
        assertThat(batch).containsExactly(expected);
        for (int r = 0; r < values.length; r++) {
            double[] one = new double[1];
            forest.margins(new float[] {values[r]}, 1, one);
            assertThat(one[0]).as("value %s alone", values[r]).isEqualTo(expected[r]);
        }
    }

    @Test
    void key_ordersFloatsAsLessThanDoes() {
        Random random = new Random(17);
        float[] values = new float[400];
        float[] special = {
            0f,
            -0f,
            Float.MIN_VALUE,
            -Float.MIN_VALUE,
            Float.MAX_VALUE,
            -Float.MAX_VALUE,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            Float.MIN_NORMAL,
            1f,
            -1f
        };
        System.arraycopy(special, 0, values, 0, special.length);
        for (int i = special.length; i < values.length; i++) {
            // raw bit patterns reach every exponent; NaN patterns are skipped below
            values[i] = i % 2 == 0 ? Float.intBitsToFloat(random.nextInt()) : (float) random.nextGaussian();
        }
        for (float a : values) {
            for (float b : values) {
                if (!Float.isNaN(a) && !Float.isNaN(b)) {
                    assertThat(Forest.key(a) < Forest.key(b))
                            .as("%s < %s", a, b)
                            .isEqualTo(a < b);
                }
            }
        }
    }

    @Test
    void margins_javaMatchesNativeOnZerosAndInfinities() {
        // every value of a row is one of these: the integer keys must decide as the float comparison does
        float[] special = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1f, -1f};
        int cols = rows.cols();
        int count = 70;
        float[] values = new float[count * cols];
        Random random = new Random(23);
        for (int i = 0; i < values.length; i++) {
            values[i] = special[random.nextInt(special.length)];
        }
        Matrix x = new Matrix(values, count, cols);
        double[] xgb = margins(ensemble.xgboost().forest(), x);
        double[] xgbNative = ensemble.xgboost().nativeMargins(x);
        double[] lgb = ensemble.lightgbm().rawScores(x);
        double[] lgbNative = ensemble.lightgbm().rawScoresBatchPath(x);
        for (int r = 0; r < count; r++) {
            assertThat(xgb[r]).as("row %d", r).isCloseTo(xgbNative[r], within(1e-6));
            assertThat(lgb[r]).as("row %d", r).isCloseTo(lgbNative[r], within(1e-9));
        }
    }

    @Test
    void leafTable_equalsShapleyValuesByEnumeration() {
        Random random = new Random(5);
        for (int d = 1; d <= 5; d++) {
            double value = random.nextGaussian();
            double[] zero = new double[d];
            for (int s = 0; s < d; s++) {
                zero[s] = 0.05 + 0.9 * random.nextDouble();
            }
            double[] table = Forest.leafTable(value, zero);
            for (int hot = 0; hot < 1 << d; hot++) {
                for (int i = 0; i < d; i++) {
                    assertThat(table[hot * d + i])
                            .as("d %d hot %d slot %d", d, hot, i)
                            .isCloseTo(shapley(value, zero, hot, i), within(1e-12));
                }
            }
        }
    }

    /** Shapley value of player i in v(S) = value·Π_{j∈S} o_j·Π_{j∉S} z_j, by summing over coalitions. */
    private static double shapley(double value, double[] zero, int hot, int i) {
        int d = zero.length;
        double phi = 0;
        for (int coalition = 0; coalition < 1 << d; coalition++) {
            if ((coalition >>> i & 1) != 0) {
                continue;
            }
            int size = Integer.bitCount(coalition);
            double weight = factorial(size) * factorial(d - size - 1) / factorial(d);
            phi += weight * (game(value, zero, hot, coalition | 1 << i) - game(value, zero, hot, coalition));
        }
        return phi;
    }

    private static double game(double value, double[] zero, int hot, int coalition) {
        double product = value;
        for (int j = 0; j < zero.length; j++) {
            product *= (coalition >>> j & 1) != 0 ? (hot >>> j & 1) : zero[j];
        }
        return product;
    }

    private static double factorial(int n) {
        double f = 1;
        for (int i = 2; i <= n; i++) {
            f *= i;
        }
        return f;
    }

    @Test
    void floatAbove_lessThanIsLessOrEqualToTheDoubleThreshold() {
        for (double threshold : new double[] {1.5000000000000002, 0.1, -3.25, 1.0000000180025095e-35, 0, 1e300}) {
            float t = LightgbmTrees.floatAbove(threshold);
            float below = Math.nextDown(t);
            assertThat((double) t > threshold).isTrue();
            assertThat((double) below <= threshold).isTrue();
        }
    }

    @Test
    void load_unsupportedLightgbmModelFallsBackToNative() throws IOException {
        String text = Files.readString(bundle.resolve("lightgbm.txt"), StandardCharsets.UTF_8);
        // averaged output (random forest mode): LightGBM reads it, the Java reader refuses it
        String refused = text.replaceFirst("\nobjective=binary", "\naverage_output\nobjective=binary");
        assertThatThrownBy(() -> LightgbmTrees.parse(refused)).isInstanceOf(IOException.class);
        try (LightgbmModel model = LightgbmModel.load(refused, rows.cols())) {
            assertThat(model.hasJavaPath()).isFalse();
            assertThat(model.hasJavaExplanations()).isFalse();
            assertThat(model.rawScores(rows)).containsExactly(model.rawScoresBatchPath(rows));
            assertThat(model.contributions(rows)).containsExactly(model.nativeContributions(rows));
        }
    }
}
