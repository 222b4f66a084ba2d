package dev.trellis.ha;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.client.TrellisClient;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.experiments.testing.PostgresServer;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.router.RouterServer;
import dev.trellis.router.config.RouterConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Score throughput through 1 and through 3 routers sharing one PostgreSQL store, in front of the
 * same model-server, with the Java client balancing over the routers (closed loop, CALLERS
 * threads, interleaved rounds, median reported). Everything runs on this machine's cores, so the
 * figure says what the shared store and the balancing cost, not what more machines would add.
 *
 * <p>Run: {@code ./trellis bench router-scale}
 */
public final class RouterScaleBenchmark {
    private static final int SECONDS = Integer.getInteger("bench.seconds", 10);
    private static final int CALLERS = Integer.getInteger("bench.callers", 16);
    private static final int ROUNDS = 3;

    private RouterScaleBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("trellis-scale-bench");
        Path repository = dir.resolve("repository");
        TestBundles.install(repository, "churn", 1, 11);
        List<RouterServer> routers = new ArrayList<>();
        try (PostgresServer postgres = PostgresServer.start(true);
                ModelServer modelServer = ModelServer.start(ModelServerConfig.builder(repository)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .build())) {
            modelServer.awaitReady(Duration.ofSeconds(120));
            String store = postgres.createDatabase();
            for (int i = 0; i < 3; i++) {
                RouterServer router = RouterServer.start(RouterConfig.builder()
                        .shutdownDelay(Duration.ZERO)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .upstreams(List.of("127.0.0.1:" + modelServer.port()))
                        .store(store)
                        .storePassword(postgres.password())
                        .build());
                router.catalog().awaitAnyReady(60, TimeUnit.SECONDS);
                routers.add(router);
            }
            String one = "127.0.0.1:" + routers.get(0).port();
            String three = String.join(
                    ",", routers.stream().map(r -> "127.0.0.1:" + r.port()).toList());
            System.out.printf(
                    Locale.ROOT,
                    "machine: %d cores, Java %s; %d callers, %d s rounds%n",
                    Runtime.getRuntime().availableProcessors(),
                    System.getProperty("java.version"),
                    CALLERS,
                    SECONDS);
            try (TrellisClient oneRouter = client(one);
                    TrellisClient threeRouters = client(three)) {
                closedLoop(oneRouter, 3); // warm-up
                closedLoop(threeRouters, 3);
                double[] single = new double[ROUNDS];
                double[] triple = new double[ROUNDS];
                for (int round = 0; round < ROUNDS; round++) {
                    single[round] = closedLoop(oneRouter, SECONDS);
                    triple[round] = closedLoop(threeRouters, SECONDS);
                    System.out.printf(
                            Locale.ROOT,
                            "round %d: 1 router %.0f req/s, 3 routers %.0f req/s%n",
                            round + 1,
                            single[round],
                            triple[round]);
                }
                Arrays.sort(single);
                Arrays.sort(triple);
                System.out.printf(
                        Locale.ROOT,
                        "median: 1 router %.0f req/s, 3 routers %.0f req/s%n",
                        single[ROUNDS / 2],
                        triple[ROUNDS / 2]);
            } finally {
                routers.forEach(RouterServer::close); // before the database they use
            }
        }
    }

    private static TrellisClient client(String target) {
        return TrellisClient.builder()
                .target(target)
                .plaintext()
                .defaultDeadline(Duration.ofSeconds(10))
                .build();
    }

    private static double closedLoop(TrellisClient client, int seconds) throws InterruptedException {
        AtomicLong done = new AtomicLong();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < CALLERS; c++) {
            int caller = c;
            Thread t = new Thread(() -> {
                for (int i = 0; System.nanoTime() < end; i++) {
                    client.score(ScoreRequest.newBuilder()
                            .setModel("churn")
                            .setUnitId("u" + caller + "-" + i)
                            .putFeatures(
                                    "tenure",
                                    Value.newBuilder().setNumberValue(i % 72).build())
                            .putFeatures(
                                    "contract",
                                    Value.newBuilder()
                                            .setStringValue("Two year")
                                            .build())
                            .build());
                    done.incrementAndGet();
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        return done.get() / ((System.nanoTime() - start) / 1e9);
    }
}
