package dev.trellis.experiments.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FakeClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteExperimentStoreTest {
    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();

    private Path file() {
        return dir.resolve("experiments.db");
    }

    static Experiment experiment(String key) {
        return Experiment.newBuilder()
                .setKey(key)
                .setModel("leads")
                .setStatus(ExperimentStatus.DRAFT)
                .addVariants(
                        Variant.newBuilder().setKey("control").setVersion("1").setWeight(0.5))
                .addVariants(
                        Variant.newBuilder().setKey("treatment").setVersion("2").setWeight(0.5))
                .build();
    }

    @Test
    void putExperiment_revisionsAndHistory() {
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            Experiment created = store.putExperiment(experiment("e1"), 0, "alice", "CREATED");
            assertThat(created.getRevision()).isEqualTo(1);
            assertThat(created.getUpdatedBy()).isEqualTo("alice");
            clock.advance(Duration.ofMinutes(1));
            Experiment updated =
                    store.putExperiment(created.toBuilder().setDescription("d").build(), 1, "bob", "UPDATED");
            assertThat(updated.getRevision()).isEqualTo(2);
            assertThat(updated.getCreated()).isEqualTo(created.getCreated());
            assertThat(updated.getUpdated()).isNotEqualTo(created.getUpdated());

            List<Revision> history = store.experimentHistory("e1");
            assertThat(history).extracting(Revision::getRevision).containsExactly(1L, 2L);
            assertThat(history).extracting(Revision::getActor).containsExactly("alice", "bob");
            assertThat(history.get(1).getDefinitionJson()).contains("\"description\":\"d\"");

            assertThat(catchThrowableOfType(
                                    ExperimentsException.class,
                                    () -> store.putExperiment(experiment("e1"), 0, "carol", "CREATED"))
                            .code())
                    .isEqualTo(ErrorCode.ALREADY_EXISTS);
            assertThat(catchThrowableOfType(
                                    ExperimentsException.class,
                                    () -> store.putExperiment(experiment("e1"), 1, "carol", "UPDATED"))
                            .code())
                    .isEqualTo(ErrorCode.STALE_REVISION);
            assertThat(catchThrowableOfType(
                                    ExperimentsException.class,
                                    () -> store.putExperiment(experiment("nope"), 3, "carol", "UPDATED"))
                            .code())
                    .isEqualTo(ErrorCode.NOT_FOUND);
        }
    }

    @Test
    void putExperiment_concurrentWritersSameRevisionExactlyOneWins() throws Exception {
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            store.putExperiment(experiment("e1"), 0, "setup", "CREATED");
            for (int round = 0; round < 20; round++) {
                long expected = store.getExperiment("e1").orElseThrow().getRevision();
                CountDownLatch go = new CountDownLatch(1);
                ExecutorService pool = Executors.newFixedThreadPool(2);
                List<Future<String>> results = new ArrayList<>();
                for (String writer : List.of("w1", "w2")) {
                    results.add(pool.submit(() -> {
                        go.await();
                        try {
                            store.putExperiment(
                                    experiment("e1").toBuilder()
                                            .setDescription(writer)
                                            .build(),
                                    expected,
                                    writer,
                                    "UPDATED");
                            return "ok:" + writer;
                        } catch (ExperimentsException e) {
                            return e.code().name();
                        }
                    }));
                }
                go.countDown();
                List<String> outcomes = new ArrayList<>();
                for (Future<String> f : results) {
                    outcomes.add(f.get(30, TimeUnit.SECONDS));
                }
                pool.shutdown();
                assertThat(outcomes).filteredOn(s -> s.startsWith("ok:")).hasSize(1);
                assertThat(outcomes).filteredOn(s -> s.equals("STALE_REVISION")).hasSize(1);
                String winner = outcomes.stream()
                        .filter(s -> s.startsWith("ok:"))
                        .findFirst()
                        .orElseThrow()
                        .substring(3);
                Experiment stored = store.getExperiment("e1").orElseThrow();
                assertThat(stored.getRevision()).isEqualTo(expected + 1);
                assertThat(stored.getDescription()).isEqualTo(winner); // the winner's write, not lost
            }
            assertThat(store.experimentHistory("e1")).hasSize(21);
        }
    }

    @Test
    void putExperiment_twoStoresOnOneFileNoLostUpdate() throws Exception {
        try (SqliteExperimentStore a = SqliteExperimentStore.open(file(), clock);
                SqliteExperimentStore b = SqliteExperimentStore.open(file(), clock)) {
            a.putExperiment(experiment("e1"), 0, "a", "CREATED");
            a.putExperiment(
                    experiment("e1").toBuilder().setDescription("from a").build(), 1, "a", "UPDATED");
            ExperimentsException stale = catchThrowableOfType(
                    ExperimentsException.class,
                    () -> b.putExperiment(
                            experiment("e1").toBuilder()
                                    .setDescription("from b")
                                    .build(),
                            1,
                            "b",
                            "UPDATED"));
            assertThat(stale.code()).isEqualTo(ErrorCode.STALE_REVISION);
            assertThat(b.getExperiment("e1").orElseThrow().getDescription()).isEqualTo("from a");
        }
    }

    @Test
    void close_acknowledgedWritesSurviveReopen() {
        Instant t = clock.instant();
        SqliteExperimentStore first = SqliteExperimentStore.open(file(), clock);
        {
            SqliteExperimentStore store = first;
            store.putExperiment(experiment("e1"), 0, "alice", "CREATED");
            store.setDefaultVersion("leads", "1", "alice");
            store.putRollout(
                    Rollout.newBuilder()
                            .setModel("leads")
                            .setStableVersion("1")
                            .setCandidateVersion("2")
                            .setState(RolloutState.PROGRESSING)
                            .setCurrentWeight(5)
                            .build(),
                    0,
                    "alice",
                    "STARTED",
                    Optional.empty());
            for (int i = 0; i < 1000; i++) {
                store.recordExposure(new Exposure("e1", i % 2 == 0 ? "control" : "treatment", "1", "u" + i, t));
            }
            store.recordOutcome(new Outcome("u0", "converted", 1, null, t));
        }
        first.close();
        first.close(); // idempotent
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            assertThat(store.getExperiment("e1")).isPresent();
            assertThat(store.getDefaultVersion("leads")).contains("1");
            assertThat(store.getRollout("leads").orElseThrow().getCurrentWeight())
                    .isEqualTo(5);
            Map<String, VariantStats> stats = store.variantStats("e1", "converted");
            assertThat(stats.get("control").units()).isEqualTo(500);
            assertThat(stats.get("control").positiveUnits()).isEqualTo(1);
            assertThat(stats.get("treatment").units()).isEqualTo(500);
            assertThat(store.droppedCount()).isZero();
        }
    }

    @Test
    void keepVersion_survivesReopenUntilReleased() {
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            store.keepVersion("leads", "4", "alice");
            store.keepVersion("leads", "2", "bob");
            store.keepVersion("churn", "1", "carol");
            clock.advance(Duration.ofMinutes(1));
            store.keepVersion("leads", "4", "dave"); // again: only actor and time change
        }
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            assertThat(store.keptVersions())
                    .extracting(k -> k.model() + "/" + k.version() + " " + k.actor())
                    .containsExactly("churn/1 carol", "leads/2 bob", "leads/4 dave");
            assertThat(store.keptVersions().get(2).since()).isEqualTo(clock.instant());
            assertThat(store.releaseVersion("leads", "2")).isTrue();
            assertThat(store.releaseVersion("leads", "2")).isFalse();
        }
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            assertThat(store.keptVersions())
                    .extracting(k -> k.model() + "/" + k.version())
                    .containsExactly("churn/1", "leads/4");
        }
    }

    @Test
    void flush_acknowledgedDataSurvivesAbruptClose() {
        Instant t = clock.instant();
        SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock);
        for (int i = 0; i < 5000; i++) {
            store.recordExposure(new Exposure("e1", "control", "1", "u" + i, t));
        }
        store.flush();
        // A second process opening the file sees the flushed data while the first still runs.
        try (SqliteExperimentStore reader = SqliteExperimentStore.open(file(), clock)) {
            assertThat(reader.variantStats("e1", "m").get("control").units()).isEqualTo(5000);
        }
        for (int i = 5000; i < 6000; i++) {
            store.recordExposure(new Exposure("e1", "control", "1", "u" + i, t));
        }
        store.abandonForTest(); // no clean shutdown: what was not flushed may be lost
        try (SqliteExperimentStore reopened = SqliteExperimentStore.open(file(), clock)) {
            assertThat(reopened.variantStats("e1", "m").get("control").units()).isBetween(5000L, 6000L);
        }
    }

    @Test
    void variantStats_firstExposureAndOutcomeAttribution() {
        Instant t0 = clock.instant();
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            // u1 is exposed twice; the later record arrives first but the earliest exposure wins.
            store.recordExposure(new Exposure("e1", "treatment", "2", "u1", t0.plusSeconds(10)));
            store.recordExposure(new Exposure("e1", "control", "1", "u1", t0));
            store.recordExposure(new Exposure("e1", "treatment", "2", "u2", t0));
            store.recordExposure(new Exposure("e2", "control", "1", "u2", t0));
            store.recordOutcome(new Outcome("u1", "revenue", 3, null, t0));
            store.recordOutcome(new Outcome("u1", "revenue", 4, null, t0));
            store.recordOutcome(new Outcome("u2", "revenue", 5, "e2", t0)); // only e2
            store.recordOutcome(new Outcome("u3", "revenue", 100, null, t0)); // never exposed
            store.flush();

            Map<String, VariantStats> e1 = store.variantStats("e1", "revenue");
            assertThat(e1.get("control")).isEqualTo(new VariantStats("control", 1, 1, 7, 49));
            assertThat(e1.get("treatment")).isEqualTo(new VariantStats("treatment", 1, 0, 0, 0));
            Map<String, VariantStats> e2 = store.variantStats("e2", "revenue");
            assertThat(e2.get("control")).isEqualTo(new VariantStats("control", 1, 1, 5, 25));
        }
    }

    @Test
    void recordExposure_fullQueueCountsDrops() {
        // A tiny queue and no wait: with a writer that cannot keep up, some records are dropped and counted.
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock, 1, Duration.ZERO)) {
            for (int i = 0; i < 20_000; i++) {
                store.recordExposure(new Exposure("e1", "control", "1", "u" + i, clock.instant()));
            }
            store.flush();
            long written = store.variantStats("e1", "m")
                    .getOrDefault("control", VariantStats.empty("control"))
                    .units();
            assertThat(store.droppedCount()).isPositive();
            assertThat(written + store.droppedCount()).isEqualTo(20_000);
        }
    }

    @Test
    void putRollout_setsDefaultInSameTransaction() {
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file(), clock)) {
            Rollout r = Rollout.newBuilder()
                    .setModel("leads")
                    .setStableVersion("1")
                    .setCandidateVersion("2")
                    .setState(RolloutState.PROMOTED)
                    .build();
            Rollout stored = store.putRollout(r, 0, "ctl", "PROMOTED", Optional.of("2"));
            assertThat(stored.getRevision()).isEqualTo(1);
            assertThat(store.getDefaultVersion("leads")).contains("2");
            assertThat(store.rolloutHistory("leads")).hasSize(1);
            assertThat(catchThrowableOfType(
                                    ExperimentsException.class,
                                    () -> store.putRollout(r, 0, "ctl", "STARTED", Optional.empty()))
                            .code())
                    .isEqualTo(ErrorCode.ALREADY_EXISTS);
        }
    }
}
