package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.Value;
import com.google.protobuf.util.Durations;
import dev.trellis.api.v1.BaseScore;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.FeatureContribution;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.ModelVersionInfo;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.StopExperimentRequest;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.api.v1.Variant;
import dev.trellis.ensemble.testing.TestBundles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with a continuous target end to end: the churn file's {@code monthly_charges}, predicted
 * from the other columns except {@code total_charges} and {@code churned}, trained by the project's
 * trainer ({@link TestBundles#installRegression}), served by two real model-servers behind a real
 * router next to a binary churn model. Scores are predicted values with their 95% conformal
 * interval, the wire says which kind each model is, and experiments and rollouts work unchanged.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RegressionEndToEndTest {
    private static final String MODEL = "charges";
    private static final Set<String> NOT_INPUTS = Set.of("monthly_charges", "total_charges");

    @TempDir
    static Path temp;

    private Cluster cluster;
    private List<Map<String, Value>> rows;

    @BeforeAll
    void startCluster() throws Exception {
        Path repository = temp.resolve("repository");
        TestBundles.installRegression(repository, MODEL, 1, 11);
        TestBundles.installRegression(repository, MODEL, 2, 22);
        TestBundles.install(repository, "churn", 1, 11);
        cluster = new Cluster(repository, temp.resolve("trellis.db"), 2, b -> b.rolloutTick(Duration.ofMillis(50)));
        Awaitility.await("both charges versions ready on both replicas")
                .atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(20))
                .until(() -> cluster.router.catalog().snapshot().model(MODEL).stream()
                                .flatMap(m -> m.versions().values().stream())
                                .filter(v -> v.servable()
                                        && v.replicas().values().stream().allMatch(s -> s.ready()))
                                .count()
                        == 2);
        rows = ChurnRows.load(400).stream()
                .map(row -> {
                    Map<String, Value> inputs = new LinkedHashMap<>(row);
                    inputs.keySet().removeAll(NOT_INPUTS);
                    return Map.copyOf(inputs);
                })
                .toList();
    }

    @AfterAll
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void score_regressionModel_predictedValueWithItsIntervalThroughTheRouter() {
        ScoreResponse response = cluster.scoring()
                .score(ScoreRequest.newBuilder()
                        .setModel(MODEL)
                        .setUnitId("C00001")
                        .putAllFeatures(rows.get(0))
                        .setExplain(true)
                        .build());
        assertThat(response.getTargetKind()).isEqualTo(TargetKind.TARGET_KIND_REGRESSION);
        // C00001 pays 29.85 a month (DSL internet, no phone service)
        assertThat(response.getScore()).isBetween(15.0, 60.0);
        assertThat(response.getInterval().getLower()).isLessThan(response.getScore());
        assertThat(response.getInterval().getUpper()).isGreaterThan(response.getScore());
        assertThat(response.getInterval().getLevel()).isEqualTo(0.95);
        assertThat(response.getLabel()).isIn("A", "B", "C", "D");
        assertThat(response.getBaseScoresList())
                .extracting(BaseScore::getModel)
                .containsExactly("xgboost", "lightgbm", "mlp");
        assertThat(response.getAgreement()).isBetween(0.0, 1.0);
        double sum = response.getExplanation().getBaseValue()
                + response.getExplanation().getMlpTerm()
                + response.getExplanation().getContributionsList().stream()
                        .mapToDouble(FeatureContribution::getValue)
                        .sum();
        assertThat(sum).isCloseTo(response.getScore(), within(0.01));
        assertThat(response.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);

        ScoreResponse binary = cluster.scoring()
                .score(ScoreRequest.newBuilder()
                        .setModel("churn")
                        .setUnitId("C00001")
                        .putAllFeatures(ChurnRows.load(1).get(0))
                        .build());
        assertThat(binary.getTargetKind()).isEqualTo(TargetKind.TARGET_KIND_BINARY);
        assertThat(binary.getScore()).isBetween(0.0, 1.0);
    }

    @Test
    @Order(2)
    void listModels_saysWhatKindOfTargetEachVersionHas() {
        List<ModelInfo> models = cluster.anonymous()
                .listModels(ListModelsRequest.getDefaultInstance())
                .getModelsList();
        for (ModelInfo model : models) {
            assertThat(model.getVersionsList())
                    .extracting(ModelVersionInfo::getTargetKind)
                    .containsOnly(
                            model.getName().equals(MODEL)
                                    ? TargetKind.TARGET_KIND_REGRESSION
                                    : TargetKind.TARGET_KIND_BINARY);
        }
        assertThat(models).extracting(ModelInfo::getName).contains(MODEL, "churn");
    }

    @Test
    @Order(3)
    void experiment_regressionVersions_splitByUnitUnchanged() {
        cluster.admin()
                .putExperiment(PutExperimentRequest.newBuilder()
                        .setExperiment(Experiment.newBuilder()
                                .setKey("charges-v2-vs-v1")
                                .setModel(MODEL)
                                .setStatus(ExperimentStatus.RUNNING)
                                .addVariants(Variant.newBuilder()
                                        .setKey("control")
                                        .setVersion("1")
                                        .setWeight(0.5))
                                .addVariants(Variant.newBuilder()
                                        .setKey("treatment")
                                        .setVersion("2")
                                        .setWeight(0.5)))
                        .build());
        Set<String> variants = new HashSet<>();
        Awaitility.await("both variants served")
                .atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(20))
                .until(() -> {
                    for (ScoreResponse r : batch(0, 200).getResultsList()) {
                        if (r.getServed().getReason() == RoutingReason.EXPERIMENT) {
                            variants.add(r.getServed().getVariant() + "="
                                    + r.getServed().getVersion());
                            assertThat(r.getTargetKind()).isEqualTo(TargetKind.TARGET_KIND_REGRESSION);
                        }
                    }
                    return variants.size() == 2;
                });
        assertThat(variants).containsExactlyInAnyOrder("control=1", "treatment=2");
        cluster.admin()
                .stopExperiment(StopExperimentRequest.newBuilder()
                        .setKey("charges-v2-vs-v1")
                        .build());
    }

    /**
     * Two versions trained the same way on the same target predict alike: the PSI of their
     * predicted values (binned over the training target's range) stays small, so a rollout with a
     * strict PSI guardrail promotes.
     */
    @Test
    @Order(4)
    void rollout_regressionVersions_psiOnPredictedValuesPromotes() {
        cluster.admin()
                .startRollout(StartRolloutRequest.newBuilder()
                        .setRollout(Rollout.newBuilder()
                                .setModel(MODEL)
                                .setStableVersion("1")
                                .setCandidateVersion("2")
                                .addSteps(20)
                                .addSteps(100)
                                .setStepInterval(Durations.fromMillis(100))
                                .setMinCandidateRequests(100)
                                .setGuardrails(Guardrails.newBuilder()
                                        .setMaxErrorRateIncrease(0.01)
                                        .setMaxP99LatencyRatio(50)
                                        .setMaxScorePsi(0.5)))
                        .build());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        Rollout rollout = null;
        for (int offset = 0; System.nanoTime() < deadline; offset += 200) {
            batch(offset, 200);
            rollout = cluster.anonymous()
                    .getRollout(GetRolloutRequest.newBuilder().setModel(MODEL).build())
                    .getRollout();
            if (rollout.getState() != RolloutState.PROGRESSING) {
                break;
            }
        }
        assertThat(rollout).isNotNull();
        assertThat(rollout.getState()).as(rollout.getReason()).isEqualTo(RolloutState.PROMOTED);
    }

    private ScoreBatchResponse batch(int offset, int count) {
        ScoreBatchRequest.Builder request = ScoreBatchRequest.newBuilder().setModel(MODEL);
        for (int i = 0; i < count; i++) {
            int index = offset + i;
            request.addRows(
                    ScoreRequest.newBuilder().setUnitId("C" + index).putAllFeatures(rows.get(index % rows.size())));
        }
        return cluster.scoring().scoreBatch(request.build());
    }
}
