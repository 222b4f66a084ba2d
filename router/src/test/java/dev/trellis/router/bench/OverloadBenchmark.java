package dev.trellis.router.bench;

import dev.trellis.common.auth.BearerToken;
import dev.trellis.ensemble.bundle.BundleWriter;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.ensemble.training.Trainer;
import dev.trellis.ensemble.training.TrainingOptions;
import dev.trellis.ensemble.training.TrainingResult;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.router.OverloadScenario;
import dev.trellis.router.RouterServer;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Issue 10's overload figure: the p50/p99/max of a 300/s single-row Score stream alone and while
 * four 5,000-row ScoreBatch calls with explain run back to back, interleaved over rounds (alone,
 * loaded, alone, loaded, ...) so that machine noise hits both alike. Router and one model-server
 * in this JVM, a churn bundle trained with the default settings (the production configuration),
 * the servers' default lanes.
 *
 * <p>Run: {@code ./trellis bench overload} ({@code -Dbench.seconds=N -Dbench.rounds=N} override).
 */
public final class OverloadBenchmark {
    private static final int SECONDS = Integer.getInteger("bench.seconds", 15);
    private static final int ROUNDS = Integer.getInteger("bench.rounds", 3);
    private static final int RATE = 300;
    private static final String REPLICA_ADMIN_TOKEN = "bench-replica-admin-token";

    private OverloadBenchmark() {}

    /**
     * Collections so far in this JVM (router and model-server; the bulk callers have their own) and
     * their total time in ms: every one stops the single rows too.
     */
    private static long[] collections() {
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, collector.getCollectionCount());
            millis += Math.max(0, collector.getCollectionTime());
        }
        return new long[] {count, millis};
    }

    public static void main(String[] args) throws Exception {
        Path repository = Files.createTempDirectory("trellis-overload-");
        System.out.println("training churn with the default settings ...");
        try (TrainingResult result =
                new Trainer(TrainingOptions.defaults().withSeed(42), message -> {}).train(TestBundles.churn())) {
            BundleWriter.write(repository, "churn", result);
        }
        // training's leftovers out of the heap before the servers start: in production the trainer is
        // another process, and here its promoted garbage made the first loaded round's young
        // collections 80-170 ms instead of 10-15 (the servers' steady state is what is measured)
        System.gc();
        ModelServer replica = ModelServer.start(ModelServerConfig.builder(repository)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                // the router's control plane holds versions with it, as in production
                .adminToken(BearerToken.of(REPLICA_ADMIN_TOKEN))
                .build());
        replica.awaitReady(Duration.ofMinutes(2));
        RouterServer router = RouterServer.start(RouterConfig.builder()
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .upstreams(List.of("127.0.0.1:" + replica.port()))
                .upstreamToken(REPLICA_ADMIN_TOKEN)
                .store(repository.resolve("trellis.db"))
                .build());
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                .usePlaintext()
                .build();
        router.catalog().awaitAnyReady(60, TimeUnit.SECONDS);
        try (OverloadScenario scenario = new OverloadScenario(channel, "127.0.0.1", router.port(), "churn", 2000)) {
            // JIT warm-up of both paths
            scenario.run(Duration.ofSeconds(5), RATE, Duration.ofSeconds(2), 4, 5000, true);
            for (int round = 1; round <= ROUNDS; round++) {
                for (boolean loaded : new boolean[] {false, true}) {
                    long[] gcBefore = collections();
                    OverloadScenario.Result r = scenario.run(
                            Duration.ofSeconds(SECONDS), RATE, Duration.ofSeconds(2), loaded ? 4 : 0, 5000, true);
                    long[] gcAfter = collections();
                    String line = String.format(
                            Locale.ROOT,
                            "round %d %-28s sent %5d failed %d %s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms"
                                    + "  max %8.2f ms  explain batches done %d (%,d rows/s) failed %s"
                                    + "  servers' collections %d (%d ms)",
                            round,
                            loaded ? "with 4 x 5,000-row explain" : "alone",
                            r.sent(),
                            r.failed(),
                            r.failures(),
                            r.latencyMicros().getValueAtPercentile(50) / 1000.0,
                            r.latencyMicros().getValueAtPercentile(99) / 1000.0,
                            r.latencyMicros().getValueAtPercentile(99.9) / 1000.0,
                            r.latencyMicros().getMaxValue() / 1000.0,
                            r.batchesDone(),
                            r.batchesDone() * 5000L / SECONDS,
                            r.batchFailures(),
                            gcAfter[0] - gcBefore[0],
                            gcAfter[1] - gcBefore[1]);
                    System.out.println(line);
                }
            }
        } finally {
            channel.shutdownNow();
            router.close();
            replica.close();
        }
    }
}
