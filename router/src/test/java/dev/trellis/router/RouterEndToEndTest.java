package dev.trellis.router;

import static dev.trellis.router.StatusAssertions.catchStatus;
import static dev.trellis.router.StatusAssertions.violations;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.Value;
import com.google.protobuf.util.Durations;
import com.google.rpc.BadRequest;
import dev.trellis.api.v1.AttributeColumn;
import dev.trellis.api.v1.Condition;
import dev.trellis.api.v1.DeleteExperimentRequest;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExplainAssignmentRequest;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.GetResultsRequest;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.Guardrails;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.ListModelsResponse;
import dev.trellis.api.v1.MetricType;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.Namespace;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.SetDefaultVersionRequest;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.StringValues;
import dev.trellis.api.v1.Variant;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.experiments.definition.GrowthBookImport;
import dev.trellis.experiments.hashing.GrowthBookHash;
import dev.trellis.router.upstream.FeatureSchema;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.commons.math3.distribution.ChiSquaredDistribution;
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
 * End to end: a real router in front of two real model-server replicas on loopback ports, serving
 * real trained churn bundles from one shared repository. The servers are shared by the tests of
 * this class; the replica-failure test runs last because it stops a replica.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RouterEndToEndTest {
    private static final String MODEL = "churn";
    private static final String CANARY = "churn-canary";
    private static final String BROKEN = "churn-broken";

    @TempDir
    static Path temp;

    private Cluster cluster;
    private List<Map<String, Value>> rows;

    @BeforeAll
    void startCluster() throws Exception {
        Path repository = temp.resolve("repository");
        TestBundles.install(repository, MODEL, 1, 11);
        TestBundles.install(repository, MODEL, 2, 22);
        TestBundles.install(repository, CANARY, 1, 11);
        TestBundles.install(repository, CANARY, 2, 22);
        TestBundles.install(repository, BROKEN, 1, 11);
        TestBundles.install(repository, BROKEN, 2, 22);
        cluster = new Cluster(
                repository, temp.resolve("trellis.db"), 2, b -> b.rolloutTick(java.time.Duration.ofMillis(50)));
        await(
                () -> cluster.router.catalog().snapshot().models().size() == 3
                        && cluster.router.catalog().snapshot().models().values().stream()
                                .allMatch(m -> m.versions().values().stream()
                                                .filter(v -> v.servable()
                                                        && v.replicas().values().stream()
                                                                .allMatch(s -> s.ready()))
                                                .count()
                                        == 2),
                "all versions ready on both replicas");
        rows = ChurnRows.load(500);
    }

    @AfterAll
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void listModels_reportsVersionsReadinessPerReplicaAndSchema() {
        ListModelsResponse models = cluster.anonymous().listModels(ListModelsRequest.getDefaultInstance());

        assertThat(models.getModelsList()).extracting(ModelInfo::getName).containsExactly(MODEL, BROKEN, CANARY);
        ModelInfo churn = models.getModels(0);
        assertThat(churn.getVersionsList()).extracting(v -> v.getVersion()).containsExactly("2", "1");
        assertThat(churn.getVersions(0).getReplicasList()).hasSize(2).allMatch(r -> r.getReady());
        assertThat(churn.getVersions(0).getFeaturesList())
                .extracting(f -> f.getName())
                .contains("tenure", "contract");
        assertThat(churn.getVersions(0).getFeaturesList())
                .filteredOn(f -> f.getName().equals("contract"))
                .extracting(f -> f.getDatatype())
                .containsExactly("BYTES");

        HealthCheckResponse health = HealthGrpc.newBlockingStub(cluster.channel)
                .check(HealthCheckRequest.newBuilder()
                        .setService("trellis.v1.Scoring")
                        .build());
        assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }

    @Test
    @Order(2)
    void score_withoutExperiment_servesHighestReadyVersionWithAllOutputs() {
        ScoreResponse response = cluster.scoring()
                .score(row("unit-a", 0).setExplain(true).setRequestId("r-1").build());

        assertThat(response.getScore()).isBetween(0.0, 1.0);
        assertThat(response.getLabel()).isNotEmpty();
        assertThat(response.getInterval().getLower()).isLessThanOrEqualTo(response.getScore());
        assertThat(response.getInterval().getUpper()).isGreaterThanOrEqualTo(response.getScore());
        assertThat(response.getBaseScoresList()).extracting(b -> b.getModel()).contains("xgboost", "lightgbm", "mlp");
        assertThat(response.getExplanation().getContributionsList()).isNotEmpty();
        assertThat(response.getRequestId()).isEqualTo("r-1");
        assertThat(response.getServed().getVersion()).isEqualTo("2");
        assertThat(response.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);
        assertThat(response.getServed().getReplica()).startsWith("127.0.0.1:");
    }

    @Test
    @Order(3)
    void score_badInput_getsPreciseStatus() {
        StatusRuntimeException unknownFeature = catchStatus(() -> cluster.scoring()
                .score(row("u", 0)
                        .putFeatures(
                                "favourite_colour",
                                Value.newBuilder().setStringValue("red").build())
                        .build()));
        assertThat(unknownFeature.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(unknownFeature))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("features.favourite_colour");

        StatusRuntimeException wrongType = catchStatus(() -> cluster.scoring()
                .score(row("u", 0)
                        .putFeatures(
                                "tenure",
                                Value.newBuilder().setStringValue("long").build())
                        .build()));
        assertThat(wrongType.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(wrongType)).singleElement().satisfies(v -> {
            assertThat(v.getField()).isEqualTo("features.tenure");
            assertThat(v.getDescription()).isEqualTo("expected a number, got string");
        });

        assertThat(catchStatus(() -> cluster.scoring()
                                .score(row("u", 0).setModel("no-such-model").build()))
                        .getStatus()
                        .getCode())
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(catchStatus(() -> cluster.scoring()
                                .score(row("u", 0).setVersion("99").build()))
                        .getStatus()
                        .getCode())
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(catchStatus(() ->
                                cluster.scoring().score(row("u", 0).setModel("").build()))
                        .getStatus()
                        .getCode())
                .isEqualTo(Status.Code.INVALID_ARGUMENT);

        // missing features are allowed: absent or null means missing
        ScoreResponse sparse = cluster.scoring()
                .score(ScoreRequest.newBuilder()
                        .setModel(MODEL)
                        .setUnitId("sparse")
                        .putFeatures(
                                "tenure",
                                Value.newBuilder().setNullValueValue(0).build())
                        .build());
        assertThat(sparse.getScore()).isBetween(0.0, 1.0);
    }

    @Test
    @Order(4)
    void admin_invalidDefinitionsStaleRevisionsAndMissingToken_areRejected() {
        StatusRuntimeException badWeights =
                catchStatus(() -> cluster.admin().putExperiment(put(experiment("bad-weights", 0.5, 0.3, "1", "2"), 0)));
        assertThat(badWeights.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(badWeights))
                .extracting(BadRequest.FieldViolation::getField)
                .contains("experiment.variants");

        StatusRuntimeException unknownVersion =
                catchStatus(() -> cluster.admin().putExperiment(put(experiment("bad-version", 0.5, 0.5, "1", "9"), 0)));
        assertThat(unknownVersion.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(unknownVersion))
                .extracting(BadRequest.FieldViolation::getField)
                .contains("experiment.variants[1].version");

        Experiment first = cluster.admin()
                .putExperiment(put(
                        experiment("ns-a", 0.5, 0.5, "1", "2").toBuilder()
                                .setModel(CANARY)
                                .setNamespace(Namespace.newBuilder()
                                        .setId("ns")
                                        .setStart(0)
                                        .setEnd(0.6))
                                .build(),
                        0))
                .getExperiment();
        StatusRuntimeException overlap = catchStatus(() -> cluster.admin()
                .putExperiment(put(
                        experiment("ns-b", 0.5, 0.5, "1", "2").toBuilder()
                                .setModel(CANARY)
                                .setNamespace(Namespace.newBuilder()
                                        .setId("ns")
                                        .setStart(0.5)
                                        .setEnd(1))
                                .build(),
                        0)));
        assertThat(overlap.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(overlap))
                .extracting(BadRequest.FieldViolation::getField)
                .contains("experiment.namespace");

        Experiment updated = cluster.admin()
                .putExperiment(put(first.toBuilder().setDescription("v2").build(), first.getRevision()))
                .getExperiment();
        assertThat(updated.getRevision()).isEqualTo(first.getRevision() + 1);
        assertThat(updated.getUpdatedBy()).isEqualTo("e2e-test");
        StatusRuntimeException stale = catchStatus(() -> cluster.admin()
                .putExperiment(put(first.toBuilder().setDescription("v3").build(), first.getRevision())));
        assertThat(stale.getStatus().getCode()).isEqualTo(Status.Code.ABORTED);

        StatusRuntimeException anonymous =
                catchStatus(() -> cluster.anonymous().putExperiment(put(experiment("anon", 0.5, 0.5, "1", "2"), 0)));
        assertThat(anonymous.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        // reads stay open
        assertThat(cluster.anonymous()
                        .getExperiment(dev.trellis.api.v1.GetExperimentRequest.newBuilder()
                                .setKey("ns-a")
                                .build())
                        .getExperiment()
                        .getRevision())
                .isEqualTo(updated.getRevision());

        Experiment stopped = cluster.admin()
                .stopExperiment(dev.trellis.api.v1.StopExperimentRequest.newBuilder()
                        .setKey("ns-a")
                        .setExpectedRevision(updated.getRevision())
                        .build())
                .getExperiment();
        assertThat(stopped.getStatus()).isEqualTo(ExperimentStatus.STOPPED);
    }

    @Test
    @Order(4)
    void admin_unknownModelIsNotFoundForDraftAndRunning_draftsCanBeDeleted() {
        StatusRuntimeException draftUnknown = catchStatus(() -> cluster.admin()
                .putExperiment(put(
                        experiment("typo-draft", 0.5, 0.5, "1", "2").toBuilder()
                                .setModel("chrun")
                                .setStatus(ExperimentStatus.DRAFT)
                                .build(),
                        0)));
        StatusRuntimeException runningUnknown = catchStatus(() -> cluster.admin()
                .putExperiment(put(
                        experiment("typo-running", 0.5, 0.5, "1", "2").toBuilder()
                                .setModel("chrun")
                                .build(),
                        0)));
        assertThat(draftUnknown.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(runningUnknown.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(draftUnknown.getStatus().getDescription())
                .isEqualTo(runningUnknown.getStatus().getDescription())
                .contains("chrun")
                .contains("known: " + MODEL);

        Experiment draft = cluster.admin()
                .putExperiment(put(
                        experiment("draft-to-delete", 0.5, 0.5, "1", "2").toBuilder()
                                .setModel(CANARY)
                                .setStatus(ExperimentStatus.DRAFT)
                                .build(),
                        0))
                .getExperiment();
        StatusRuntimeException anonymous = catchStatus(() -> cluster.anonymous()
                .deleteExperiment(DeleteExperimentRequest.newBuilder()
                        .setKey(draft.getKey())
                        .build()));
        assertThat(anonymous.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        StatusRuntimeException stale = catchStatus(() -> cluster.admin()
                .deleteExperiment(DeleteExperimentRequest.newBuilder()
                        .setKey(draft.getKey())
                        .setExpectedRevision(draft.getRevision() + 1)
                        .build()));
        assertThat(stale.getStatus().getCode()).isEqualTo(Status.Code.ABORTED);

        Experiment deleted = cluster.admin()
                .deleteExperiment(DeleteExperimentRequest.newBuilder()
                        .setKey(draft.getKey())
                        .setExpectedRevision(draft.getRevision())
                        .build())
                .getExperiment();
        assertThat(deleted.getKey()).isEqualTo(draft.getKey());
        StatusRuntimeException gone = catchStatus(() -> cluster.anonymous()
                .getExperiment(dev.trellis.api.v1.GetExperimentRequest.newBuilder()
                        .setKey(draft.getKey())
                        .build()));
        assertThat(gone.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);

        Experiment running = cluster.admin()
                .putExperiment(put(
                        experiment("running-not-deletable", 0.5, 0.5, "1", "2").toBuilder()
                                .setModel(BROKEN)
                                .build(),
                        0))
                .getExperiment();
        StatusRuntimeException notDraft = catchStatus(() -> cluster.admin()
                .deleteExperiment(DeleteExperimentRequest.newBuilder()
                        .setKey(running.getKey())
                        .build()));
        assertThat(notDraft.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(notDraft.getStatus().getDescription()).contains("RUNNING");
        cluster.admin()
                .stopExperiment(dev.trellis.api.v1.StopExperimentRequest.newBuilder()
                        .setKey(running.getKey())
                        .build());
        // the router still serves after every refusal
        assertThat(cluster.scoring().score(row("after-delete", 0).build()).getScore())
                .isBetween(0.0, 1.0);
    }

    @Test
    @Order(5)
    void experiment_fiftyFiftyOverTenThousandUnits_splitsStickyAndExplainable() {
        cluster.admin()
                .setDefaultVersion(SetDefaultVersionRequest.newBuilder()
                        .setModel(MODEL)
                        .setVersion("1")
                        .build());
        Experiment running = cluster.admin()
                .putExperiment(put(
                        experiment("churn-ab", 0.5, 0.5, "1", "2").toBuilder()
                                .addConditions(Condition.newBuilder()
                                        .setAttribute("plan")
                                        .setOperator(Condition.Operator.EQ)
                                        .addValues("pro"))
                                .build(),
                        0))
                .getExperiment();
        assertThat(running.getStatus()).isEqualTo(ExperimentStatus.RUNNING);

        int units = 10_000;
        Map<String, ScoreResponse> served = scoreUnits(units, "plan", "pro");
        Map<String, Integer> perVariant = new HashMap<>();
        for (ScoreResponse r : served.values()) {
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.EXPERIMENT);
            assertThat(r.getServed().getExperiment()).isEqualTo("churn-ab");
            assertThat(r.getServed().getVersion())
                    .isEqualTo(r.getServed().getVariant().equals("control") ? "1" : "2");
            perVariant.merge(r.getServed().getVariant(), 1, Integer::sum);
        }
        assertThat(perVariant.keySet()).containsExactlyInAnyOrder("control", "treatment");
        double expected = units / 2.0;
        double chiSquare = perVariant.values().stream()
                .mapToDouble(n -> (n - expected) * (n - expected) / expected)
                .sum();
        double p = 1 - new ChiSquaredDistribution(1).cumulativeProbability(chiSquare);
        assertThat(p).as("SRM p-value of %s", perVariant).isGreaterThan(0.001);

        // sticky: the same units again get the same versions
        Map<String, ScoreResponse> again = scoreUnits(500, "plan", "pro");
        again.forEach((unit, r) -> assertThat(r.getServed().getVersion())
                .as(unit)
                .isEqualTo(served.get(unit).getServed().getVersion()));

        // a pinned version bypasses the experiment
        String treated = served.entrySet().stream()
                .filter(e -> e.getValue().getServed().getVersion().equals("2"))
                .findFirst()
                .orElseThrow()
                .getKey();
        ScoreResponse pinned = cluster.scoring()
                .score(row(treated, 1)
                        .putAttributes("plan", "pro")
                        .setVersion("1")
                        .build());
        assertThat(pinned.getServed().getReason()).isEqualTo(RoutingReason.PINNED);
        assertThat(pinned.getServed().getVersion()).isEqualTo("1");

        // outside the targeting: the default
        ScoreResponse outside = cluster.scoring()
                .score(row(treated, 1).putAttributes("plan", "free").build());
        assertThat(outside.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);
        assertThat(outside.getServed().getVersion()).isEqualTo("1");

        // ExplainAssignment agrees with what Score served
        for (int i = 0; i < 50; i++) {
            String unit = "unit-" + (i * 197);
            ExplainAssignmentResponse explain = cluster.anonymous()
                    .explainAssignment(ExplainAssignmentRequest.newBuilder()
                            .setModel(MODEL)
                            .setUnitId(unit)
                            .putAttributes("plan", "pro")
                            .build());
            assertThat(explain.getVersion())
                    .isEqualTo(served.get(unit).getServed().getVersion());
            assertThat(explain.getVariant())
                    .isEqualTo(served.get(unit).getServed().getVariant());
            assertThat(explain.getEvaluationsList())
                    .singleElement()
                    .satisfies(e -> assertThat(e.getHash()).isBetween(0.0, 1.0));
        }
    }

    @Test
    @Order(6)
    void results_afterOutcomesOfExposedUnits_reportRatesLiftPValueAndSrm() {
        // units in treatment convert at 30%, control at 20% (deterministic by unit number)
        Map<String, ScoreResponse> served = scoreUnits(10_000, "plan", "pro");
        int recorded = 0;
        for (Map.Entry<String, ScoreResponse> e : served.entrySet()) {
            int n = Integer.parseInt(e.getKey().substring("unit-".length()));
            boolean treatment = e.getValue().getServed().getVariant().equals("treatment");
            if (n % 10 < (treatment ? 3 : 2)) {
                cluster.admin()
                        .recordOutcome(RecordOutcomeRequest.newBuilder()
                                .setUnitId(e.getKey())
                                .setMetric("converted")
                                .setValue(1)
                                .build());
                recorded++;
            }
        }
        assertThat(recorded).isGreaterThan(1000);

        GetResultsResponse results = cluster.anonymous()
                .getResults(
                        GetResultsRequest.newBuilder().setExperiment("churn-ab").build());

        assertThat(results.getVariantsList()).hasSize(2);
        assertThat(results.getVariantsList().stream()
                        .mapToLong(v -> v.getUnits())
                        .sum())
                .isEqualTo(10_000);
        assertThat(results.getVariants(0).getMean()).isBetween(0.15, 0.25);
        assertThat(results.getVariants(1).getMean()).isBetween(0.25, 0.35);
        assertThat(results.getComparisonsList()).singleElement().satisfies(c -> {
            assertThat(c.getAbsoluteLift()).isBetween(0.05, 0.15);
            assertThat(c.getPValue()).isLessThan(0.001);
            assertThat(c.getSignificant()).isTrue();
        });
        assertThat(results.getSrm().getMismatch()).isFalse();
        assertThat(results.getSrm().getPValue()).isGreaterThan(0.001);
    }

    @Test
    @Order(7)
    void growthBookImport_routesAsGrowthBookAndLogsExposuresUnderTheHashAttribute() {
        String export = """
                {"key": "gb-seats", "variations": [0, 1], "weights": [0.3, 0.7], "hashAttribute": "company",
                 "condition": {"plan": {"$in": ["pro", "team"]}, "seats": {"$gte": 10}},
                 "filters": [{"seed": "gb-ns", "attribute": "company", "ranges": [[0, 0.8]]}]}
                """;
        Experiment imported = GrowthBookImport.convert(
                export,
                new GrowthBookImport.Options(BROKEN, Map.of("0", "1", "1", "2"), null, null, null, null, false));
        Experiment stored = cluster.admin().putExperiment(put(imported, 0)).getExperiment();
        assertThat(stored.getHashVersion()).isEqualTo(1);

        List<String> companiesInExperiment = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String company = "co-" + i;
            ExplainAssignmentResponse x = cluster.anonymous()
                    .explainAssignment(ExplainAssignmentRequest.newBuilder()
                            .setModel(BROKEN)
                            .setUnitId("user-" + i)
                            .putAttributes("company", company)
                            .putAttributes("plan", "pro")
                            .putAttributes("seats", "12")
                            .build());
            // what a GrowthBook SDK computes: the filter's v2 hash, then the bucket's v1 hash (its default)
            boolean passesFilter = GrowthBookHash.hashV2("gb-ns", company) < 0.8;
            double n = GrowthBookHash.hashV1("gb-seats", company);
            String expected = !passesFilter ? "" : n < 0.3 ? "0" : "1";
            assertThat(x.getVariant()).as(company).isEqualTo(expected);
            assertThat(x.getEvaluations(0).getHashValue()).isEqualTo(company);
            if (!expected.isEmpty()) {
                companiesInExperiment.add(company);
                assertThat(x.getVersion()).isEqualTo(expected.equals("0") ? "1" : "2");
            }
        }
        assertThat(companiesInExperiment).hasSizeBetween(100, 180);
        ExplainAssignmentResponse fewSeats = cluster.anonymous()
                .explainAssignment(ExplainAssignmentRequest.newBuilder()
                        .setModel(BROKEN)
                        .setUnitId("u")
                        .putAttributes("company", companiesInExperiment.get(0))
                        .putAttributes("plan", "pro")
                        .putAttributes("seats", "9")
                        .build());
        assertThat(fewSeats.getReason()).isNotEqualTo(RoutingReason.EXPERIMENT);
        assertThat(fewSeats.getEvaluations(0).getFailedConditionsList())
                .containsExactly("condition seats {\"$gte\":10}: was '9'");

        // three users of each of four companies: four units in the results
        for (String company : companiesInExperiment.subList(0, 4)) {
            for (int u = 0; u < 3; u++) {
                ScoreResponse r = cluster.scoring()
                        .score(row(company + "-user-" + u, u)
                                .setModel(BROKEN)
                                .putAttributes("company", company)
                                .putAttributes("plan", "team")
                                .putAttributes("seats", "40")
                                .build());
                assertThat(r.getServed().getExperiment()).isEqualTo("gb-seats");
            }
        }
        GetResultsResponse results = cluster.anonymous()
                .getResults(GetResultsRequest.newBuilder()
                        .setExperiment("gb-seats")
                        .setMetric("converted")
                        .build());
        assertThat(results.getVariantsList().stream()
                        .mapToLong(v -> v.getUnits())
                        .sum())
                .isEqualTo(4);
        cluster.admin()
                .stopExperiment(dev.trellis.api.v1.StopExperimentRequest.newBuilder()
                        .setKey("gb-seats")
                        .build());
    }

    @Test
    @Order(7)
    void scoreStream_answersEveryRequestInOrder() throws Exception {
        int count = 300;
        List<ScoreResponse> responses = new ArrayList<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<ScoreRequest> requests = cluster.scoringAsync()
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .scoreStream(new StreamObserver<>() {
                    @Override
                    public void onNext(ScoreResponse value) {
                        synchronized (responses) {
                            responses.add(value);
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        done.complete(null);
                    }
                });
        for (int i = 0; i < count; i++) {
            requests.onNext(
                    row("stream-" + i, i).setRequestId(Integer.toString(i)).build());
        }
        requests.onCompleted();
        done.get(60, TimeUnit.SECONDS);

        assertThat(responses)
                .extracting(ScoreResponse::getRequestId)
                .containsExactlyElementsOf(Stream.iterate(0, i -> i + 1)
                        .limit(count)
                        .map(String::valueOf)
                        .toList());
    }

    @Test
    @Order(8)
    void rollout_healthyCandidate_advancesThroughStepsToPromoted() {
        Rollout started = cluster.admin()
                .startRollout(StartRolloutRequest.newBuilder()
                        .setRollout(Rollout.newBuilder()
                                .setModel(CANARY)
                                .setStableVersion("1")
                                .setCandidateVersion("2")
                                .addSteps(10)
                                .addSteps(50)
                                .addSteps(100)
                                .setStepInterval(Durations.fromMillis(100))
                                .setMinCandidateRequests(150)
                                // with a few hundred rows per window the latency and PSI estimates are noisy; the error
                                // guardrail stays strict
                                .setGuardrails(Guardrails.newBuilder()
                                        .setMaxErrorRateIncrease(0.01)
                                        .setMaxP99LatencyRatio(50)
                                        .setMaxScorePsi(2)))
                        .build())
                .getRollout();
        assertThat(started.getState()).isEqualTo(RolloutState.PROGRESSING);
        assertThat(started.getCurrentWeight()).isEqualTo(10);

        Rollout last = driveTraffic(CANARY, r -> r.getState() != RolloutState.PROGRESSING);

        assertThat(last.getState()).as(last.getReason()).isEqualTo(RolloutState.PROMOTED);
        assertThat(last.getHistoryList())
                .extracting(e -> e.getType())
                .containsSubsequence("STARTED", "ADVANCED", "PROMOTED");
        // the store commits the promotion a moment before the in-memory routing snapshot follows it
        ScoreResponse after = awaitScore(
                row("after-promotion", 0).setModel(CANARY).build(),
                r -> r.getServed().getReason() != RoutingReason.ROLLOUT);
        assertThat(after.getServed().getVersion()).isEqualTo("2");
        assertThat(after.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);
    }

    /**
     * Mid-rollout the candidate's bundle disappears from the repository (a failed sync, an operator's
     * mistake). A file operation alone must not take traffic down: the replicas keep serving the
     * candidate from memory (STALE) while the rollout holds it, so every request succeeds and the
     * rollout carries on. Once the rollout is aborted nothing holds the candidate any more: traffic
     * returns to the stable version and the replicas drain and unload the STALE candidate.
     */
    @Test
    @Order(9)
    void rollout_candidateFilesVanish_servesStaleUntilAbortedThenUnloads() {
        cluster.admin()
                .startRollout(StartRolloutRequest.newBuilder()
                        .setRollout(Rollout.newBuilder()
                                .setModel(BROKEN)
                                .setStableVersion("1")
                                .setCandidateVersion("2")
                                .addSteps(25)
                                .addSteps(100)
                                .setStepInterval(Durations.fromMillis(60_000)) // nothing ends this step by itself
                                .setMinCandidateRequests(50)
                                .setGuardrails(Guardrails.newBuilder()
                                        .setMaxErrorRateIncrease(0.01)
                                        .setMaxP99LatencyRatio(50)
                                        .setMaxScorePsi(2)))
                        .build());
        deleteRecursively(cluster.repository.resolve(BROKEN).resolve("2"));
        await(
                () -> cluster.router.catalog().snapshot().model(BROKEN).flatMap(m -> m.version("2")).stream()
                                .flatMap(v -> v.replicas().values().stream())
                                .filter(r -> r.state().equals("STALE"))
                                .count()
                        == 2,
                "the candidate STALE on both replicas");

        ScoreBatchResponse whileStale = scoreBatch(BROKEN, 0, 400, Map.of());
        assertThat(whileStale.getResultsList())
                .allSatisfy(r -> assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.ROLLOUT));
        assertThat(whileStale.getResultsList())
                .extracting(r -> r.getServed().getVersion())
                .contains("1", "2");
        cluster.router.tickRollouts();
        assertThat(cluster.anonymous()
                        .getRollout(
                                GetRolloutRequest.newBuilder().setModel(BROKEN).build())
                        .getRollout()
                        .getState())
                .isEqualTo(RolloutState.PROGRESSING);

        Rollout aborted = cluster.admin()
                .abortRollout(dev.trellis.api.v1.RolloutActionRequest.newBuilder()
                        .setModel(BROKEN)
                        .setReason("its files are gone")
                        .build())
                .getRollout();
        assertThat(aborted.getState()).isEqualTo(RolloutState.ABORTED);
        ScoreBatchResponse afterwards = scoreBatch(BROKEN, 0, 200, Map.of());
        assertThat(afterwards.getResultsList()).allSatisfy(r -> {
            assertThat(r.getServed().getVersion()).isEqualTo("1");
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT);
        });
        await(
                () -> cluster.router
                        .catalog()
                        .snapshot()
                        .model(BROKEN)
                        .flatMap(m -> m.version("2"))
                        .map(v -> v.readyReplicas().isEmpty())
                        .orElse(true),
                "the released STALE candidate unloaded on both replicas");
    }

    /**
     * The columnar form of ScoreBatch against the row form on the same rows, while the experiment
     * of order 5 runs on half of them (plan=pro) and the default serves the rest: the same scores,
     * versions and routing, and an exposure for every experiment row.
     */
    @Test
    @Order(10)
    void scoreBatch_columns_sameResultsAsRowsAndExposuresLogged() {
        int count = 300;
        List<String> units = new ArrayList<>();
        List<String> plans = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            units.add("columns-" + i);
            plans.add(i % 2 == 0 ? "pro" : i % 3 == 0 ? "" : "free");
        }
        long unitsBefore = experimentUnits("churn-ab");

        ScoreBatchResponse columnar = cluster.scoring()
                .scoreBatch(ScoreBatchRequest.newBuilder()
                        .setModel(MODEL)
                        .setColumns(columns(units, plans))
                        .build());
        ScoreBatchRequest.Builder byRows = ScoreBatchRequest.newBuilder().setModel(MODEL);
        for (int i = 0; i < count; i++) {
            ScoreRequest.Builder row =
                    ScoreRequest.newBuilder().setUnitId(units.get(i)).putAllFeatures(rows.get(i % rows.size()));
            if (!plans.get(i).isEmpty()) {
                row.putAttributes("plan", plans.get(i));
            }
            byRows.addRows(row);
        }
        ScoreBatchResponse rowResults = cluster.scoring().scoreBatch(byRows.build());

        assertThat(columnar.getResultsCount()).isEqualTo(count);
        for (int i = 0; i < count; i++) {
            ScoreResponse c = columnar.getResults(i);
            ScoreResponse r = rowResults.getResults(i);
            // both forms send the same tensors; a version's rows may still be split differently between replicas'
            // batches
            assertThat(c.getScore()).as("row %d", i).isCloseTo(r.getScore(), within(1e-6));
            assertThat(c.getLabel()).as("row %d", i).isEqualTo(r.getLabel());
            assertThat(c.getInterval().getLower())
                    .as("row %d", i)
                    .isCloseTo(r.getInterval().getLower(), within(1e-6));
            assertThat(c.getBaseScoresList())
                    .extracting(b -> b.getModel())
                    .containsExactlyElementsOf(r.getBaseScoresList().stream()
                            .map(b -> b.getModel())
                            .toList());
            assertThat(c.getServed().toBuilder().clearReplica().build())
                    .as("row %d", i)
                    .isEqualTo(r.getServed().toBuilder().clearReplica().build());
        }
        long experimentRows = columnar.getResultsList().stream()
                .filter(r -> r.getServed().getReason() == RoutingReason.EXPERIMENT)
                .count();
        assertThat(experimentRows).isEqualTo(count / 2);
        assertThat(columnar.getResultsList())
                .filteredOn(r -> r.getServed().getReason() != RoutingReason.EXPERIMENT)
                .allSatisfy(r -> assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.DEFAULT));
        // the columnar call came first, so it logged the exposures (the row call's repeats are deduplicated)
        assertThat(experimentUnits("churn-ab")).isEqualTo(unitsBefore + experimentRows);

        ScoreBatchResponse pinned = cluster.scoring()
                .scoreBatch(ScoreBatchRequest.newBuilder()
                        .setModel(MODEL)
                        .setVersion("2")
                        .setColumns(columns(units.subList(0, 50), plans.subList(0, 50)))
                        .build());
        assertThat(pinned.getResultsList()).hasSize(50).allSatisfy(r -> {
            assertThat(r.getServed().getVersion()).isEqualTo("2");
            assertThat(r.getServed().getReason()).isEqualTo(RoutingReason.PINNED);
        });
        assertThat(cluster.scoring()
                        .scoreBatch(ScoreBatchRequest.newBuilder()
                                .setModel(MODEL)
                                .setColumns(FeatureColumns.getDefaultInstance())
                                .build())
                        .getResultsList())
                .isEmpty();
    }

    @Test
    @Order(11)
    void scoreBatch_badColumns_invalidArgumentWithFieldViolations() {
        List<String> units = List.of("bad-0", "bad-1", "bad-2");
        List<String> plans = List.of("", "", "");
        FeatureColumns good = columns(units, plans);

        StatusRuntimeException both = catchStatus(() -> cluster.scoring()
                .scoreBatch(ScoreBatchRequest.newBuilder()
                        .setModel(MODEL)
                        .setColumns(good)
                        .addRows(row("bad-3", 3))
                        .build()));
        assertThat(both.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(both))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("columns");

        int tenure = featureIndex(good, "tenure");
        FeatureColumns shortColumn = good.toBuilder()
                .setFeatures(
                        tenure,
                        good.getFeatures(tenure).toBuilder()
                                .setNumbers(
                                        NumberValues.newBuilder().addValues(1).addValues(2)))
                .build();
        StatusRuntimeException mismatch = catchStatus(() -> cluster.scoring()
                .scoreBatch(ScoreBatchRequest.newBuilder()
                        .setModel(MODEL)
                        .setColumns(shortColumn)
                        .build()));
        assertThat(mismatch.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(mismatch)).singleElement().satisfies(v -> {
            assertThat(v.getField()).isEqualTo("columns.features[" + tenure + "]");
            assertThat(v.getDescription()).contains("tenure").contains("2 values for 3 rows");
        });

        FeatureColumns unknown = good.toBuilder()
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("favourite_colour")
                        .setStrings(StringValues.newBuilder().addAllValues(List.of("red", "green", ""))))
                .build();
        StatusRuntimeException unknownFeature = catchStatus(() -> cluster.scoring()
                .scoreBatch(ScoreBatchRequest.newBuilder()
                        .setModel(MODEL)
                        .setColumns(unknown)
                        .build()));
        assertThat(unknownFeature.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(violations(unknownFeature)).singleElement().satisfies(v -> {
            assertThat(v.getField()).isEqualTo("columns.features[" + good.getFeaturesCount() + "]");
            assertThat(v.getDescription()).startsWith("favourite_colour: unknown feature of model churn");
        });

        FeatureColumns wrongType = good.toBuilder()
                .setFeatures(
                        tenure,
                        FeatureColumn.newBuilder()
                                .setName("tenure")
                                .setStrings(StringValues.newBuilder().addAllValues(List.of("long", "short", ""))))
                .build();
        StatusRuntimeException wrong = catchStatus(() -> cluster.scoring()
                .scoreBatch(ScoreBatchRequest.newBuilder()
                        .setModel(MODEL)
                        .setColumns(wrongType)
                        .build()));
        assertThat(wrong.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(wrong.getStatus().getDescription())
                .startsWith("invalid features: columns.features[" + tenure + "]: tenure is a numeric feature");
        assertThat(violations(wrong))
                .extracting(BadRequest.FieldViolation::getField)
                .containsExactly("columns.features[" + tenure + "]");
    }

    /** Kills a replica under a steady stream of requests; the channel's retry policy and health checking absorb it. */
    @Test
    @Order(100)
    void score_replicaStopsUnderSteadyTraffic_noRequestFails() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger ok = new AtomicInteger();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch warm = new CountDownLatch(200);
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
            int client = c;
            Thread t = new Thread(() -> {
                int i = 0;
                while (!stop.get()) {
                    try {
                        cluster.scoring()
                                .withDeadlineAfter(10, TimeUnit.SECONDS)
                                .score(row("failover-" + client + "-" + i, i).build());
                        ok.incrementAndGet();
                        warm.countDown();
                    } catch (RuntimeException e) {
                        failures.add(e);
                    }
                    i++;
                }
            });
            t.start();
            clients.add(t);
        }
        assertThat(warm.await(60, TimeUnit.SECONDS)).isTrue();
        int before = ok.get();
        cluster.replicas.get(0).close();
        await(() -> ok.get() > before + 1000, "1000 requests after the replica stopped");
        stop.set(true);
        for (Thread t : clients) {
            t.join();
        }

        assertThat(failures).isEmpty();
        ScoreResponse last = cluster.scoring().score(row("after", 0).build());
        assertThat(last.getServed().getReplica())
                .isEqualTo("127.0.0.1:" + cluster.replicas.get(1).port());
    }

    private Rollout driveTraffic(String model, java.util.function.Predicate<Rollout> until) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        int offset = 0;
        while (System.nanoTime() < deadline) {
            try {
                scoreBatch(model, offset, 200, Map.of());
            } catch (StatusRuntimeException e) {
                // expected while a broken candidate takes traffic: the batch containing its rows fails
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            }
            offset += 200;
            Rollout rollout = cluster.anonymous()
                    .getRollout(GetRolloutRequest.newBuilder().setModel(model).build())
                    .getRollout();
            if (until.test(rollout)) {
                return rollout;
            }
        }
        throw new AssertionError("rollout of " + model + " did not finish in time");
    }

    private ScoreResponse awaitScore(ScoreRequest request, java.util.function.Predicate<ScoreResponse> until) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                ScoreResponse response = cluster.scoring().score(request);
                if (until.test(response) || System.nanoTime() > deadline) {
                    return response;
                }
            } catch (StatusRuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
        }
    }

    private Map<String, ScoreResponse> scoreUnits(int units, String attribute, String value) {
        Map<String, ScoreResponse> served = new HashMap<>();
        for (int from = 0; from < units; from += 1000) {
            ScoreBatchResponse batch = scoreBatch(MODEL, from, Math.min(1000, units - from), Map.of(attribute, value));
            for (ScoreResponse r : batch.getResultsList()) {
                served.put(r.getRequestId(), r);
            }
        }
        assertThat(served).hasSize(units);
        return served;
    }

    private ScoreBatchResponse scoreBatch(String model, int from, int count, Map<String, String> attributes) {
        ScoreBatchRequest.Builder batch = ScoreBatchRequest.newBuilder().setModel(model);
        for (int i = from; i < from + count; i++) {
            batch.addRows(ScoreRequest.newBuilder()
                    .setUnitId("unit-" + i)
                    .setRequestId("unit-" + i)
                    .putAllFeatures(rows.get(i % rows.size()))
                    .putAllAttributes(attributes));
        }
        ScoreBatchResponse response = cluster.scoring().scoreBatch(batch.build());
        assertThat(response.getResultsCount()).isEqualTo(count);
        return response;
    }

    /** Rows of the churn sample as columns, typed by the served schema; plans[i] "" leaves row i without the attribute. */
    private FeatureColumns columns(List<String> units, List<String> plans) {
        FeatureColumns.Builder columns = FeatureColumns.newBuilder().addAllUnitIds(units);
        FeatureSchema schema = cluster.router
                .catalog()
                .snapshot()
                .model(MODEL)
                .orElseThrow()
                .highestReady()
                .orElseThrow()
                .schema()
                .orElseThrow();
        for (FeatureSchema.Feature feature : schema.features()) {
            FeatureColumn.Builder column = FeatureColumn.newBuilder().setName(feature.name());
            for (int i = 0; i < units.size(); i++) {
                Value value = rows.get(i % rows.size()).get(feature.name());
                if (feature.categorical()) {
                    column.getStringsBuilder()
                            .addValues(value != null && value.hasStringValue() ? value.getStringValue() : "");
                } else {
                    column.getNumbersBuilder()
                            .addValues(value != null && value.hasNumberValue() ? value.getNumberValue() : Double.NaN);
                }
            }
            columns.addFeatures(column);
        }
        columns.addAttributes(AttributeColumn.newBuilder().setName("plan").addAllValues(plans));
        return columns.build();
    }

    private static int featureIndex(FeatureColumns columns, String name) {
        for (int i = 0; i < columns.getFeaturesCount(); i++) {
            if (columns.getFeatures(i).getName().equals(name)) {
                return i;
            }
        }
        throw new AssertionError("no column " + name);
    }

    private long experimentUnits(String experiment) {
        return cluster
                .anonymous()
                .getResults(
                        GetResultsRequest.newBuilder().setExperiment(experiment).build())
                .getVariantsList()
                .stream()
                .mapToLong(v -> v.getUnits())
                .sum();
    }

    private ScoreRequest.Builder row(String unit, int index) {
        return ScoreRequest.newBuilder().setModel(MODEL).setUnitId(unit).putAllFeatures(rows.get(index % rows.size()));
    }

    private static Experiment experiment(String key, double w1, double w2, String v1, String v2) {
        return Experiment.newBuilder()
                .setKey(key)
                .setModel(MODEL)
                .setStatus(ExperimentStatus.RUNNING)
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion(v1).setWeight(w1))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion(v2).setWeight(w2))
                .setMetric("converted")
                .setMetricType(MetricType.CONVERSION)
                .setMinimumDetectableEffect(0.02)
                .build();
    }

    private static PutExperimentRequest put(Experiment experiment, long expectedRevision) {
        return PutExperimentRequest.newBuilder()
                .setExperiment(experiment)
                .setExpectedRevision(expectedRevision)
                .build();
    }

    private static void await(BooleanSupplier condition, String what) {
        Awaitility.await(what)
                .atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(20))
                .until(condition::getAsBoolean);
    }

    private static void deleteRecursively(Path path) {
        try (Stream<Path> files = Files.walk(path)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
