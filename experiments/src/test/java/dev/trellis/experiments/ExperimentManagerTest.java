package dev.trellis.experiments;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.MetricType;
import dev.trellis.api.v1.Recommendation;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.assignment.RoutingDecision;
import dev.trellis.experiments.assignment.RoutingRequest;
import dev.trellis.experiments.definition.DefinitionValidator;
import dev.trellis.experiments.store.Exposure;
import dev.trellis.experiments.store.Outcome;
import dev.trellis.experiments.store.SqliteExperimentStore;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExperimentManagerTest {
    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();
    private SqliteExperimentStore store;
    private ExperimentManager manager;

    @BeforeEach
    void open() {
        store = SqliteExperimentStore.open(dir.resolve("store.db"), clock);
        manager = new ExperimentManager(store, clock, new DefinitionValidator());
    }

    @AfterEach
    void close() {
        store.close();
    }

    private static Experiment experiment(ExperimentStatus status) {
        return Experiment.newBuilder()
                .setKey("leads-exp")
                .setModel("leads")
                .setStatus(status)
                .setMetric("converted")
                .setMetricType(MetricType.CONVERSION)
                .setMinimumDetectableEffect(0.05)
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.5))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.5))
                .build();
    }

    @Test
    void put_lifecycleRefreshesRoutingSnapshot() {
        manager.setDefaultVersion("leads", "1", "ops");
        Experiment draft = manager.put(experiment(ExperimentStatus.DRAFT), 0, "alice", Set.of("1", "2"), false);
        assertThat(draft.getRevision()).isEqualTo(1);
        assertThat(manager.routingState("leads").runningExperiments()).isEmpty();

        Experiment dryRun = manager.put(experiment(ExperimentStatus.RUNNING), 1, "alice", Set.of(), true);
        assertThat(dryRun.getRevision()).isEqualTo(1);
        assertThat(manager.get("leads-exp").orElseThrow().getStatus()).isEqualTo(ExperimentStatus.DRAFT);

        Experiment running = manager.put(experiment(ExperimentStatus.RUNNING), 1, "alice", Set.of(), false);
        assertThat(manager.routingState("leads").runningExperiments()).containsExactly(running);
        RoutingDecision d = new RoutingDecider()
                .decide(new RoutingRequest("leads", "u1", Map.of(), null), manager.routingState("leads"));
        assertThat(d.reason()).isEqualTo(RoutingReason.EXPERIMENT);

        assertThat(catchThrowableOfType(
                                ExperimentsException.class,
                                () -> manager.put(experiment(ExperimentStatus.RUNNING), 1, "bob", Set.of(), false))
                        .code())
                .isEqualTo(ErrorCode.STALE_REVISION);

        Experiment stopped = manager.stop("leads-exp", "treatment", 0, "alice");
        assertThat(stopped.getStatus()).isEqualTo(ExperimentStatus.STOPPED);
        assertThat(stopped.getWinner()).isEqualTo("treatment");
        assertThat(manager.routingState("leads").runningExperiments()).isEmpty();
        assertThat(manager.history("leads-exp"))
                .extracting(r -> r.getAction())
                .containsExactly("CREATED", "UPDATED", "STOPPED");
        assertThat(manager.list("leads", ExperimentStatus.STOPPED)).hasSize(1);
        assertThat(manager.list(null, ExperimentStatus.RUNNING)).isEmpty();
        assertThat(manager.defaultVersion("leads")).contains("1");
    }

    @Test
    void delete_draftOnlyWithItsHistory() {
        manager.put(experiment(ExperimentStatus.DRAFT), 0, "alice", Set.of(), false);
        manager.put(
                experiment(ExperimentStatus.DRAFT).toBuilder()
                        .setDescription("v2")
                        .build(),
                1,
                "alice",
                Set.of(),
                false);
        assertThat(catchThrowableOfType(ExperimentsException.class, () -> manager.delete("leads-exp", 1, "bob"))
                        .code())
                .isEqualTo(ErrorCode.STALE_REVISION);

        Experiment deleted = manager.delete("leads-exp", 2, "bob");

        assertThat(deleted.getDescription()).isEqualTo("v2");
        assertThat(manager.get("leads-exp")).isEmpty();
        assertThat(store.experimentHistory("leads-exp")).isEmpty();
        assertThat(catchThrowableOfType(ExperimentsException.class, () -> manager.delete("leads-exp", 0, "bob"))
                        .code())
                .isEqualTo(ErrorCode.NOT_FOUND);
        // the key is free again and starts over at revision 1
        assertThat(manager.put(experiment(ExperimentStatus.DRAFT), 0, "alice", Set.of(), false)
                        .getRevision())
                .isEqualTo(1);
        assertThat(manager.history("leads-exp")).hasSize(1);
    }

    @Test
    void delete_runningOrStoppedIsIllegalTransitionNamingTheStatus() {
        manager.put(experiment(ExperimentStatus.RUNNING), 0, "alice", Set.of(), false);
        ExperimentsException running =
                catchThrowableOfType(ExperimentsException.class, () -> manager.delete("leads-exp", 0, "bob"));
        assertThat(running.code()).isEqualTo(ErrorCode.ILLEGAL_TRANSITION);
        assertThat(running).hasMessageContaining("is RUNNING").hasMessageContaining("only a DRAFT");

        manager.stop("leads-exp", "", 0, "alice");
        ExperimentsException stopped =
                catchThrowableOfType(ExperimentsException.class, () -> manager.delete("leads-exp", 0, "bob"));
        assertThat(stopped.code()).isEqualTo(ErrorCode.ILLEGAL_TRANSITION);
        assertThat(stopped).hasMessageContaining("is STOPPED");
        assertThat(manager.get("leads-exp")).isPresent();
    }

    @Test
    void put_concurrentSameRevisionOneWinsOneStale() throws Exception {
        manager.put(experiment(ExperimentStatus.DRAFT), 0, "setup", Set.of(), false);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        java.util.List<java.util.concurrent.Future<String>> results = new java.util.ArrayList<>();
        for (String who : java.util.List.of("alice", "bob")) {
            results.add(pool.submit(() -> {
                go.await();
                try {
                    manager.put(
                            experiment(ExperimentStatus.DRAFT).toBuilder()
                                    .setDescription(who)
                                    .build(),
                            1,
                            who,
                            Set.of(),
                            false);
                    return who;
                } catch (ExperimentsException e) {
                    return e.code().name();
                }
            }));
        }
        go.countDown();
        java.util.List<String> outcomes = new java.util.ArrayList<>();
        for (java.util.concurrent.Future<String> f : results) {
            outcomes.add(f.get(30, java.util.concurrent.TimeUnit.SECONDS));
        }
        pool.shutdown();
        assertThat(outcomes).containsOnlyOnce("STALE_REVISION");
        String winner = outcomes.stream()
                .filter(s -> !s.equals("STALE_REVISION"))
                .findFirst()
                .orElseThrow();
        Experiment stored = manager.get("leads-exp").orElseThrow();
        assertThat(stored.getRevision()).isEqualTo(2);
        assertThat(stored.getDescription()).isEqualTo(winner);
        assertThat(stored.getUpdatedBy()).isEqualTo(winner);
    }

    @Test
    void rollouts_changesReachRoutingSnapshot() {
        manager.rollouts()
                .start(
                        Rollout.newBuilder()
                                .setModel("leads")
                                .setStableVersion("1")
                                .setCandidateVersion("2")
                                .build(),
                        "alice",
                        Set.of());
        assertThat(manager.routingState("leads").activeRollout()).isPresent();
        manager.rollouts().promote("leads", "", "alice");
        assertThat(manager.routingState("leads").activeRollout()).isEmpty();
        assertThat(manager.defaultVersion("leads")).contains("2");
    }

    @Test
    void results_endToEndFromExposuresAndOutcomes() {
        manager.put(experiment(ExperimentStatus.RUNNING), 0, "alice", Set.of(), false);
        RoutingDecider decider = new RoutingDecider();
        for (int i = 0; i < 4000; i++) {
            String unit = "unit-" + i;
            RoutingDecision d =
                    decider.decide(new RoutingRequest("leads", unit, Map.of(), null), manager.routingState("leads"));
            manager.recordExposure(
                    new Exposure("leads-exp", d.variant().orElseThrow(), d.version(), unit, clock.instant()));
            manager.recordExposure(
                    new Exposure("leads-exp", d.variant().orElseThrow(), d.version(), unit, clock.instant()));
            // treatment converts at 30 %, control at 10 %
            int mod = d.variant().get().equals("treatment") ? 10 : 30;
            if (i % mod < 3) {
                manager.recordOutcome(new Outcome(unit, "converted", 1, null, clock.instant()));
            }
        }
        store.flush();
        GetResultsResponse r = manager.results("leads-exp", null);
        assertThat(r.getVariants(0).getUnits() + r.getVariants(1).getUnits()).isEqualTo(4000);
        assertThat(r.getSrm().getMismatch()).isFalse();
        assertThat(r.getRecommendation()).isEqualTo(Recommendation.SHIP_TREATMENT);
        assertThat(r.getComparisons(0).getAbsoluteLift()).isBetween(0.15, 0.25);
    }
}
