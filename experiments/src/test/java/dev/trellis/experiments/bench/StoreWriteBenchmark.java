package dev.trellis.experiments.bench;

import dev.trellis.experiments.store.Exposure;
import dev.trellis.experiments.store.JdbcExperimentStore;
import dev.trellis.experiments.store.Outcome;
import dev.trellis.experiments.store.PostgresExperimentStore;
import dev.trellis.experiments.store.PostgresLocation;
import dev.trellis.experiments.store.SqliteExperimentStore;
import dev.trellis.experiments.store.StoreOptions;
import dev.trellis.experiments.testing.PostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Durable write throughput of both stores, and the results query on a large experiment:
 *
 * <ul>
 *   <li>exposures/s made durable: N exposures of distinct units recorded, then {@code flush()};
 *   <li>acknowledged outcomes/s: callers that each wait for their outcome's commit before the next
 *       (RecordOutcome's contract), 1 and 32 callers; group commit shares a commit between them;
 *   <li>{@code variantStats} over 850,000 exposures and 85,000 outcomes.
 * </ul>
 *
 * PostgreSQL runs with fsync on (a durable server). Run: {@code ./trellis bench store-write}
 */
public final class StoreWriteBenchmark {
    private static final int EXPOSURES = Integer.getInteger("bench.exposures", 200_000);
    private static final int STATS_EXPOSURES = Integer.getInteger("bench.statsExposures", 850_000);
    private static final int SECONDS = Integer.getInteger("bench.seconds", 10);

    private StoreWriteBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("store-bench");
        try (PostgresServer postgres = PostgresServer.start(true)) {
            for (String kind : List.of("sqlite", "postgresql")) {
                run(
                        kind,
                        () -> kind.equals("sqlite")
                                ? SqliteExperimentStore.open(dir.resolve(System.nanoTime() + ".db"), Clock.systemUTC())
                                : PostgresExperimentStore.open(
                                        PostgresLocation.parse(postgres.createDatabase()),
                                        Optional.of(postgres.password()),
                                        Clock.systemUTC(),
                                        StoreOptions.defaults()));
            }
        }
    }

    private interface Opener {
        JdbcExperimentStore open();
    }

    private static void run(String kind, Opener opener) throws Exception {
        try (JdbcExperimentStore store = opener.open()) {
            Instant now = Instant.now();
            long start = System.nanoTime();
            for (int i = 0; i < EXPOSURES; i++) {
                store.recordExposure(new Exposure("bench", i % 2 == 0 ? "control" : "treatment", "1", "u" + i, now));
            }
            store.flush();
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "%-10s exposures: %,d durable in %.2f s = %,.0f/s (dropped %d)%n",
                    kind,
                    EXPOSURES,
                    seconds,
                    EXPOSURES / seconds,
                    store.droppedCount());
            for (int callers : new int[] {1, 32}) {
                acknowledgedOutcomes(kind, store, callers);
            }
        }
        try (JdbcExperimentStore store = opener.open()) {
            Instant now = Instant.now();
            for (int i = 0; i < STATS_EXPOSURES; i++) {
                store.recordExposure(new Exposure("big", i % 2 == 0 ? "control" : "treatment", "1", "u" + i, now));
                if (i % 10 == 0) {
                    store.recordOutcome(new Outcome("u" + i, "converted", 1, null, now));
                }
            }
            store.flush();
            for (int round = 0; round < 3; round++) {
                long start = System.nanoTime();
                long units = store.variantStats("big", "converted").values().stream()
                        .mapToLong(v -> v.units())
                        .sum();
                System.out.printf(
                        Locale.ROOT,
                        "%-10s results over %,d exposures / %,d outcomes: %.0f ms%n",
                        kind,
                        units,
                        STATS_EXPOSURES / 10,
                        (System.nanoTime() - start) / 1e6);
            }
        }
    }

    private static void acknowledgedOutcomes(String kind, JdbcExperimentStore store, int callers) throws Exception {
        AtomicLong done = new AtomicLong();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        List<Future<?>> loops = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < callers; c++) {
            int caller = c;
            loops.add(pool.submit(() -> {
                for (int i = 0; System.nanoTime() < deadline; i++) {
                    CompletableFuture<Void> ack = store.recordOutcome(new Outcome(
                            "u" + i, "converted", 1, null, Instant.now(), kind + caller + "-" + callers + "-" + i));
                    ack.join(); // acknowledged = committed
                    done.incrementAndGet();
                }
                return null;
            }));
        }
        for (Future<?> loop : loops) {
            loop.get();
        }
        pool.shutdown();
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(
                Locale.ROOT,
                "%-10s acknowledged outcomes, %2d callers each waiting for its commit: %,.0f/s%n",
                kind,
                callers,
                done.get() / seconds);
    }
}
