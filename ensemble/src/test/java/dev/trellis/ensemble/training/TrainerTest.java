package dev.trellis.ensemble.training;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.testing.TestBundles;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TrainerTest {
    @Test
    void train_sameSeedSameMetrics() {
        Dataset data = TestBundles.subset(TestBundles.churn(), 1200, 3);
        Map<String, Map<String, MetricSet>> first;
        Map<String, Map<String, MetricSet>> second;
        List<String> progress = new ArrayList<>();
        try (TrainingResult result = new Trainer(TrainingOptions.fast(), progress::add).train(data)) {
            first = result.metrics();
            assertThat(result.trainRows() + result.testRows()).isEqualTo(data.rows());
            assertThat(result.positives()).isEqualTo(data.positives());
        }
        try (TrainingResult result = new Trainer(TrainingOptions.fast(), message -> {}).train(data)) {
            second = result.metrics();
        }
        assertThat(second).isEqualTo(first);
        assertThat(progress).anyMatch(line -> line.startsWith("fold 2/2: fitted lightgbm"));
    }

    @Test
    void stratifiedSplit_keepsClassBalance() {
        int[] labels = new int[1000];
        for (int i = 0; i < 250; i++) {
            labels[i * 4] = 1;
        }
        int[][] split = Trainer.stratifiedSplit(labels, 0.2, 1);
        assertThat(split[1]).hasSize(200);
        assertThat(java.util.Arrays.stream(split[1]).map(i -> labels[i]).sum()).isEqualTo(50);
        int[] folds = Trainer.stratifiedFolds(labels, 5, 1);
        for (int k = 0; k < 5; k++) {
            int fold = k;
            assertThat(java.util.stream.IntStream.range(0, 1000)
                            .filter(i -> folds[i] == fold && labels[i] == 1)
                            .count())
                    .isEqualTo(50);
        }
    }

    /** Full default settings on the shipped churn data: the quality bar of the bundle. */
    @Test
    void train_defaultChurnMeetsQualityBar() {
        try (TrainingResult result =
                new Trainer(TrainingOptions.defaults(), message -> {}).train(TestBundles.churn())) {
            Map<String, MetricSet> test = result.metrics().get(TrainingResult.TEST);
            MetricSet ensemble = test.get(TrainingResult.ENSEMBLE);
            double bestAuc = 0;
            double bestBrier = 1;
            for (String model : List.of("xgboost", "lightgbm", "mlp")) {
                bestAuc = Math.max(bestAuc, test.get(model).aucRoc());
                bestBrier = Math.min(bestBrier, test.get(model).brier());
            }
            assertThat(ensemble.aucRoc()).isGreaterThanOrEqualTo(0.84);
            assertThat(ensemble.aucRoc()).isGreaterThanOrEqualTo(bestAuc - 0.005);
            assertThat(ensemble.brier()).isLessThanOrEqualTo(bestBrier);
        }
    }
}
