package dev.trellis.modelserver;

import static dev.trellis.modelserver.StatusAssertions.assertFails;
import static dev.trellis.modelserver.StatusAssertions.violations;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import com.google.rpc.BadRequest;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.common.control.ModelControl;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import dev.trellis.modelserver.repository.BundleReader;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelRepositoryParameter;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse.ModelIndex;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Explicit model control and the integrity of loaded versions, over an in-process channel with fake
 * ensembles: the versions the control plane holds (RepositoryModelLoad with Triton's "config") stay
 * loaded whatever the version policy says; a loaded version whose files change is STALE, keeps
 * serving while held, and is unloaded once released. Polls are triggered by hand.
 */
class ModelServerControlTest {
    @TempDir
    Path repository;

    private final FakeBundleReader reader = new FakeBundleReader();
    private final InMemoryMetricReader metricReader = InMemoryMetricReader.create();
    private ModelServer server;
    private ManagedChannel channel;
    private GRPCInferenceServiceBlockingStub stub;

    @BeforeEach
    void setUp() throws Exception {
        FakeBundleReader.install(repository, "churn", 1, "-1.0");
        FakeBundleReader.install(repository, "churn", 2, "0.0");
        ModelServerConfig config = ModelServerConfig.builder(repository)
                .port(0)
                .metricsPort(0)
                .defaultVersionPolicy(VersionPolicy.parse("latest:1"))
                .pollInterval(Duration.ofHours(1))
                .drainTimeout(Duration.ofSeconds(10))
                .adminToken(BearerToken.of(TestTokens.ADMIN))
                .build();
        OpenTelemetrySdk openTelemetry = OpenTelemetrySdk.builder()
                .setMeterProvider(SdkMeterProvider.builder()
                        .registerMetricReader(metricReader)
                        .build())
                .build();
        Module fakes = new AbstractModule() {
            @Override
            protected void configure() {
                bind(BundleReader.class).toInstance(reader);
                bind(OpenTelemetry.class).toInstance(openTelemetry);
            }
        };
        String name = InProcessServerBuilder.generateName();
        server = ModelServer.start(config, ignored -> InProcessServerBuilder.forName(name), List.of(fakes));
        channel = InProcessChannelBuilder.forName(name).build();
        server.awaitReady(Duration.ofSeconds(30));
        // the router's control plane presents the model-server's admin token (--upstream-token-file)
        stub = TestTokens.admin(GRPCInferenceServiceGrpc.newBlockingStub(channel));
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void repositoryModelLoad_heldVersionsStayLoadedWhateverThePolicy() {
        assertThat(index())
                .containsExactly(
                        "churn/1 UNAVAILABLE not loaded: outside version policy latest:1",
                        "churn/2 READY version policy latest:1");

        hold(1, 2);
        assertThat(index())
                .containsExactly(
                        "churn/1 READY " + ModelControl.HELD_REASON,
                        "churn/2 READY " + ModelControl.HELD_REASON + "; version policy latest:1");

        // a new version: the policy moves to it, the held ones stay
        FakeBundleReader.install(repository, "churn", 3, "1.0");
        server.repository().poll();
        assertThat(states()).containsExactly("churn/1 READY", "churn/2 READY", "churn/3 READY");
        assertThat(infer("1").getModelVersion()).isEqualTo("1");
        assertThat(infer("").getModelVersion()).isEqualTo("3");

        // a version leaves the held set: the policy governs it again and unloads it
        hold(1);
        assertThat(states()).containsExactly("churn/1 READY", "churn/2 UNAVAILABLE", "churn/3 READY");
        assertThat(reader.ensemble(repository.resolve("churn").resolve("2")).isClosed())
                .isTrue();
        hold();
        assertThat(states()).containsExactly("churn/1 UNAVAILABLE", "churn/2 UNAVAILABLE", "churn/3 READY");
        assertThat(server.repository().heldVersions("churn")).isEmpty();
    }

    @Test
    void repositoryModelLoad_badParametersOrVersions_preciseStatusAndServingContinues() {
        FakeBundleReader.install(repository, "churn", 4, "corrupt");
        BadRequest.FieldViolation unknown = violations(assertFails(
                        () -> stub.repositoryModelLoad(load("versions", string("1,2"))),
                        Status.Code.INVALID_ARGUMENT,
                        "unknown parameter 'versions'"))
                .get(0);
        assertThat(unknown.getField()).isEqualTo("parameters[versions]");
        for (ModelRepositoryParameter config : List.of(
                string("{not json"),
                string("{\"max_batch_size\":8}"),
                string("{\"version_policy\":{\"latest\":{\"num_versions\":2}}}"),
                string("{\"version_policy\":{\"specific\":{\"versions\":[\"two\"]}}}"),
                ModelRepositoryParameter.newBuilder().setInt64Param(1).build())) {
            assertThat(violations(assertFails(
                            () -> stub.repositoryModelLoad(load(ModelControl.CONFIG_PARAMETER, config)),
                            Status.Code.INVALID_ARGUMENT)))
                    .extracting(BadRequest.FieldViolation::getField)
                    .as(config.toString())
                    .containsExactly("parameters[config]");
        }

        assertFails(() -> hold(2, 7), Status.Code.NOT_FOUND, "version 7 is not in the repository");
        assertFails(
                () -> hold(2, 4),
                Status.Code.FAILED_PRECONDITION,
                "version 4 is FAILED",
                "sha256 of xgboost.ubj does not match");
        assertFails(() -> stub.repositoryModelLoad(hold("nope", 1)), Status.Code.NOT_FOUND, "model 'nope' not found");

        // the hold is recorded for what exists; nothing that served stopped
        assertThat(server.repository().heldVersions("churn")).containsExactly(2, 4);
        assertThat(infer("2").getModelVersion()).isEqualTo("2");
        assertThat(infer("").getModelVersion()).isEqualTo("2");
    }

    @Test
    void poll_heldVersionsFilesChange_staleKeepsServingFromMemoryUntilReleased() throws Exception {
        hold(2);
        double before = score(infer("2"));
        Files.writeString(repository.resolve("churn").resolve("2").resolve("bundle.json"), "3.0");
        server.repository().poll();

        ModelIndex stale = entry(2);
        assertThat(stale.getState()).isEqualTo("STALE");
        assertThat(stale.getReason())
                .contains("bundle.json changed (sha256 differs from the loaded copy)")
                .contains(ModelControl.HELD_REASON);
        assertThat(score(infer("2"))).as("served from the copy in memory").isEqualTo(before);
        assertThat(staleGauge()).isEqualTo(1);
        assertThat(stub.repositoryIndex(RepositoryIndexRequest.newBuilder()
                                .setReady(true)
                                .build())
                        .getModelsList())
                .extracting(ModelIndex::getVersion)
                .contains("2");

        // released: drained and unloaded, and polling does not reload it from the changed files
        hold();
        server.repository().poll();
        ModelIndex released = entry(2);
        assertThat(released.getState()).isEqualTo("FAILED");
        assertThat(released.getReason()).contains("files changed on disk while it was loaded");
        assertFails(() -> infer("2"), Status.Code.UNAVAILABLE, "version 2 is FAILED");
        assertThat(staleGauge()).isZero();
        // the policy falls back to version 1 for requests without a version
        assertThat(infer("").getModelVersion()).isEqualTo("1");
    }

    @Test
    void poll_heldVersionsFolderRemoved_staleKeepsServingAndReadyVersionsComeFirst() throws IOException {
        hold(2);
        deleteRecursively(repository.resolve("churn").resolve("2"));
        server.repository().poll();

        ModelIndex stale = entry(2);
        assertThat(stale.getState()).isEqualTo("STALE");
        assertThat(stale.getReason()).contains("the version folder was removed from the repository");
        assertThat(infer("2").getModelVersion()).isEqualTo("2");
        // version 1 is the policy's choice now that 2 left the disk; unversioned requests prefer READY
        assertThat(entry(1).getState()).isEqualTo("READY");
        assertThat(infer("").getModelVersion()).isEqualTo("1");
    }

    @Test
    void poll_filesRestored_staleBecomesReadyAgain() throws IOException {
        hold(2);
        Path bundle = repository.resolve("churn").resolve("2").resolve("bundle.json");
        Files.writeString(bundle, "3.0");
        server.repository().poll();
        assertThat(entry(2).getState()).isEqualTo("STALE");

        Files.writeString(bundle, "0.0");
        server.repository().poll();
        assertThat(entry(2).getState()).isEqualTo("READY");
    }

    private void hold(int... versions) {
        stub.repositoryModelLoad(hold("churn", versions));
    }

    private static RepositoryModelLoadRequest hold(String model, int... versions) {
        return load(
                model,
                ModelControl.CONFIG_PARAMETER,
                string(ModelControl.heldVersionsConfig(
                        java.util.Arrays.stream(versions).boxed().toList())));
    }

    private static RepositoryModelLoadRequest load(String parameter, ModelRepositoryParameter value) {
        return load("churn", parameter, value);
    }

    private static RepositoryModelLoadRequest load(String model, String parameter, ModelRepositoryParameter value) {
        return RepositoryModelLoadRequest.newBuilder()
                .setModelName(model)
                .putAllParameters(Map.of(parameter, value))
                .build();
    }

    private static ModelRepositoryParameter string(String value) {
        return ModelRepositoryParameter.newBuilder().setStringParam(value).build();
    }

    private ModelInferResponse infer(String version) {
        return stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                .modelInfer(TestRows.request("churn", version, TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false));
    }

    private static double score(ModelInferResponse response) {
        return TestRows.output(response, "score").getContents().getFp32Contents(0);
    }

    private List<ModelIndex> entries() {
        return stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                .repositoryIndex(RepositoryIndexRequest.getDefaultInstance())
                .getModelsList();
    }

    private ModelIndex entry(int version) {
        return entries().stream()
                .filter(e -> e.getVersion().equals(String.valueOf(version)))
                .findFirst()
                .orElseThrow();
    }

    private List<String> index() {
        return entries().stream()
                .map(e -> e.getName() + "/" + e.getVersion() + " " + e.getState() + " " + e.getReason())
                .toList();
    }

    private List<String> states() {
        return entries().stream()
                .map(e -> e.getName() + "/" + e.getVersion() + " " + e.getState())
                .collect(Collectors.toList());
    }

    private long staleGauge() {
        return metricReader.collectAllMetrics().stream()
                .filter(m -> m.getName().equals("trellis.modelserver.versions.stale"))
                .flatMap(m -> m.getLongGaugeData().getPoints().stream())
                .mapToLong(LongPointData::getValue)
                .sum();
    }

    private static void deleteRecursively(Path path) throws IOException {
        try (Stream<Path> files = Files.walk(path)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
