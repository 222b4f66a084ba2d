package dev.trellis.router.bench;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.router.ChurnRows;
import dev.trellis.router.RouterServer;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * End-to-end benchmark of single-row Score through router + model-server, next to a bare gRPC
 * relay measured in the same run: a relay server whose Score handler forwards a prebuilt
 * ModelInfer request of the same shape to a no-op server that answers a prebuilt response. Both
 * setups use the same two loopback hops, so the difference is the router's and the model's work.
 * A second relay forwards the row's prebuilt ModelInfer request to the real model-server instead,
 * so the router is also compared with a bare relay in front of the same model: the difference is
 * then the router's own work (validation, routing, encoding and decoding, telemetry).
 *
 * <p>Closed loop: {@code CALLERS} threads call back to back for a fixed time. Open loop: requests
 * are due on a fixed schedule at {@code RATE}/s; latency is measured from the due time, not the
 * send time, so a stall is charged to every request it delays (no coordinated omission).
 *
 * <p>Run: {@code ./trellis bench router} ({@code -Dbench.seconds=N}, {@code -Dbench.rate=N},
 * {@code -Dbench.callers=N}, {@code -Dbench.warmup=N} seconds per path override the defaults;
 * {@code -Dbench.slowCalls=MS} prints every open-loop call slower than MS with when it was due, in
 * JVM uptime, and how late it was sent).
 */
public final class RouterBenchmark {
    private static final int SECONDS = Integer.getInteger("bench.seconds", 10);
    private static final int RATE = Integer.getInteger("bench.rate", 2000);
    private static final int CALLERS = Integer.getInteger("bench.callers", 16);
    private static final int WARMUP_SECONDS = Integer.getInteger("bench.warmup", 10);
    private static final int ROUNDS = 3;
    private static final String REPLICA_ADMIN_TOKEN = "bench-replica-admin-token";

    private RouterBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("trellis-bench");
        Path repository = dir.resolve("repository");
        TestBundles.install(repository, "churn", 1, 11);
        List<Map<String, Value>> rows = ChurnRows.load(200);

        try (ModelServer modelServer = ModelServer.start(ModelServerConfig.builder(repository)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                // the router's control plane holds versions with it, as in production
                .adminToken(BearerToken.of(REPLICA_ADMIN_TOKEN))
                .build())) {
            modelServer.awaitReady(Duration.ofSeconds(120));
            RouterServer router = RouterServer.start(RouterConfig.builder()
                    .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0)
                    .upstreams(List.of("127.0.0.1:" + modelServer.port()))
                    .upstreamToken(REPLICA_ADMIN_TOKEN)
                    .store(dir.resolve("trellis.db"))
                    .build());
            router.catalog().awaitAnyReady(60, TimeUnit.SECONDS);
            Relay relay = Relay.start(rows, -1);
            Relay forwarder = Relay.start(rows, modelServer.port());
            try {
                ManagedChannel toRouter = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                        .usePlaintext()
                        .build();
                ManagedChannel toRelay = NettyChannelBuilder.forAddress("127.0.0.1", relay.port())
                        .usePlaintext()
                        .build();
                ManagedChannel toForwarder = NettyChannelBuilder.forAddress("127.0.0.1", forwarder.port())
                        .usePlaintext()
                        .build();
                ScoreRequest[] requests = new ScoreRequest[rows.size()];
                for (int i = 0; i < requests.length; i++) {
                    requests[i] = ScoreRequest.newBuilder()
                            .setModel("churn")
                            .setUnitId("u" + i)
                            .putAllFeatures(rows.get(i))
                            .build();
                }

                System.out.printf(
                        Locale.ROOT,
                        "machine: %d cores (%s %s), Java %s; %ds per phase, %d callers, open loop at %d req/s%n",
                        Runtime.getRuntime().availableProcessors(),
                        System.getProperty("os.name"),
                        System.getProperty("os.arch"),
                        System.getProperty("java.version"),
                        SECONDS,
                        CALLERS,
                        RATE);
                if (Boolean.getBoolean("bench.routerOnly")) { // for profiling the router path alone
                    closedLoop(toRouter, requests, WARMUP_SECONDS);
                    System.out.printf(
                            Locale.ROOT,
                            "router only: %.0f req/s%n",
                            closedLoop(toRouter, requests, SECONDS).perSecond());
                    Histogram open = openLoop(toRouter, requests, SECONDS, RATE);
                    System.out.printf(
                            Locale.ROOT,
                            "router only, open loop at %d req/s: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms%n",
                            RATE,
                            open.getValueAtPercentile(50) / 1000.0,
                            open.getValueAtPercentile(99) / 1000.0,
                            open.getValueAtPercentile(99.9) / 1000.0);
                    return;
                }
                // warm up both paths (JIT, connections, model-server batches): the router's path has
                // far more code to compile than the relay's, and on 2 cores C2 takes its time
                closedLoop(toRouter, requests, WARMUP_SECONDS);
                closedLoop(toRelay, requests, WARMUP_SECONDS);
                closedLoop(toForwarder, requests, WARMUP_SECONDS);

                ManagedChannel toModelServer = NettyChannelBuilder.forAddress("127.0.0.1", modelServer.port())
                        .usePlaintext()
                        .build();
                ModelInferRequest[] inferRequests = new ModelInferRequest[rows.size()];
                for (int i = 0; i < inferRequests.length; i++) {
                    inferRequests[i] = Relay.inferRequest(rows.get(i));
                }
                // Interleaved rounds, median per path: the machine's load drifts, and sequential
                // phases would charge the drift to whichever path ran during it.
                Rate[] direct = new Rate[ROUNDS];
                Rate[] routed = new Rate[ROUNDS];
                Rate[] relayed = new Rate[ROUNDS];
                Rate[] forwarded = new Rate[ROUNDS];
                int roundSeconds = Math.max(2, SECONDS / 2);
                for (int round = 0; round < ROUNDS; round++) {
                    routed[round] = closedLoop(toRouter, requests, roundSeconds);
                    relayed[round] = closedLoop(toRelay, requests, roundSeconds);
                    forwarded[round] = closedLoop(toForwarder, requests, roundSeconds);
                    direct[round] = closedLoopDirect(toModelServer, inferRequests, roundSeconds);
                    System.out.printf(
                            Locale.ROOT,
                            "round %d: router %.0f, relay %.0f, relay to the model-server %.0f,"
                                    + " model-server alone %.0f req/s (CPU per call: %.0f, %.0f, %.0f, %.0f us)%n",
                            round + 1,
                            routed[round].perSecond(),
                            relayed[round].perSecond(),
                            forwarded[round].perSecond(),
                            direct[round].perSecond(),
                            routed[round].cpuMicrosPerCall(),
                            relayed[round].cpuMicrosPerCall(),
                            forwarded[round].cpuMicrosPerCall(),
                            direct[round].cpuMicrosPerCall());
                }
                double directThroughput = median(direct, Rate::perSecond);
                double routerThroughput = median(routed, Rate::perSecond);
                double relayThroughput = median(relayed, Rate::perSecond);
                double forwarderThroughput = median(forwarded, Rate::perSecond);
                // the open loops interleaved too, in rounds whose histograms add up per path: the path
                // that would run right after the closed loops inherits their aftermath (collections,
                // recompilation) otherwise
                Histogram routerLatency = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
                Histogram relayLatency = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
                Histogram forwarderLatency = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
                int openSeconds = Math.max(2, SECONDS / ROUNDS);
                // and each round in another order (relay, router, forwarder; router, forwarder, relay;
                // ...), so that no path always runs right after the same other one
                List<ManagedChannel> channels = List.of(toRelay, toRouter, toForwarder);
                List<Histogram> latencies = List.of(relayLatency, routerLatency, forwarderLatency);
                for (int round = 0; round < ROUNDS; round++) {
                    for (int k = 0; k < channels.size(); k++) {
                        int path = (round + k) % channels.size();
                        latencies.get(path).add(openLoop(channels.get(path), requests, openSeconds, RATE));
                    }
                }

                System.out.println();
                System.out.println("| path | closed-loop req/s (median of " + ROUNDS
                        + ") | open-loop p50 ms | p99 ms | p99.9 ms | max ms |");
                System.out.println("|---|---|---|---|---|---|");
                row("router + model-server", routerThroughput, routerLatency);
                row("bare gRPC relay (baseline)", relayThroughput, relayLatency);
                row("bare gRPC relay in front of the same model-server", forwarderThroughput, forwarderLatency);
                System.out.printf(
                        Locale.ROOT,
                        "model-server alone (ModelInfer, one hop, closed loop, median): %.0f req/s%n",
                        directThroughput);
                System.out.printf(
                        Locale.ROOT,
                        "CPU per call, this JVM's every thread (median): router path %.0f us, relay %.0f us,"
                                + " relay to the model-server %.0f us, model-server alone %.0f us%n",
                        median(routed, Rate::cpuMicrosPerCall),
                        median(relayed, Rate::cpuMicrosPerCall),
                        median(forwarded, Rate::cpuMicrosPerCall),
                        median(direct, Rate::cpuMicrosPerCall));
                toModelServer.shutdownNow();
                System.out.printf(
                        Locale.ROOT,
                        "%nrouter throughput = %.0f%% of the relay's, %.0f%% of the relay's in front of the same"
                                + " model-server; router p99 at %d req/s = %.2f ms (relay %.2f ms, relay to the"
                                + " model-server %.2f ms)%n",
                        100 * routerThroughput / relayThroughput,
                        100 * routerThroughput / forwarderThroughput,
                        RATE,
                        routerLatency.getValueAtPercentile(99) / 1000.0,
                        relayLatency.getValueAtPercentile(99) / 1000.0,
                        forwarderLatency.getValueAtPercentile(99) / 1000.0);
                toRouter.shutdownNow();
                toRelay.shutdownNow();
                toForwarder.shutdownNow();
            } finally {
                forwarder.close();
                relay.close();
                router.close();
            }
        }
        System.exit(0);
    }

    private static double median(Rate[] rates, java.util.function.ToDoubleFunction<Rate> field) {
        double[] sorted =
                java.util.Arrays.stream(rates).mapToDouble(field).sorted().toArray();
        return sorted[sorted.length / 2];
    }

    /**
     * A closed loop's outcome. The CPU per call is the whole JVM's CPU time over the phase divided
     * by the calls: only the path under test is busy then, and unlike the throughput it hardly moves
     * when other processes load the machine, so paths can be compared on a busy machine too.
     */
    private record Rate(double perSecond, double cpuMicrosPerCall) {}

    private static void row(String name, double throughput, Histogram latency) {
        System.out.printf(
                Locale.ROOT,
                "| %s | %.0f | %.2f | %.2f | %.2f | %.2f |%n",
                name,
                throughput,
                latency.getValueAtPercentile(50) / 1000.0,
                latency.getValueAtPercentile(99) / 1000.0,
                latency.getValueAtPercentile(99.9) / 1000.0,
                latency.getMaxValue() / 1000.0);
    }

    /** Score calls back to back from CALLERS threads; returns completed calls per second. */
    private static Rate closedLoop(ManagedChannel channel, ScoreRequest[] requests, int seconds)
            throws InterruptedException {
        ScoringGrpc.ScoringBlockingStub stub = ScoringGrpc.newBlockingStub(channel);
        return closedLoop(
                seconds, i -> stub.withDeadlineAfter(5, TimeUnit.SECONDS).score(requests[i % requests.length]));
    }

    /** ModelInfer calls straight to the model-server, back to back from CALLERS threads. */
    private static Rate closedLoopDirect(ManagedChannel channel, ModelInferRequest[] requests, int seconds)
            throws InterruptedException {
        GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub =
                GRPCInferenceServiceGrpc.newBlockingStub(channel);
        return closedLoop(
                seconds, i -> stub.withDeadlineAfter(5, TimeUnit.SECONDS).modelInfer(requests[i % requests.length]));
    }

    /** Runs {@code call(i)} back to back from CALLERS threads for {@code seconds}. */
    private static Rate closedLoop(int seconds, java.util.function.IntConsumer call) throws InterruptedException {
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpuStart = os.getProcessCpuTime();
        AtomicLong done = new AtomicLong();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < CALLERS; c++) {
            int caller = c;
            Thread t = new Thread(() -> {
                int i = caller;
                while (System.nanoTime() < end) {
                    call.accept(i++);
                    done.incrementAndGet();
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        double cpuMicros = (os.getProcessCpuTime() - cpuStart) / 1e3;
        return new Rate(done.get() / ((System.nanoTime() - start) / 1e9), cpuMicros / Math.max(1, done.get()));
    }

    /** Sends at a fixed rate; latency from each request's due time, in microseconds. */
    private static Histogram openLoop(ManagedChannel channel, ScoreRequest[] requests, int seconds, int rate)
            throws InterruptedException {
        ConcurrentHistogram histogram = new ConcurrentHistogram(TimeUnit.SECONDS.toMicros(60), 3);
        ScoringGrpc.ScoringStub stub = ScoringGrpc.newStub(channel);
        long total = (long) seconds * rate;
        long interval = TimeUnit.SECONDS.toNanos(1) / rate;
        CountDownLatch finished = new CountDownLatch((int) total);
        AtomicLong errors = new AtomicLong();
        // -Dbench.slowCalls=MS: print when the calls slower than MS were due (JVM uptime, to hold
        // against a GC log's uptime decoration), to tell bursts (a pause, a background task) from
        // a spread tail
        long slowMicros = Long.getLong("bench.slowCalls", -1) * 1000;
        java.util.concurrent.ConcurrentLinkedQueue<long[]> slow = new java.util.concurrent.ConcurrentLinkedQueue<>();
        long uptimeAtStart =
                java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime();
        long start = System.nanoTime();
        for (long i = 0; i < total; i++) {
            long due = start + i * interval;
            long wait;
            while ((wait = due - System.nanoTime()) > 0) {
                LockSupport.parkNanos(wait);
            }
            long sent = System.nanoTime();
            stub.withDeadlineAfter(10, TimeUnit.SECONDS)
                    .score(requests[(int) (i % requests.length)], new StreamObserver<>() {
                        @Override
                        public void onNext(ScoreResponse value) {}

                        @Override
                        public void onError(Throwable t) {
                            errors.incrementAndGet();
                            record();
                        }

                        @Override
                        public void onCompleted() {
                            record();
                        }

                        private void record() {
                            long micros = Math.max(1, (System.nanoTime() - due) / 1000);
                            histogram.recordValue(micros);
                            if (slowMicros >= 0 && micros > slowMicros) {
                                slow.add(new long[] {(due - start) / 1000, micros, (sent - due) / 1000});
                            }
                            finished.countDown();
                        }
                    });
        }
        finished.await(60, TimeUnit.SECONDS);
        if (slowMicros >= 0) {
            StringBuilder line = new StringBuilder(String.format(
                    Locale.ROOT,
                    "open loop: %d calls over %d ms, due at uptime ms (latency ms, how late the call was sent):",
                    slow.size(),
                    slowMicros / 1000));
            slow.stream()
                    .sorted(java.util.Comparator.comparingLong(c -> c[0]))
                    .forEach(c -> line.append(String.format(
                            Locale.ROOT,
                            " %.1f (%.1f, sent %.1f late)",
                            uptimeAtStart + c[0] / 1000.0,
                            c[1] / 1000.0,
                            c[2] / 1000.0)));
            System.out.println(line);
        }
        if (errors.get() > 0) {
            System.out.println("open loop: " + errors.get() + " errors");
        }
        return histogram;
    }

    /**
     * The baselines: Score → relay → ModelInfer → a no-op server (prebuilt messages of realistic
     * shape), or → the real model-server (the row's prebuilt request; the answer is not decoded).
     */
    private static final class Relay implements AutoCloseable {
        private final Server noop; // null when the relay forwards to the model-server
        private final Server relay;
        private final ManagedChannel upstream;

        private Relay(Server noop, Server relay, ManagedChannel upstream) {
            this.noop = noop;
            this.relay = relay;
            this.upstream = upstream;
        }

        static ModelInferRequest inferRequest(Map<String, Value> row) {
            ModelInferRequest.Builder request =
                    ModelInferRequest.newBuilder().setModelName("churn").setModelVersion("1");
            for (Map.Entry<String, Value> feature : row.entrySet()) {
                ModelInferRequest.InferInputTensor.Builder tensor =
                        request.addInputsBuilder().setName(feature.getKey()).addShape(1);
                if (feature.getValue().hasStringValue()) {
                    tensor.setDatatype("BYTES")
                            .setContents(InferTensorContents.newBuilder()
                                    .addBytesContents(com.google.protobuf.ByteString.copyFromUtf8(
                                            feature.getValue().getStringValue())));
                } else {
                    tensor.setDatatype("FP32")
                            .setContents(InferTensorContents.newBuilder()
                                    .addFp32Contents((float) feature.getValue().getNumberValue()));
                }
            }
            return request.build();
        }

        /** A relay to a no-op server ({@code modelServerPort} -1) or to the model-server on that port. */
        static Relay start(List<Map<String, Value>> rows, int modelServerPort) throws IOException {
            ModelInferRequest[] prebuiltRequests =
                    rows.stream().map(Relay::inferRequest).toArray(ModelInferRequest[]::new);
            ModelInferResponse prebuiltResponse = ModelInferResponse.newBuilder()
                    .setModelName("churn")
                    .setModelVersion("1")
                    .addOutputs(fp32("score", 1, 0.5f))
                    .addOutputs(ModelInferResponse.InferOutputTensor.newBuilder()
                            .setName("label")
                            .setDatatype("BYTES")
                            .addShape(1)
                            .setContents(InferTensorContents.newBuilder()
                                    .addBytesContents(com.google.protobuf.ByteString.copyFromUtf8("warm"))))
                    .addOutputs(fp32("interval", 2, 0.4f, 0.6f))
                    .addOutputs(fp32("agreement", 1, 0.9f))
                    .addOutputs(fp32("base_scores", 3, 0.5f, 0.5f, 0.5f).toBuilder()
                            .putParameters(
                                    "columns",
                                    InferParameter.newBuilder()
                                            .setStringParam("xgboost,lightgbm,mlp")
                                            .build()))
                    .build();

            Server noop = modelServerPort >= 0
                    ? null
                    : NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                            .addService(new GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase() {
                                @Override
                                public void modelInfer(
                                        ModelInferRequest req, StreamObserver<ModelInferResponse> observer) {
                                    observer.onNext(prebuiltResponse);
                                    observer.onCompleted();
                                }
                            })
                            .build()
                            .start();
            int upstreamPort = noop == null ? modelServerPort : noop.getPort();
            ManagedChannel upstream = NettyChannelBuilder.forAddress("127.0.0.1", upstreamPort)
                    .usePlaintext()
                    .build();
            GRPCInferenceServiceGrpc.GRPCInferenceServiceStub stub = GRPCInferenceServiceGrpc.newStub(upstream);
            Server relay = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                    .addService(new ScoringGrpc.ScoringImplBase() {
                        @Override
                        public void score(ScoreRequest req, StreamObserver<ScoreResponse> observer) {
                            // the benchmark's unit ids are "u" + the row's index
                            int row = Integer.parseInt(req.getUnitId().substring(1)) % prebuiltRequests.length;
                            stub.modelInfer(prebuiltRequests[row], new StreamObserver<>() {
                                @Override
                                public void onNext(ModelInferResponse value) {}

                                @Override
                                public void onError(Throwable t) {
                                    observer.onError(t);
                                }

                                @Override
                                public void onCompleted() {
                                    observer.onNext(ScoreResponse.getDefaultInstance());
                                    observer.onCompleted();
                                }
                            });
                        }
                    })
                    .build()
                    .start();
            return new Relay(noop, relay, upstream);
        }

        private static ModelInferResponse.InferOutputTensor fp32(String name, int width, float... values) {
            InferTensorContents.Builder contents = InferTensorContents.newBuilder();
            for (float v : values) {
                contents.addFp32Contents(v);
            }
            return ModelInferResponse.InferOutputTensor.newBuilder()
                    .setName(name)
                    .setDatatype("FP32")
                    .addShape(1)
                    .addShape(width)
                    .setContents(contents)
                    .build();
        }

        int port() {
            return relay.getPort();
        }

        @Override
        public void close() {
            relay.shutdownNow();
            upstream.shutdownNow();
            if (noop != null) {
                noop.shutdownNow();
            }
        }
    }
}
