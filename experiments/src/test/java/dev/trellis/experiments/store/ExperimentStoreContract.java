package dev.trellis.experiments.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.Variant;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FakeClock;
import dev.trellis.experiments.rollout.PublishedWindow;
import dev.trellis.experiments.rollout.VersionWindow;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/**
 * What every {@link ExperimentStore} promises, run against each store by a subclass. "Two stores"
 * are two instances over one database: two routers sharing it.
 */
abstract class ExperimentStoreContract {
    final FakeClock clock = new FakeClock();

    /** A new store instance over this test's database (the same database on every call). */
    abstract JdbcExperimentStore open(StoreOptions options);

    JdbcExperimentStore open() {
        return open(StoreOptions.defaults());
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

    /** Runs one write per store at the same moment; each write's result: "ok" or the error code. */
    private static List<String> race(
            List<ExperimentStore> stores, java.util.function.Function<ExperimentStore, String> write) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(stores.size());
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<String>> results = new ArrayList<>();
            for (ExperimentStore store : stores) {
                results.add(pool.submit(() -> {
                    go.await();
                    try {
                        return write.apply(store);
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
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    private static ErrorCode codeOf(Runnable call) {
        return catchThrowableOfType(ExperimentsException.class, call::run).code();
    }

    @Test
    void putExperiment_revisionsAndHistory() {
        try (ExperimentStore store = open()) {
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

            assertThat(codeOf(() -> store.putExperiment(experiment("e1"), 0, "carol", "CREATED")))
                    .isEqualTo(ErrorCode.ALREADY_EXISTS);
            assertThat(codeOf(() -> store.putExperiment(experiment("e1"), 1, "carol", "UPDATED")))
                    .isEqualTo(ErrorCode.STALE_REVISION);
            assertThat(codeOf(() -> store.putExperiment(experiment("nope"), 3, "carol", "UPDATED")))
                    .isEqualTo(ErrorCode.NOT_FOUND);
            assertThat(codeOf(() -> store.putExperiment(experiment("e1"), -1, "carol", "UPDATED")))
                    .isEqualTo(ErrorCode.INVALID_DEFINITION);
            assertThat(store.listExperiments()).extracting(Experiment::getKey).containsExactly("e1");
        }
    }

    @Test
    void deleteExperiment_removesDefinitionAndHistoryAndTellsOtherStores() {
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            a.putExperiment(experiment("gone"), 0, "alice", "CREATED");
            a.putExperiment(experiment("kept"), 0, "alice", "CREATED");

            assertThat(codeOf(() -> a.deleteExperiment("gone", 7))).isEqualTo(ErrorCode.STALE_REVISION);
            assertThat(codeOf(() -> a.deleteExperiment("never", 1))).isEqualTo(ErrorCode.NOT_FOUND);
            b.deleteExperiment("gone", 1);

            assertThat(a.getExperiment("gone")).isEmpty();
            assertThat(a.experimentHistory("gone")).isEmpty();
            assertThat(a.listExperiments()).extracting(Experiment::getKey).containsExactly("kept");
            // the key starts over at revision 1
            assertThat(a.putExperiment(experiment("gone"), 0, "bob", "CREATED").getRevision())
                    .isEqualTo(1);
        }
    }

    @Test
    void keepVersion_survivesReopenUntilReleasedAndTellsOtherStores() {
        AtomicInteger changes = new AtomicInteger();
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            b.onChange(changes::incrementAndGet);
            a.keepVersion("leads", "4", "alice");
            a.keepVersion("leads", "2", "bob");
            a.keepVersion("churn", "1", "carol");
            clock.advance(Duration.ofMinutes(1));
            a.keepVersion("leads", "4", "dave"); // again: only actor and time change
            assertThat(b.keptVersions())
                    .extracting(k -> k.model() + "/" + k.version() + " " + k.actor())
                    .containsExactly("churn/1 carol", "leads/2 bob", "leads/4 dave");
            assertThat(b.keptVersions().get(2).since()).isEqualTo(clock.instant());
            await().atMost(Duration.ofSeconds(30)).until(() -> changes.get() > 0);
            assertThat(b.releaseVersion("leads", "2")).isTrue();
            assertThat(b.releaseVersion("leads", "2")).isFalse();
        }
        try (ExperimentStore store = open()) {
            assertThat(store.keptVersions())
                    .extracting(k -> k.model() + "/" + k.version())
                    .containsExactly("churn/1", "leads/4");
        }
    }

    @Test
    void putExperiment_concurrentWritersOnTwoStoresExactlyOneWins() throws Exception {
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            a.putExperiment(experiment("e1"), 0, "setup", "CREATED");
            for (int round = 0; round < 10; round++) {
                long expected = a.getExperiment("e1").orElseThrow().getRevision();
                List<String> outcomes = race(List.of(a, b), store -> {
                    String writer = store == a ? "a" : "b";
                    store.putExperiment(
                            experiment("e1").toBuilder().setDescription(writer).build(), expected, writer, "UPDATED");
                    return "ok:" + writer;
                });
                assertThat(outcomes).filteredOn(s -> s.startsWith("ok:")).hasSize(1);
                assertThat(outcomes).filteredOn(s -> s.equals("STALE_REVISION")).hasSize(1);
                String winner = outcomes.stream()
                        .filter(s -> s.startsWith("ok:"))
                        .findFirst()
                        .orElseThrow()
                        .substring(3);
                Experiment stored = b.getExperiment("e1").orElseThrow();
                assertThat(stored.getRevision()).isEqualTo(expected + 1);
                assertThat(stored.getDescription()).isEqualTo(winner); // the winner's write, not lost
            }
            assertThat(a.experimentHistory("e1")).hasSize(11);
        }
    }

    @Test
    void putExperiment_concurrentCreatesOnTwoStoresOneWinsOneAlreadyExists() throws Exception {
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            for (int round = 0; round < 5; round++) {
                String key = "new-" + round;
                List<String> outcomes = race(List.of(a, b), store -> {
                    store.putExperiment(experiment(key), 0, "w", "CREATED");
                    return "ok";
                });
                assertThat(outcomes).containsExactlyInAnyOrder("ok", "ALREADY_EXISTS");
                assertThat(a.experimentHistory(key)).hasSize(1);
            }
        }
    }

    @Test
    void close_acknowledgedWritesSurviveReopen() {
        Instant t = clock.instant();
        JdbcExperimentStore first = open();
        first.putExperiment(experiment("e1"), 0, "alice", "CREATED");
        first.setDefaultVersion("leads", "1", "alice");
        first.putRollout(
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
            first.recordExposure(new Exposure("e1", i % 2 == 0 ? "control" : "treatment", "1", "u" + i, t));
        }
        first.recordOutcome(new Outcome("u0", "converted", 1, null, t));
        first.close();
        first.close(); // idempotent
        try (ExperimentStore store = open()) {
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
    void flush_acknowledgedDataSurvivesACrash() {
        Instant t = clock.instant();
        JdbcExperimentStore store = open();
        for (int i = 0; i < 5000; i++) {
            store.recordExposure(new Exposure("e1", "control", "1", "u" + i, t));
        }
        store.flush();
        // another router sees the flushed data while the first still runs
        try (ExperimentStore reader = open()) {
            assertThat(reader.variantStats("e1", "m").get("control").units()).isEqualTo(5000);
        }
        for (int i = 5000; i < 6000; i++) {
            store.recordExposure(new Exposure("e1", "control", "1", "u" + i, t));
        }
        store.abandonForTest(); // no clean shutdown: what was not flushed may be lost
        try (ExperimentStore reopened = open()) {
            assertThat(reopened.variantStats("e1", "m").get("control").units()).isBetween(5000L, 6000L);
        }
    }

    @Test
    void recordOutcome_acknowledgedMeansCommitted() throws Exception {
        Instant t = clock.instant();
        JdbcExperimentStore store = open();
        store.recordExposure(new Exposure("e1", "control", "1", "u1", t));
        store.flush();
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            acks.add(store.recordOutcome(new Outcome("u1", "revenue", 1, null, t)));
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        store.abandonForTest(); // a crash right after the acknowledgements: nothing flushed them
        try (ExperimentStore reopened = open()) {
            assertThat(reopened.variantStats("e1", "revenue").get("control").sum())
                    .isEqualTo(200);
        }
    }

    @Test
    void recordOutcome_sameOutcomeIdIsStoredOnce() throws Exception {
        Instant t = clock.instant();
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            a.recordExposure(new Exposure("e1", "control", "1", "u1", t));
            a.flush();
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                acks.add(a.recordOutcome(new Outcome("u1", "revenue", 1, null, t, "id-" + i)));
                acks.add(a.recordOutcome(new Outcome("u1", "revenue", 1, null, t, "id-" + i))); // same batch
            }
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 50; i++) { // a client retrying the same outcomes on another router
                b.recordOutcome(new Outcome("u1", "revenue", 1, null, t, "id-" + i))
                        .get(30, TimeUnit.SECONDS);
            }
            b.recordOutcome(new Outcome("u1", "revenue", 1, null, t)).get(30, TimeUnit.SECONDS); // no id: stored
            assertThat(b.variantStats("e1", "revenue").get("control").sum()).isEqualTo(51);
        }
    }

    @Test
    void recordExposure_oneRowPerUnitAcrossStoresEarliestWins() {
        Instant t0 = clock.instant();
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            a.recordExposure(new Exposure("e1", "treatment", "2", "u1", t0.plusSeconds(10)));
            a.flush();
            b.recordExposure(new Exposure("e1", "control", "1", "u1", t0)); // earlier, through another router
            b.recordExposure(new Exposure("e1", "control", "1", "u1", t0.plusSeconds(20)));
            b.flush();
            a.recordExposure(new Exposure("e1", "treatment", "2", "u1", t0.plusSeconds(30)));
            a.flush();
            assertThat(a.variantStats("e1", "m")).containsOnlyKeys("control");
            assertThat(a.variantStats("e1", "m").get("control").units()).isEqualTo(1);
        }
    }

    @Test
    void variantStats_firstExposureAndOutcomeAttribution() {
        Instant t0 = clock.instant();
        try (ExperimentStore store = open()) {
            // u1 is exposed twice; the later record arrives first but the earliest exposure wins.
            store.recordExposure(new Exposure("e1", "treatment", "2", "u1", t0.plusSeconds(10)));
            store.recordExposure(new Exposure("e1", "control", "1", "u1", t0));
            store.recordExposure(new Exposure("e1", "treatment", "2", "u2", t0));
            store.recordExposure(new Exposure("e2", "control", "1", "u2", t0));
            store.recordOutcome(new Outcome("u1", "revenue", 3, null, t0));
            store.recordOutcome(new Outcome("u1", "revenue", 4, null, t0));
            store.recordOutcome(new Outcome("u1", "other", 40, null, t0)); // another metric
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
        try (ExperimentStore store = open(StoreOptions.defaults().withQueue(1, Duration.ZERO))) {
            for (int i = 0; i < 20_000; i++) {
                store.recordExposure(new Exposure("e1", "control", "1", "u" + i, clock.instant()));
            }
            store.flush();
            long written = store.variantStats("e1", "m")
                    .getOrDefault("control", VariantStats.empty("control"))
                    .units();
            assertThat(store.droppedCount()).isPositive();
            assertThat(written + store.droppedCount()).isEqualTo(20_000);
            assertThat(store.pendingCount()).isZero();
        }
    }

    private static PayloadSample payload(String version, String unit, Instant time, double score) {
        return new PayloadSample(
                "churn",
                version,
                unit,
                time,
                "{\"tenure\":" + unit.length() + ",\"contract\":\"Month-to-month\",\"total_charges\":null}",
                score,
                score > 0.5 ? "hot" : "cold",
                version.equals("2") ? "e1" : null,
                version.equals("2") ? "treatment" : null);
    }

    @Test
    void payloadSamples_joinedWithOutcomesPagedAndSeenByOtherStores() throws Exception {
        Instant t0 = clock.instant();
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            for (int i = 0; i < 10; i++) {
                a.recordPayloadSample(payload(i < 6 ? "1" : "2", "u" + i, t0.plusSeconds(i), i / 10.0));
            }
            a.recordPayloadSample(payload("1", "u0", t0.plusSeconds(20), 0.9)); // the same unit scored again
            a.flush();
            // outcomes of units 0..3 (u1's is 0: a recorded negative), through the other router
            for (int i = 0; i < 4; i++) {
                b.recordOutcome(new Outcome("u" + i, "churned", i == 1 ? 0 : 1, null, t0))
                        .get(30, TimeUnit.SECONDS);
            }
            b.recordOutcome(new Outcome("u0", "churned", 1, null, t0)).get(30, TimeUnit.SECONDS);
            b.recordOutcome(new Outcome("u5", "other", 1, null, t0)).get(30, TimeUnit.SECONDS); // another metric

            PayloadQuery all = new PayloadQuery("churn", "", "churned", Instant.EPOCH, t0.plusSeconds(3600), false);
            List<StoredPayload> rows = b.payloadSamples(all, 0, 100);
            assertThat(rows).hasSize(11);
            assertThat(rows).extracting(StoredPayload::id).isSorted().doesNotHaveDuplicates();
            PayloadSample first = rows.get(0).sample();
            assertThat(first).isEqualTo(payload("1", "u0", t0, 0.0));
            assertThat(rows.get(0).outcome()).hasValue(2.0);
            assertThat(rows.get(1).outcome()).hasValue(0.0);
            assertThat(rows.get(5).outcome()).isEmpty();
            assertThat(rows.get(6).sample().experiment()).isEqualTo("e1");

            PayloadQuery labelled = new PayloadQuery("churn", "", "churned", Instant.EPOCH, t0.plusSeconds(3600), true);
            assertThat(b.payloadSamples(labelled, 0, 100))
                    .extracting(p -> p.sample().unitId())
                    .containsExactly("u0", "u1", "u2", "u3", "u0");
            // paging by id, a version, a time window
            List<StoredPayload> page1 = b.payloadSamples(all, 0, 4);
            List<StoredPayload> page2 = b.payloadSamples(all, page1.get(3).id(), 100);
            assertThat(page1.size() + page2.size()).isEqualTo(11);
            assertThat(b.payloadSamples(
                            new PayloadQuery("churn", "2", "churned", Instant.EPOCH, t0.plusSeconds(3600), false),
                            0,
                            100))
                    .hasSize(4);
            assertThat(b.payloadSamples(
                            new PayloadQuery("churn", "", "churned", t0.plusSeconds(2), t0.plusSeconds(5), false),
                            0,
                            100))
                    .extracting(p -> p.sample().unitId())
                    .containsExactly("u2", "u3", "u4");
            assertThat(b.payloadSamples(
                            new PayloadQuery("leads", "", "churned", Instant.EPOCH, t0.plusSeconds(3600), false),
                            0,
                            100))
                    .isEmpty();
        }
    }

    @Test
    void recordPayloadSample_fullQueueCountsDropsLikeExposures() {
        try (ExperimentStore store = open(StoreOptions.defaults().withQueue(1, Duration.ZERO))) {
            for (int i = 0; i < 20_000; i++) {
                store.recordPayloadSample(payload("1", "u" + i, clock.instant(), 0.5));
            }
            store.flush();
            long written = store.payloadSamples(
                            new PayloadQuery(
                                    "churn",
                                    "",
                                    "m",
                                    Instant.EPOCH,
                                    clock.instant().plusSeconds(1),
                                    false),
                            0,
                            100_000)
                    .size();
            assertThat(store.droppedCount()).isPositive();
            assertThat(written + store.droppedCount()).isEqualTo(20_000);
        }
    }

    @Test
    void deleteRecordedBefore_deletesOldPayloadSamples() {
        Instant t0 = clock.instant();
        try (ExperimentStore store = open()) {
            store.recordPayloadSample(payload("1", "old", t0, 0.1));
            store.recordPayloadSample(payload("1", "new", t0.plusSeconds(100), 0.2));
            store.flush();
            store.deleteRecordedBefore(t0.plusSeconds(50));
            assertThat(store.payloadSamples(
                            new PayloadQuery("churn", "", "m", Instant.EPOCH, t0.plusSeconds(3600), false), 0, 10))
                    .extracting(p -> p.sample().unitId())
                    .containsExactly("new");
        }
    }

    @Test
    void putRollout_setsDefaultInSameTransaction() {
        try (ExperimentStore store = open()) {
            Rollout r = Rollout.newBuilder()
                    .setModel("leads")
                    .setStableVersion("1")
                    .setCandidateVersion("2")
                    .setState(RolloutState.PROMOTED)
                    .build();
            Rollout stored = store.putRollout(r, 0, "ctl", "PROMOTED", Optional.of("2"));
            assertThat(stored.getRevision()).isEqualTo(1);
            assertThat(store.getDefaultVersion("leads")).contains("2");
            assertThat(store.defaultVersions()).containsExactly(Map.entry("leads", "2"));
            assertThat(store.rolloutHistory("leads")).hasSize(1);
            assertThat(store.listRollouts()).hasSize(1);
            assertThat(codeOf(() -> store.putRollout(r, 0, "ctl", "STARTED", Optional.empty())))
                    .isEqualTo(ErrorCode.ALREADY_EXISTS);
        }
    }

    @Test
    void onChange_anotherStoresWriteIsReported() {
        try (ExperimentStore a = open();
                ExperimentStore b =
                        open(StoreOptions.defaults().withIntervals(Duration.ofMillis(100), Duration.ofHours(1)))) {
            AtomicInteger changes = new AtomicInteger();
            b.onChange(changes::incrementAndGet);
            a.putExperiment(experiment("e1"), 0, "alice", "CREATED");
            await("b hears of a's change").atMost(Duration.ofSeconds(10)).until(() -> changes.get() > 0);
            int seen = changes.get();
            a.setDefaultVersion("leads", "2", "alice");
            await("b hears of the second change").atMost(Duration.ofSeconds(10)).until(() -> changes.get() > seen);
        }
    }

    @Test
    void deleteRecordedBefore_keepsRunningExperiments() throws Exception {
        Instant old = clock.instant();
        try (ExperimentStore store = open()) {
            store.putExperiment(
                    experiment("running").toBuilder()
                            .setStatus(ExperimentStatus.RUNNING)
                            .build(),
                    0,
                    "a",
                    "CREATED");
            store.putExperiment(
                    experiment("stopped").toBuilder()
                            .setStatus(ExperimentStatus.STOPPED)
                            .build(),
                    0,
                    "a",
                    "CREATED");
            store.recordExposure(new Exposure("running", "control", "1", "r1", old));
            store.recordExposure(new Exposure("stopped", "control", "1", "s1", old));
            store.recordExposure(new Exposure("stopped", "control", "1", "s2", old.plus(Duration.ofDays(10))));
            store.recordOutcome(new Outcome("r1", "m", 1, null, old)); // a running experiment's unit
            store.recordOutcome(new Outcome("x", "m", 1, "running", old)); // attributed to the running one
            store.recordOutcome(new Outcome("s1", "m", 1, null, old)).get(30, TimeUnit.SECONDS); // old: deleted
            store.recordOutcome(new Outcome("s2", "m", 1, "stopped", old.plus(Duration.ofDays(10))))
                    .get(30, TimeUnit.SECONDS);
            store.flush();

            store.deleteRecordedBefore(old.plus(Duration.ofDays(5)));

            assertThat(store.variantStats("running", "m").get("control"))
                    .isEqualTo(new VariantStats("control", 1, 1, 1, 1));
            assertThat(store.variantStats("stopped", "m").get("control"))
                    .isEqualTo(new VariantStats("control", 1, 1, 1, 1));
        }
    }

    @Test
    void publishWindows_leaderSumsEveryRoutersWindow() {
        try (ExperimentStore a = open();
                ExperimentStore b = open()) {
            a.publishWindows(List.of(window("router-a", "2", "step-1", 10, 1, 5_000, 3)));
            b.publishWindows(List.of(window("router-b", "2", "step-1", 30, 0, 20_000, 7)));
            b.publishWindows(List.of(window("router-b", "2", "step-1", 40, 2, 20_000, 7))); // replaces b's row
            a.publishWindows(List.of(window("router-c", "2", "step-0", 999, 999, 1, 0))); // an old step

            List<PublishedWindow> windows = a.windows("leads", "step-1");
            VersionWindow sum = PublishedWindow.sum(windows);

            assertThat(windows).hasSize(2);
            assertThat(sum.requests()).isEqualTo(50);
            assertThat(sum.errors()).isEqualTo(3);
            assertThat(sum.scoreHistogram()[3]).isEqualTo(10);
            assertThat(sum.scoreHistogram()[7]).isEqualTo(40);
            assertThat(sum.p99Millis()).isBetween(19.0, 21.0); // b's calls dominate the merged histogram
        }
    }

    static PublishedWindow window(
            String source, String version, String step, long requests, long errors, long micros, int bin) {
        Histogram h = new Histogram(3);
        for (long i = 0; i < requests; i++) {
            h.recordValue(micros);
        }
        ByteBuffer buffer = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
        int length = h.encodeIntoCompressedByteBuffer(buffer);
        long[] bins = new long[VersionWindow.BINS];
        bins[bin] = requests;
        return new PublishedWindow(
                source, "leads", version, step, requests, errors, Arrays.copyOf(buffer.array(), length), bins);
    }
}
