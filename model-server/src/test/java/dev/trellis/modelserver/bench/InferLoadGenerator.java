package dev.trellis.modelserver.bench;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import dev.trellis.common.text.DurationText;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import dev.trellis.proto.inference.ModelMetadataResponse.TensorMetadata;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * End-to-end load for single-row ModelInfer over loopback (a benchmark, not a test).
 *
 * <ul>
 *   <li>open loop at fixed rates: requests are sent on a fixed schedule whatever the responses do,
 *   and latency is measured from each request's <em>intended</em> send time, so a stalled server
 *   is charged for every request it delayed (no coordinated omission);</li>
 *   <li>closed loop at max: N callers each send the next request when the last one returned.</li>
 * </ul>
 *
 * Arguments (all optional): {@code --address host:port} to load a running server (otherwise one is
 * started in this JVM), {@code --repo DIR} to serve DIR (otherwise a small churn bundle is trained
 * with TestBundles), {@code --model churn}, {@code --rates 1000,2000,4000}, {@code --duration 10}
 * (seconds per phase), {@code --warmup 3}, {@code --concurrency 16}, {@code --mode both|open|closed}, and for the
 * in-JVM server {@code --max-queue-delay 500us} and {@code --batch-workers 2}.
 */
public final class InferLoadGenerator {
    private static final long MAX_IN_FLIGHT = 20_000;

    private final GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub futures;
    private final GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub blocking;
    private final List<ModelInferRequest> requests;

    private InferLoadGenerator(ManagedChannel channel, List<ModelInferRequest> requests) {
        this.futures = GRPCInferenceServiceGrpc.newFutureStub(channel);
        this.blocking = GRPCInferenceServiceGrpc.newBlockingStub(channel);
        this.requests = List.copyOf(requests);
    }

    public static void main(String[] args) throws Exception {
        String address = option(args, "--address", null);
        String repo = option(args, "--repo", null);
        String model = option(args, "--model", "churn");
        int duration = Integer.parseInt(option(args, "--duration", "10"));
        int warmup = Integer.parseInt(option(args, "--warmup", "3"));
        int concurrency = Integer.parseInt(option(args, "--concurrency", "16"));
        String mode = option(args, "--mode", "both");
        List<Integer> rates = new ArrayList<>();
        for (String rate : option(args, "--rates", "1000,2000,4000").split(",")) {
            rates.add(Integer.parseInt(rate.trim()));
        }

        ModelServer server = null;
        String target = address;
        if (target == null) {
            Path repository;
            if (repo != null) {
                repository = Path.of(repo);
            } else {
                repository = Files.createTempDirectory("trellis-bench-");
                System.out.println("training a churn bundle with TestBundles into " + repository);
                TestBundles.install(repository, model, 1, 42);
            }
            ModelServerConfig.Builder config = ModelServerConfig.builder(repository)
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0);
            String delay = option(args, "--max-queue-delay", null);
            if (delay != null) {
                config.maxQueueDelay(DurationText.parse(delay));
            }
            String workers = option(args, "--batch-workers", null);
            if (workers != null) {
                config.batchWorkers(Integer.parseInt(workers));
            }
            server = ModelServer.start(config.build());
            server.awaitReady(Duration.ofMinutes(5));
            target = "127.0.0.1:" + server.port();
            System.out.println("model-server started in this JVM on " + target);
        }
        String[] hostPort = target.split(":");
        ManagedChannel channel = NettyChannelBuilder.forAddress(hostPort[0], Integer.parseInt(hostPort[1]))
                .usePlaintext()
                .directExecutor()
                .build();
        try {
            ModelMetadataResponse metadata = GRPCInferenceServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .modelMetadata(
                            ModelMetadataRequest.newBuilder().setName(model).build());
            InferLoadGenerator generator = new InferLoadGenerator(channel, singleRowRequests(metadata, 1024));
            System.out.printf(
                    Locale.ROOT,
                    "machine: %d cores, %s %s; client and server %s%n",
                    Runtime.getRuntime().availableProcessors(),
                    System.getProperty("os.name"),
                    System.getProperty("java.vm.version"),
                    server != null ? "share this JVM" : "in separate processes");
            System.out.printf(
                    Locale.ROOT, "model %s, %d features, single-row ModelInfer%n%n", model, metadata.getInputsCount());
            System.out.printf(
                    Locale.ROOT,
                    "%-22s %12s %9s %9s %9s %9s %8s%n",
                    "phase",
                    "throughput/s",
                    "p50 ms",
                    "p99 ms",
                    "p99.9 ms",
                    "max ms",
                    "errors");
            if (!mode.equals("open")) {
                generator.closedLoop(concurrency, warmup);
                generator.closedLoop(concurrency, duration).print("closed, " + concurrency + " callers");
            }
            if (!mode.equals("closed")) {
                for (int rate : rates) {
                    generator.openLoop(rate, warmup);
                    generator.openLoop(rate, duration).print("open, " + rate + " req/s");
                }
            }
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            if (server != null) {
                server.close();
            }
        }
    }

    private Result closedLoop(int callers, int seconds) throws InterruptedException {
        Recorder recorder = new Recorder(3);
        AtomicLong errors = new AtomicLong();
        AtomicLong done = new AtomicLong();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        CountDownLatch finished = new CountDownLatch(callers);
        long start = System.nanoTime();
        for (int i = 0; i < callers; i++) {
            int offset = i * 97;
            Thread caller = new Thread(
                    () -> {
                        int next = offset;
                        while (System.nanoTime() < end) {
                            ModelInferRequest request = requests.get(next++ % requests.size());
                            long sent = System.nanoTime();
                            try {
                                blocking.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(request);
                                recorder.recordValue(System.nanoTime() - sent);
                                done.incrementAndGet();
                            } catch (RuntimeException e) {
                                errors.incrementAndGet();
                            }
                        }
                        finished.countDown();
                    },
                    "closed-loop-" + i);
            caller.setDaemon(true);
            caller.start();
        }
        finished.await();
        double elapsed = (System.nanoTime() - start) / 1e9;
        return new Result(recorder.getIntervalHistogram(), done.get() / elapsed, errors.get());
    }

    private Result openLoop(int rate, int seconds) throws InterruptedException {
        Recorder recorder = new Recorder(3);
        AtomicLong errors = new AtomicLong();
        AtomicLong done = new AtomicLong();
        Semaphore inFlight = new Semaphore((int) MAX_IN_FLIGHT);
        long total = (long) rate * seconds;
        double interval = 1e9 / rate;
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(10);
        for (long i = 0; i < total; i++) {
            long intended = start + (long) (i * interval);
            long wait;
            while ((wait = intended - System.nanoTime()) > 0) {
                if (wait > 50_000) {
                    LockSupport.parkNanos(wait - 20_000);
                } else {
                    Thread.onSpinWait();
                }
            }
            if (!inFlight.tryAcquire()) {
                // the server fell hopelessly behind: count it as failed rather than queue unboundedly
                errors.incrementAndGet();
                continue;
            }
            ModelInferRequest request = requests.get((int) (i % requests.size()));
            Futures.addCallback(
                    futures.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(request),
                    new FutureCallback<ModelInferResponse>() {
                        @Override
                        public void onSuccess(ModelInferResponse response) {
                            // measured from the intended send time: delays of the sender count too
                            recorder.recordValue(System.nanoTime() - intended);
                            done.incrementAndGet();
                            inFlight.release();
                        }

                        @Override
                        public void onFailure(Throwable failure) {
                            errors.incrementAndGet();
                            inFlight.release();
                        }
                    },
                    MoreExecutors.directExecutor());
        }
        inFlight.acquire((int) MAX_IN_FLIGHT);
        double elapsed = (System.nanoTime() - start) / 1e9;
        return new Result(recorder.getIntervalHistogram(), done.get() / elapsed, errors.get());
    }

    private static List<ModelInferRequest> singleRowRequests(ModelMetadataResponse metadata, int count) {
        Random random = new Random(42);
        List<ModelInferRequest> requests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName(metadata.getName());
            for (TensorMetadata input : metadata.getInputsList()) {
                InferTensorContents.Builder contents = InferTensorContents.newBuilder();
                if (input.getDatatype().equals("FP32")) {
                    contents.addFp32Contents(random.nextInt(10) == 0 ? Float.NaN : random.nextInt(1000) / 10f);
                } else {
                    // categories are unknown to a generic client: empty = missing
                    contents.addBytesContents(ByteString.EMPTY);
                }
                request.addInputs(ModelInferRequest.InferInputTensor.newBuilder()
                        .setName(input.getName())
                        .setDatatype(input.getDatatype())
                        .addShape(1)
                        .setContents(contents));
            }
            requests.add(request.build());
        }
        return requests;
    }

    private static String option(String[] args, String name, String fallback) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }

    private record Result(Histogram latency, double throughput, long errors) {
        void print(String phase) {
            System.out.printf(
                    Locale.ROOT,
                    "%-22s %12.0f %9.3f %9.3f %9.3f %9.3f %8d%n",
                    phase,
                    throughput,
                    latency.getValueAtPercentile(50) / 1e6,
                    latency.getValueAtPercentile(99) / 1e6,
                    latency.getValueAtPercentile(99.9) / 1e6,
                    latency.getMaxValue() / 1e6,
                    errors);
        }
    }
}
