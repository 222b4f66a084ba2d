package dev.trellis.ensemble.stacking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.bundle.BundleWriter;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.TreeEncoder;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.ensemble.training.Trainer;
import dev.trellis.ensemble.training.TrainingOptions;
import dev.trellis.ensemble.training.TrainingResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StackedEnsembleTest {
    private TrainingResult trained;
    private LoadedBundle loaded;
    private Dataset rows;

    @BeforeAll
    void train(@TempDir Path repository) throws Exception {
        Dataset churn = TestBundles.churn();
        Dataset subset = TestBundles.subset(churn, 1500, 5);
        trained = new Trainer(TrainingOptions.fast().withSeed(5), message -> {}).train(subset);
        loaded = BundleLoader.load(BundleWriter.write(repository, "churn", trained));
        rows = TestBundles.subset(churn, 400, 99);
    }

    @AfterAll
    void close() {
        loaded.close();
        trained.close();
    }

    @Test
    void predict_loadedBundleMatchesInMemory() {
        Predictions memory = trained.ensemble().predict(rows.features(), false);
        Predictions disk = loaded.ensemble().predict(rows.features(), false);
        for (int r = 0; r < rows.rows(); r++) {
            assertThat(disk.score()[r]).isCloseTo(memory.score()[r], within(1e-6));
            assertThat(disk.label()[r]).isEqualTo(memory.label()[r]);
        }
    }

    @Test
    void predict_intervalContainsScoreAndAgreementBounded() {
        Predictions p = loaded.ensemble().predict(rows.features(), false);
        assertThat(p.baseModels()).containsExactly("xgboost", "lightgbm", "mlp");
        for (int r = 0; r < p.rows(); r++) {
            assertThat(p.score()[r]).isBetween(0.0, 1.0);
            assertThat(p.lower()[r]).isLessThanOrEqualTo(p.score()[r]);
            assertThat(p.upper()[r]).isGreaterThanOrEqualTo(p.score()[r]);
            assertThat(p.upper()[r] - p.lower()[r]).isPositive();
            assertThat(p.agreement()[r]).isBetween(0.0, 1.0);
            double[] base = p.baseScores()[r];
            double spread =
                    Math.max(base[0], Math.max(base[1], base[2])) - Math.min(base[0], Math.min(base[1], base[2]));
            assertThat(p.agreement()[r]).isCloseTo(1 - spread, within(1e-12));
        }
    }

    @Test
    void predict_contributionsAddUpToLogit() {
        Predictions p = loaded.ensemble().predict(rows.features(), true);
        Predictions.Explanations e = p.explanations().orElseThrow();
        for (int r = 0; r < p.rows(); r++) {
            double sum = e.baseValue()[r] + e.mlpTerm()[r];
            for (double c : e.contributions()[r]) {
                sum += c;
            }
            assertThat(sum).isCloseTo(e.logit()[r], within(1e-4));
            assertThat(MetaLearner.sigmoid(e.logit()[r])).isCloseTo(p.score()[r], within(1e-12));
            assertThat(e.contributions()[r]).hasSize(loaded.ensemble().schema().size());
        }
    }

    @Test
    void predict_matchesTheNativeLibrariesAndTheDenseMlp() {
        // the reference: every base model through the path that predates the Java walkers
        StackedEnsemble ensemble = (StackedEnsemble) loaded.ensemble();
        FeatureBatch batch = rows.features();
        Matrix trees = new TreeEncoder(ensemble.schema()).encode(batch);
        double[] x = ensemble.xgboost().nativeMargins(trees);
        double[] l = ensemble.lightgbm().rawScoresBatchPath(trees);
        double[] m = ensemble.mlp().logits(ensemble.mlpEncoder().encode(batch));
        double[] xgbPhi = ensemble.xgboost().nativeContributions(trees);
        double[] lgbPhi = ensemble.lightgbm().nativeContributions(trees);
        MetaLearner meta = ensemble.metaLearner();
        int features = ensemble.schema().size();
        // batch sizes on both sides of every block edge: the MLP's blocks of 4, the trees' blocks of 64
        for (int size : new int[] {1, 3, 4, 5, 63, 64, 65, rows.rows()}) {
            Predictions p = ensemble.predict(
                    rows.subset(java.util.stream.IntStream.range(0, size).toArray())
                            .features(),
                    true);
            Predictions.Explanations e = p.explanations().orElseThrow();
            for (int r = 0; r < size; r++) {
                double[] z = {x[r], l[r], m[r]};
                assertThat(p.score()[r]).isCloseTo(MetaLearner.sigmoid(meta.logit(z)), within(1e-6));
                assertThat(p.baseScores()[r][2]).isCloseTo(MetaLearner.sigmoid(m[r]), within(1e-12));
                for (int f = 0; f < features; f++) {
                    double expected = meta.weights()[0] * xgbPhi[r * (features + 1) + f]
                            + meta.weights()[1] * lgbPhi[r * (features + 1) + f];
                    assertThat(e.contributions()[r][f]).isCloseTo(expected, within(1e-5));
                }
            }
        }
    }

    @Test
    void mlp_sparseBlockedPassEqualsDensePass() {
        StackedEnsemble ensemble = (StackedEnsemble) loaded.ensemble();
        double[] dense = ensemble.mlp().logits(ensemble.mlpEncoder().encode(rows.features()));
        double[] sparse = ensemble.mlp().logits(ensemble.mlpEncoder().encodeSparse(rows.features()));
        for (int r = 0; r < dense.length; r++) {
            assertThat(sparse[r]).isEqualTo(dense[r]);
        }
    }

    @Test
    void predict_labelsFollowThresholds() {
        StackedEnsemble ensemble = (StackedEnsemble) loaded.ensemble();
        LabelThresholds t = ensemble.thresholds();
        assertThat(t.hot()).isGreaterThanOrEqualTo(t.warm());
        Predictions p = ensemble.predict(rows.features(), false);
        int hot = 0;
        for (int r = 0; r < p.rows(); r++) {
            assertThat(p.label()[r]).isEqualTo(t.label(p.score()[r]));
            hot += p.label()[r].equals("hot") ? 1 : 0;
        }
        // thresholds come from out-of-fold quantiles: roughly 10% of fresh rows are hot
        assertThat(hot).isBetween(10, 100);
    }

    @Test
    void predict_singleRowsMatchBatch() {
        Predictions batch = loaded.ensemble().predict(rows.features(), false);
        for (int r = 0; r < 50; r++) {
            Predictions one =
                    loaded.ensemble().predict(rows.subset(new int[] {r}).features(), false);
            assertThat(one.score()[0]).isCloseTo(batch.score()[r], within(1e-6));
        }
    }

    @Test
    void xgboost_javaTreeWalkerMatchesNative() {
        StackedEnsemble ensemble = (StackedEnsemble) loaded.ensemble();
        assertThat(ensemble.xgboost().hasJavaPath()).isTrue();
        Matrix trees = new TreeEncoder(ensemble.schema()).encode(rows.features());
        double[] expected = ensemble.xgboost().nativeMargins(trees);
        for (int start = 0; start + 8 <= rows.rows(); start += 8) {
            double[] small = ensemble.xgboost()
                    .margins(trees.selectRows(
                            java.util.stream.IntStream.range(start, start + 8).toArray()));
            for (int i = 0; i < 8; i++) {
                assertThat(small[i]).isCloseTo(expected[start + i], within(1e-5));
            }
        }
    }

    @Test
    void lightgbm_fastSingleRowPathMatchesBatchPath() {
        StackedEnsemble ensemble = (StackedEnsemble) loaded.ensemble();
        Matrix trees = new TreeEncoder(ensemble.schema()).encode(rows.features());
        double[] batch = ensemble.lightgbm().rawScoresBatchPath(trees);
        for (int r = 0; r < 50; r++) {
            double[] one = ensemble.lightgbm().rawScores(trees.selectRows(new int[] {r}));
            assertThat(one[0]).isCloseTo(batch[r], within(1e-12));
        }
    }

    @Test
    void predict_concurrentCallsAgree() throws Exception {
        Predictions expected = loaded.ensemble().predict(rows.features(), false);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<double[]>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int offset = t;
                futures.add(pool.submit(() -> {
                    double[] scores = new double[rows.rows()];
                    for (int r = offset; r < rows.rows(); r += 8) {
                        scores[r] = loaded.ensemble()
                                .predict(rows.subset(new int[] {r}).features(), false)
                                .score()[0];
                    }
                    return scores;
                }));
            }
            for (int t = 0; t < 8; t++) {
                double[] scores = futures.get(t).get();
                for (int r = t; r < rows.rows(); r += 8) {
                    assertThat(scores[r]).isCloseTo(expected.score()[r], within(1e-6));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void predict_emptyBatch() {
        Predictions p =
                loaded.ensemble().predict(new FeatureBatch(loaded.ensemble().schema(), 0), true);
        assertThat(p.rows()).isZero();
        assertThat(p.explanations()).isPresent();
    }

    @Test
    void predict_unseenCategoryEqualsMissing() {
        FeatureSchema schema = loaded.ensemble().schema();
        int contract = schema.indexOf("contract");
        assertThat(schema.features().get(contract).type()).isEqualTo(FeatureType.CATEGORICAL);
        Dataset one = rows.subset(new int[] {0, 0});
        one.features().setCategorical(0, contract, "Three year");
        one.features().setCategorical(1, contract, null);
        Predictions p = loaded.ensemble().predict(one.features(), true);
        assertThat(p.score()[0]).isEqualTo(p.score()[1]);
        assertThat(p.explanations().orElseThrow().contributions()[0])
                .containsExactly(p.explanations().orElseThrow().contributions()[1]);
    }

    @Test
    void predict_missingNumericEqualsNaN() {
        FeatureSchema schema = loaded.ensemble().schema();
        int tenure = schema.indexOf("tenure");
        Dataset two = rows.subset(new int[] {1, 1});
        two.features().setNumeric(0, tenure, Double.NaN);
        FeatureBatch fresh = new FeatureBatch(schema, 1);
        // a fresh batch row has every numeric NaN and every categorical null: all-missing must still score
        Predictions p = loaded.ensemble().predict(two.features(), false);
        Predictions empty = loaded.ensemble().predict(fresh, true);
        assertThat(p.score()[0]).isBetween(0.0, 1.0).isNotEqualTo(Double.NaN);
        assertThat(empty.score()[0]).isBetween(0.0, 1.0);
        Predictions.Explanations e = empty.explanations().orElseThrow();
        double sum = e.baseValue()[0] + e.mlpTerm()[0];
        for (double c : e.contributions()[0]) {
            sum += c;
        }
        assertThat(sum).isCloseTo(e.logit()[0], within(1e-4));
    }
}
