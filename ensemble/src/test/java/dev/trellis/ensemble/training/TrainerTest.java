package dev.trellis.ensemble.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.metrics.RegressionMetricSet;
import dev.trellis.ensemble.stacking.LabelThresholds;
import dev.trellis.ensemble.stacking.StackedModel;
import dev.trellis.ensemble.testing.TestBundles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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
        try (TrainingResult result = new Trainer(TrainingOptions.fast().withThreads(1), message -> {}).train(data)) {
            second = result.metrics();
        }
        assertThat(second).isEqualTo(first);
        assertThat(progress).anyMatch(line -> line.startsWith("fold 2/2: fitted lightgbm"));
        assertThat(progress).anyMatch(line -> line.startsWith("meta-learner stacked: out-of-fold AUC"));
    }

    /** The training report's ensemble is, by construction, never below its best base model out of fold. */
    @Test
    void train_ensembleNotBelowBestBaseOutOfFold() {
        Dataset data = TestBundles.subset(TestBundles.churn(), 1500, 8);
        try (TrainingResult result = new Trainer(TrainingOptions.fast(), message -> {}).train(data)) {
            Map<String, MetricSet> oof = result.metrics().get(TrainingResult.OUT_OF_FOLD);
            MetricSet ensemble = oof.get(TrainingResult.ENSEMBLE);
            for (String model : List.of("xgboost", "lightgbm", "mlp")) {
                assertThat(ensemble.aucRoc())
                        .as(model)
                        .isGreaterThanOrEqualTo(oof.get(model).aucRoc());
                assertThat(ensemble.logLoss())
                        .as(model)
                        .isLessThanOrEqualTo(oof.get(model).logLoss());
            }
            assertThat(result.metaChoice().reason()).contains("out-of-fold AUC");
        }
    }

    /** Two tuned trainings (about 60 early-stopped fits each): longer than the default on a busy machine. */
    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void train_tunedSameSeedSameMetricsAndSettings() {
        Dataset data = TestBundles.subset(TestBundles.churn(), 520, 4);
        TrainingOptions options = TrainingOptions.fast().withFolds(3).withTuning(true, Duration.ofMillis(100));
        Map<String, Map<String, MetricSet>> first;
        Hyperparameters firstParams;
        List<String> progress = new ArrayList<>();
        try (TrainingResult result = new Trainer(options, progress::add).train(data)) {
            first = result.metrics();
            firstParams = result.params();
            TrainingResult.TuningReport tuning = result.tuning().orElseThrow();
            assertThat(tuning.models())
                    .extracting(TrainingResult.ModelTuning::model)
                    .containsExactly("xgboost", "lightgbm", "mlp");
            for (TrainingResult.ModelTuning model : tuning.models()) {
                assertThat(model.trials()).isBetween(Tuner.MIN_TRIALS, Tuner.MAX_TRIALS);
                // the starting settings are always evaluated on every fold, so the winner is no worse
                assertThat(model.bestLoss()).isLessThanOrEqualTo(model.startLoss());
                assertThat(model.iterations()).isPositive();
            }
            assertThat(firstParams.xgboost().rounds())
                    .isEqualTo(tuning.models().get(0).iterations());
            assertThat(firstParams.mlp().epochs())
                    .isEqualTo(tuning.models().get(2).iterations());
        }
        try (TrainingResult result = new Trainer(options, message -> {}).train(data)) {
            assertThat(result.params()).isEqualTo(firstParams);
            assertThat(result.metrics()).isEqualTo(first);
        }
        assertThat(progress).anyMatch(line -> line.startsWith("tuned mlp: "));
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

    /** Leads-like tiny data: about 216 rows with 13 positives, as the lead qualifier the issue cites. */
    @Test
    void train_tinyData_adaptsWarnsOnceAndSkipsTheMlp() {
        Dataset leads = leads();
        Dataset data = TestBundles.subset(leads, 216, 5);
        assertThat(data.positives()).isEqualTo(13);
        List<String> progress = new ArrayList<>();
        try (TrainingResult result = new Trainer(TrainingOptions.defaults(), progress::add).train(data)) {
            assertThat(progress.stream().filter(line -> line.startsWith("warning: ")))
                    .singleElement()
                    .asString()
                    .contains("small data (216 rows, 13 in the rarer class")
                    .contains("3 folds")
                    .contains("no test split")
                    .contains("MLP skipped");
            assertThat(result.warnings()).hasSize(1);
            assertThat(result.folds()).isEqualTo(3);
            assertThat(result.testRows()).isZero();
            assertThat(result.ensemble().baseModels()).containsExactly("xgboost", "lightgbm");
            assertThat(result.ensemble()).isInstanceOf(StackedModel.class);
            assertThat(result.mlpSkipped()).get().asString().startsWith("MLP skipped: 216 rows");
            assertThat(result.params().xgboost().maxDepth()).isEqualTo(2);
            assertThat(result.params().lightgbm().numLeaves()).isEqualTo(4);
            Map<String, MetricSet> oof = result.metrics().get(TrainingResult.OUT_OF_FOLD);
            assertThat(oof).containsOnlyKeys("xgboost", "lightgbm", "ensemble");
            assertThat(oof.get(TrainingResult.ENSEMBLE).aucRoc()).isGreaterThan(0.5);
            Predictions p =
                    result.ensemble().predict(data.subset(new int[] {0, 1, 2}).features(), true);
            assertThat(p.baseScores()[0]).hasSize(2);
            for (int r = 0; r < 3; r++) {
                assertThat(p.lower()[r]).isLessThanOrEqualTo(p.score()[r]);
                assertThat(p.upper()[r]).isGreaterThanOrEqualTo(p.score()[r]);
                double sum = p.explanations().orElseThrow().baseValue()[r];
                for (double c : p.explanations().orElseThrow().contributions()[r]) {
                    sum += c;
                }
                assertThat(p.explanations().orElseThrow().mlpTerm()[r]).isZero();
                assertThat(sum).isCloseTo(p.explanations().orElseThrow().logit()[r], within(1e-4));
            }
        }
    }

    @Test
    void train_belowTheHardMinimum_refusesClearly() {
        Dataset data = TestBundles.subset(leads(), 120, 5); // about 7 positives
        assertThatThrownBy(() -> new Trainer(TrainingOptions.fast(), message -> {}).train(data))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("too little data to train (120 rows, 7 in the rarer class)")
                .hasMessageContaining("at least 40 rows and 10 of each class");
    }

    @Test
    void train_regression_linearMetaLearnerConformalIntervalAndTiers() {
        Dataset data = TestBundles.subset(TestBundles.churnRegression(), 1500, 2);
        assertThat(data.kind()).isEqualTo(TargetKind.REGRESSION);
        Map<String, Map<String, RegressionMetricSet>> first;
        try (TrainingResult result = new Trainer(TrainingOptions.fast(), message -> {}).train(data)) {
            first = result.regressionMetrics();
            assertThat(result.metrics()).isEmpty();
            assertThat(result.ensemble().targetKind()).isEqualTo(TargetKind.REGRESSION);
            Map<String, RegressionMetricSet> oof = first.get(TrainingResult.OUT_OF_FOLD);
            RegressionMetricSet ensemble = oof.get(TrainingResult.ENSEMBLE);
            for (String model : List.of("xgboost", "lightgbm", "mlp")) {
                assertThat(ensemble.rmse())
                        .as(model)
                        .isLessThanOrEqualTo(oof.get(model).rmse());
            }
            // monthly charges follow from the services a customer has
            assertThat(ensemble.r2()).isGreaterThan(0.9);
            assertThat(ensemble.rmse()).isLessThan(ensemble.baselineRmse() / 3);
            assertThat(ensemble.coverage()).isCloseTo(0.95, within(0.01));
            RegressionMetricSet test = first.get(TrainingResult.TEST).get(TrainingResult.ENSEMBLE);
            assertThat(test.r2()).isGreaterThan(0.9);
            assertThat(test.coverage()).isBetween(0.9, 1.0);

            Dataset rows = data.subset(new int[] {0, 1, 2, 3, 4, 5, 6, 7});
            Predictions p = result.ensemble().predict(rows.features(), true);
            for (int r = 0; r < rows.rows(); r++) {
                assertThat(p.score()[r]).isBetween(10.0, 130.0);
                assertThat(p.upper()[r] - p.lower()[r]).isGreaterThan(0);
                assertThat(p.lower()[r]).isLessThan(p.score()[r]);
                assertThat(LabelThresholds.TIERS).contains(p.label()[r]);
                assertThat(p.agreement()[r]).isBetween(0.0, 1.0);
                Predictions.Explanations e = p.explanations().orElseThrow();
                double sum = e.baseValue()[r] + e.mlpTerm()[r];
                for (double c : e.contributions()[r]) {
                    sum += c;
                }
                assertThat(sum).isCloseTo(p.score()[r], within(1e-3));
            }
        }
        try (TrainingResult result = new Trainer(TrainingOptions.fast(), message -> {}).train(data)) {
            assertThat(result.regressionMetrics()).isEqualTo(first);
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

    private static Dataset leads() {
        try {
            return Dataset.load(
                    TestBundles.leadsCsv(),
                    "converted",
                    List.of("lead_id"),
                    dev.trellis.ensemble.data.SchemaOverrides.none());
        } catch (dev.trellis.ensemble.data.DatasetException e) {
            throw new IllegalStateException(e);
        }
    }
}
