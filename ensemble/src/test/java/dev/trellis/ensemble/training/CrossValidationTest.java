package dev.trellis.ensemble.training;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.testing.TestBundles;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CrossValidationTest {
    @Test
    void run_everyOuterFoldEveryModelDeterministic() {
        Dataset data = TestBundles.subset(TestBundles.churn(), 900, 6);
        CrossValidation.Result first = new CrossValidation(TrainingOptions.fast(), message -> {}).run(data, 2, 3);
        assertThat(first.models()).containsExactly("xgboost", "lightgbm", "mlp", "ensemble");
        assertThat(first.metrics()).hasSize(2 * 3 * 4);
        assertThat(first.choices()).hasSize(6);
        Map<String, double[]> auc = first.values("auc_roc");
        for (double[] values : auc.values()) {
            assertThat(java.util.Arrays.stream(values).boxed().toList())
                    .hasSize(6)
                    .allMatch(v -> v > 0.7 && v < 0.95);
        }
        Map<String, double[]> recall = first.values("top_k_recall");
        assertThat(java.util.Arrays.stream(recall.get("ensemble")).boxed().toList())
                .allMatch(v -> v > 0.3 && v <= 1.0);
        CrossValidation.Result second =
                new CrossValidation(TrainingOptions.fast().withThreads(1), message -> {}).run(data, 2, 3);
        assertThat(second.metrics()).isEqualTo(first.metrics());
        assertThat(second.choices()).isEqualTo(first.choices());
    }

    @Test
    void run_regression_reportsRmseAndCoverage() {
        Dataset data = TestBundles.subset(TestBundles.churnRegression(), 700, 6);
        CrossValidation.Result result = new CrossValidation(TrainingOptions.fast(), message -> {}).run(data, 1, 3);
        Map<String, double[]> r2 = result.values("r2");
        assertThat(java.util.Arrays.stream(r2.get("ensemble")).boxed().toList())
                .hasSize(3)
                .allMatch(v -> v > 0.8);
        // only the ensemble has an interval; out of sample it covers about 95% of the rows
        assertThat(result.values("interval_coverage").get("xgboost")).isEmpty();
        assertThat(java.util.Arrays.stream(result.values("interval_coverage").get("ensemble"))
                        .boxed()
                        .toList())
                .allMatch(v -> v >= 0.85 && v <= 1.0);
        assertThat(List.copyOf(result.values("rmse").keySet()))
                .containsExactly("xgboost", "lightgbm", "mlp", "ensemble");
    }
}
