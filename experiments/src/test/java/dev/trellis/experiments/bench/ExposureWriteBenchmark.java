package dev.trellis.experiments.bench;

import dev.trellis.experiments.store.Exposure;
import dev.trellis.experiments.store.SqliteExperimentStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

/**
 * Records exposures as the router does (on request threads) into a real SQLite file and reports
 * what the caller waits per call (p50/p99/max) and the end-to-end write throughput (until flush()
 * returns, i.e. everything is durable).
 *
 * <pre>
 * mvn -o -q -B -pl experiments test-compile dependency:build-classpath \
 *     -Dmdep.outputFile=target/test.classpath -Dmdep.includeScope=test
 * java -cp experiments/target/test-classes:experiments/target/classes:$(cat experiments/target/test.classpath) \
 *     dev.trellis.experiments.bench.ExposureWriteBenchmark 100000 4     # exposures, caller threads
 * </pre>
 */
public final class ExposureWriteBenchmark {
    private ExposureWriteBenchmark() {}

    public static void main(String[] args) throws Exception {
        int total = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        Path dir = Files.createTempDirectory("exposure-bench");
        Path file = dir.resolve("bench.db");
        long[][] waits = new long[threads][];
        Instant now = Instant.now();
        try (SqliteExperimentStore store = SqliteExperimentStore.open(file, Clock.systemUTC())) {
            warmUp(store, now);
            CountDownLatch start = new CountDownLatch(1);
            Thread[] workers = new Thread[threads];
            int perThread = total / threads;
            for (int t = 0; t < threads; t++) {
                int id = t;
                waits[t] = new long[perThread];
                workers[t] = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        Exposure x = new Exposure(
                                "bench-exp", (i & 1) == 0 ? "control" : "treatment", "1", "unit-" + id + "-" + i, now);
                        long t0 = System.nanoTime();
                        store.recordExposure(x);
                        waits[id][i] = System.nanoTime() - t0;
                    }
                });
                workers[t].start();
            }
            long begin = System.nanoTime();
            start.countDown();
            for (Thread w : workers) {
                w.join();
            }
            long enqueued = System.nanoTime();
            store.flush();
            long durable = System.nanoTime();

            long[] all =
                    Arrays.stream(waits).flatMapToLong(Arrays::stream).sorted().toArray();
            double seconds = (durable - begin) / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "exposures: %d from %d threads, cores: %d%n",
                    all.length,
                    threads,
                    Runtime.getRuntime().availableProcessors());
            System.out.printf(
                    Locale.ROOT,
                    "caller wait per recordExposure: p50 %.2f us, p99 %.2f us, p99.9 %.2f us, max %.2f ms%n",
                    all[all.length / 2] / 1e3,
                    all[(int) (all.length * 0.99)] / 1e3,
                    all[(int) (all.length * 0.999)] / 1e3,
                    all[all.length - 1] / 1e6);
            System.out.printf(
                    Locale.ROOT,
                    "all enqueued after %.3f s; durable after %.3f s: %.0f exposures/s written%n",
                    (enqueued - begin) / 1e9,
                    seconds,
                    all.length / seconds);
            System.out.printf(Locale.ROOT, "dropped: %d, written: %d%n", store.droppedCount(), store.writtenCount());
        } finally {
            try (Stream<Path> files = Files.list(dir)) {
                files.forEach(p -> p.toFile().delete());
            }
            Files.deleteIfExists(dir);
        }
    }

    private static void warmUp(SqliteExperimentStore store, Instant now) {
        for (int i = 0; i < 20_000; i++) {
            store.recordExposure(new Exposure("warmup", "control", "1", "w" + i, now));
        }
        store.flush();
    }
}
