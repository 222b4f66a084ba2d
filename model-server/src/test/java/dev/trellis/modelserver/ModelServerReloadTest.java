package dev.trellis.modelserver;

import static dev.trellis.modelserver.StatusAssertions.assertFails;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse.ModelIndex;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import dev.trellis.proto.inference.RepositoryModelUnloadRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Versions come and go under steady traffic: a new version takes over once READY without a single
 * failed request, a corrupted version is refused while serving continues, and a fixed bundle at a
 * new version number loads normally. Real bundles, real Netty loopback port.
 */
class ModelServerReloadTest {
    private static final String MODEL = "churn";
    private static final Duration BOUND = Duration.ofMinutes(3);

    @TempDir
    Path repository;

    private ModelServer server;
    private ManagedChannel channel;

    @AfterEach
    void tearDown() throws InterruptedException {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    private GRPCInferenceServiceBlockingStub stub() {
        return GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private Optional<ModelIndex> indexEntry(int version) {
        return stub().repositoryIndex(RepositoryIndexRequest.getDefaultInstance()).getModelsList().stream()
                .filter(entry -> entry.getVersion().equals(String.valueOf(version)))
                .findFirst();
    }

    private static void await(String what, BooleanSupplier condition) {
        Awaitility.await(what).atMost(BOUND).pollInterval(Duration.ofMillis(20)).until(condition::getAsBoolean);
    }

    @Test
    void modelInfer_newVersionsTakeOverUnderLoadWithoutFailures() throws Exception {
        TestBundles.install(repository, MODEL, 1, 42);
        server = ModelServer.start(ModelServerConfig.builder(repository)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .pollInterval(Duration.ofMillis(100))
                .adminToken(dev.trellis.common.auth.BearerToken.of(TestTokens.ADMIN))
                .build());
        server.awaitReady(BOUND);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port())
                .usePlaintext()
                .build();
        FeatureSchema schema;
        try (LoadedBundle bundle = BundleLoader.load(repository.resolve(MODEL).resolve("1"))) {
            schema = bundle.ensemble().schema();
        }
        ModelInferRequest request = TestRows.request(MODEL, "", TestRows.random(schema, 1, 1), false);

        AtomicBoolean running = new AtomicBoolean(true);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        Map<String, AtomicInteger> servedBy = new ConcurrentHashMap<>();
        List<String> regressions = new CopyOnWriteArrayList<>();
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Thread client = new Thread(
                    () -> {
                        int highest = 0;
                        while (running.get()) {
                            try {
                                ModelInferResponse response = stub().modelInfer(request);
                                int version = Integer.parseInt(response.getModelVersion());
                                servedBy.computeIfAbsent(response.getModelVersion(), ignored -> new AtomicInteger())
                                        .incrementAndGet();
                                if (version < highest) {
                                    regressions.add("version " + version + " after " + highest);
                                }
                                highest = Math.max(highest, version);
                                Thread.sleep(1);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                return;
                            } catch (RuntimeException e) {
                                failures.add(e);
                            }
                        }
                    },
                    "steady-client-" + i);
            client.start();
            clients.add(client);
        }
        try {
            await("traffic on version 1", () -> servedBy.containsKey("1"));

            // a new version appears while requests stream
            TestBundles.install(repository, MODEL, 2, 7);
            await("requests moving to version 2", () -> servedBy.containsKey("2"));
            int servedByTwo = servedBy.get("2").get();
            await("more traffic on version 2", () -> servedBy.get("2").get() > servedByTwo + 20);

            // a corrupted version is refused and serving continues on version 2
            installCorrupted(repository, 3);
            await(
                    "version 3 FAILED",
                    () -> indexEntry(3)
                            .map(entry -> entry.getState().equals("FAILED"))
                            .orElse(false));
            assertThat(indexEntry(3).orElseThrow().getReason()).contains("sha256 mismatch for lightgbm.txt");
            int afterFailure = servedBy.get("2").get();
            await(
                    "traffic on version 2 after the refusal",
                    () -> servedBy.get("2").get() > afterFailure + 20);
            assertThat(servedBy).doesNotContainKey("3");

            // the fixed bundle ships as a new version number and takes over; latest:2 then drains version 1
            TestBundles.install(repository, MODEL, 4, 42);
            await("requests moving to version 4", () -> servedBy.containsKey("4"));
            await(
                    "version 1 unloaded",
                    () -> indexEntry(1)
                            .map(entry -> entry.getState().equals("UNAVAILABLE"))
                            .orElse(false));
            int servedByFour = servedBy.get("4").get();
            await("more traffic on version 4", () -> servedBy.get("4").get() > servedByFour + 20);
        } finally {
            running.set(false);
            for (Thread client : clients) {
                client.join(TimeUnit.SECONDS.toMillis(30));
            }
        }

        assertThat(failures).isEmpty();
        assertThat(regressions).isEmpty();
        assertThat(indexEntry(2).orElseThrow().getState()).isEqualTo("READY");
        assertThat(indexEntry(4).orElseThrow().getState()).isEqualTo("READY");
        // the A/B pair stays addressable by version
        assertThat(stub().modelInfer(request.toBuilder().setModelVersion("2").build())
                        .getModelVersion())
                .isEqualTo("2");
        assertFails(
                () -> stub().modelInfer(request.toBuilder().setModelVersion("3").build()),
                Status.Code.UNAVAILABLE,
                "version 3 is FAILED");

        // unload drains everything and health follows; load brings the model back
        TestTokens.admin(stub())
                .repositoryModelUnload(RepositoryModelUnloadRequest.newBuilder()
                        .setModelName(MODEL)
                        .build());
        assertThat(HealthGrpc.newBlockingStub(channel)
                        .check(HealthCheckRequest.getDefaultInstance())
                        .getStatus())
                .isEqualTo(ServingStatus.NOT_SERVING);
        assertFails(() -> stub().modelInfer(request), Status.Code.UNAVAILABLE, "no READY version");
        TestTokens.admin(stub())
                .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                        .setModelName(MODEL)
                        .build());
        assertThat(HealthGrpc.newBlockingStub(channel)
                        .check(HealthCheckRequest.getDefaultInstance())
                        .getStatus())
                .isEqualTo(ServingStatus.SERVING);
        assertThat(stub().modelInfer(request).getModelVersion()).isEqualTo("4");
    }

    /** Installs, atomically, a copy of version 1 as {@code version} with a model file that no longer matches its checksum. */
    private static void installCorrupted(Path repository, int version) throws IOException {
        Path staging = Files.createTempDirectory(repository.resolve(MODEL), ".staging-");
        try (Stream<Path> files = Files.list(repository.resolve(MODEL).resolve("1"))) {
            for (Path file : files.toList()) {
                Files.copy(file, staging.resolve(file.getFileName()));
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode manifest =
                (ObjectNode) json.readTree(staging.resolve("bundle.json").toFile());
        manifest.put("version", version);
        json.writeValue(staging.resolve("bundle.json").toFile(), manifest);
        Files.writeString(staging.resolve("lightgbm.txt"), "\n# tampered\n", StandardOpenOption.APPEND);
        Files.move(staging, repository.resolve(MODEL).resolve(String.valueOf(version)), StandardCopyOption.ATOMIC_MOVE);
    }
}
