package dev.trellis.modelserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import dev.trellis.common.sched.BulkThreads;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.repository.BundleReader;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse.ModelIndex;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import dev.trellis.proto.inference.RepositoryModelUnloadRequest;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.testing.TlsTesting;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The repository lifecycle, batching and telemetry over an in-process channel, with fake ensembles. */
class ModelServerFakeEnsembleTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path repository;

    private final FakeBundleReader reader = new FakeBundleReader();
    private final InMemoryMetricReader metricReader = InMemoryMetricReader.create();
    private final InMemorySpanExporter spans = InMemorySpanExporter.create();
    private ModelServer server;
    private ManagedChannel channel;
    private GRPCInferenceServiceBlockingStub stub;

    @BeforeEach
    void setUp() {
        FakeBundleReader.install(repository, "churn", 1, "-1.0");
        FakeBundleReader.install(repository, "churn", 2, "corrupt");
    }

    private void start() throws Exception {
        start(false);
    }

    private void start(boolean tls) throws Exception {
        ModelServerConfig config = ModelServerConfig.builder(repository)
                .port(0)
                .metricsPort(0)
                .pollInterval(Duration.ofHours(1))
                .drainTimeout(Duration.ofSeconds(10))
                .batchWorkers(2)
                .adminToken(dev.trellis.common.auth.BearerToken.of(TestTokens.ADMIN))
                .build();
        String name = InProcessServerBuilder.generateName();
        OpenTelemetrySdk openTelemetry = OpenTelemetrySdk.builder()
                .setMeterProvider(SdkMeterProvider.builder()
                        .registerMetricReader(metricReader)
                        .build())
                .setTracerProvider(SdkTracerProvider.builder()
                        .addSpanProcessor(SimpleSpanProcessor.create(spans))
                        .build())
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build();
        Module fakes = new AbstractModule() {
            @Override
            protected void configure() {
                bind(BundleReader.class).toInstance(reader);
                bind(OpenTelemetry.class).toInstance(openTelemetry);
            }
        };
        if (tls) {
            Path cert = repository.resolve("server1.pem");
            Path key = repository.resolve("server1.key");
            Files.copy(TlsTesting.loadCert("server1.pem"), cert);
            Files.copy(TlsTesting.loadCert("server1.key"), key);
            config = config.toBuilder().host("127.0.0.1").tls(cert, key).build();
            server = ModelServer.start(config, ModelServer::nettyTransport, List.of(fakes));
            channel = Grpc.newChannelBuilderForAddress(
                            "127.0.0.1",
                            server.port(),
                            TlsChannelCredentials.newBuilder()
                                    .trustManager(TlsTesting.loadCert("ca.pem"))
                                    .build())
                    .overrideAuthority("foo.test.google.fr")
                    .build();
        } else {
            server = ModelServer.start(config, ignored -> InProcessServerBuilder.forName(name), List.of(fakes));
            channel = InProcessChannelBuilder.forName(name).build();
        }
        server.awaitReady(Duration.ofSeconds(30));
        stub = GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
            server.close();
        }
    }

    private ModelInferResponse infer(String version, FeatureBatch rows, boolean explain) {
        return stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                .modelInfer(TestRows.request("churn", version, rows, explain));
    }

    private List<String> index() {
        return stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance()).getModelsList().stream()
                .map(model -> model.getName() + "/" + model.getVersion() + " " + model.getState())
                .toList();
    }

    private ServingStatus health() {
        return HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder()
                        .setService("inference.GRPCInferenceService")
                        .build())
                .getStatus();
    }

    @Test
    void repositoryIndex_failedVersionHasReasonAndServedVersionStays() throws Exception {
        start();

        List<ModelIndex> models = stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance())
                .getModelsList();
        assertThat(models)
                .extracting(ModelIndex::getVersion, ModelIndex::getState)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("1", "READY"),
                        org.assertj.core.groups.Tuple.tuple("2", "FAILED"));
        assertThat(models.get(1).getReason()).contains("sha256 of xgboost.ubj does not match");
        assertThat(stub.repositoryIndex(RepositoryIndexRequest.newBuilder()
                                .setReady(true)
                                .build())
                        .getModelsList())
                .hasSize(1);
        assertThat(infer("", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false).getModelVersion())
                .isEqualTo("1");
        assertThatThrownBy(() -> infer("2", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE))
                .hasMessageContaining("version 2 is FAILED");
    }

    @Test
    void repositoryModelLoad_retriesFixedVersionAndAppliesPolicy() throws Exception {
        start();
        Files.createDirectories(repository.resolve("churn").resolve("tmp-3"));
        Files.createDirectories(repository.resolve("churn").resolve(".staging"));
        FakeBundleReader.install(repository, "churn", 2, "0.5");

        TestTokens.admin(stub)
                .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                        .setModelName("churn")
                        .build());

        assertThat(index()).containsExactly("churn/1 READY", "churn/2 READY");
        FakeBundleReader.install(repository, "churn", 3, "1.0");
        TestTokens.admin(stub)
                .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                        .setModelName("churn")
                        .build());
        // latest:2 keeps 2 and 3; 1 was drained and closed
        assertThat(index()).containsExactly("churn/1 UNAVAILABLE", "churn/2 READY", "churn/3 READY");
        assertThat(reader.ensemble(repository.resolve("churn").resolve("1")).isClosed())
                .isTrue();
        assertThat(infer("", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false).getModelVersion())
                .isEqualTo("3");
        assertThat(infer("2", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false).getModelVersion())
                .isEqualTo("2");
        assertThatThrownBy(() -> TestTokens.admin(stub)
                        .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                                .setModelName("nope")
                                .build()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    private void awaitInFlight() {
        await("a request in flight on churn/1")
                .atMost(WAIT)
                .pollInterval(Duration.ofMillis(1))
                .until(() -> server.repository().resolve("churn", "1").inFlight() > 0);
    }

    @Test
    void repositoryModelUnload_drainsInFlightRequestsThenUnloads() throws Exception {
        start();
        FakeEnsemble ensemble = reader.ensemble(repository.resolve("churn").resolve("1"));
        ensemble.hold();
        CompletableFuture<ModelInferResponse> inFlight =
                CompletableFuture.supplyAsync(() -> infer("", TestRows.random(FakeEnsemble.SCHEMA, 2, 2), false));
        awaitInFlight();
        CompletableFuture<Void> unload = CompletableFuture.runAsync(() -> TestTokens.admin(stub)
                .repositoryModelUnload(RepositoryModelUnloadRequest.newBuilder()
                        .setModelName("churn")
                        .build()));
        await("churn/1 DRAINING").atMost(WAIT).until(() -> index().contains("churn/1 DRAINING"));
        assertThat(unload).isNotDone();
        assertThatThrownBy(() -> infer("1", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE))
                .hasMessageContaining("DRAINING");

        ensemble.open();

        assertThat(inFlight.get(10, TimeUnit.SECONDS).getModelVersion()).isEqualTo("1");
        unload.get(10, TimeUnit.SECONDS);
        assertThat(index()).containsExactly("churn/1 UNAVAILABLE", "churn/2 FAILED");
        assertThat(ensemble.isClosed()).isTrue();
        assertThat(health()).isEqualTo(ServingStatus.NOT_SERVING);
        server.repository().poll();
        assertThat(index()).contains("churn/1 UNAVAILABLE");

        TestTokens.admin(stub)
                .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                        .setModelName("churn")
                        .build());
        assertThat(health()).isEqualTo(ServingStatus.SERVING);
        assertThat(infer("", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false).getModelVersion())
                .isEqualTo("1");
    }

    @Test
    void close_finishesInFlightRequestsAndRefusesNewOnes() throws Exception {
        start();
        FakeEnsemble ensemble = reader.ensemble(repository.resolve("churn").resolve("1"));
        ensemble.hold();
        CompletableFuture<ModelInferResponse> inFlight =
                CompletableFuture.supplyAsync(() -> infer("", TestRows.random(FakeEnsemble.SCHEMA, 1, 2), false));
        awaitInFlight();
        CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
        // health turns NOT_SERVING first; then the server stops taking calls, health checks included
        await("health NOT_SERVING, then calls refused")
                .atMost(WAIT)
                .pollInterval(Duration.ofMillis(1))
                .until(() -> !servingOrRefusing());
        assertThat(closing).isNotDone();

        ensemble.open();

        assertThat(inFlight.get(10, TimeUnit.SECONDS).getModelVersion()).isEqualTo("1");
        closing.get(10, TimeUnit.SECONDS);
        assertThat(ensemble.isClosed()).isTrue();
        assertThatThrownBy(() -> infer("", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    }

    private boolean servingOrRefusing() {
        try {
            return health() == ServingStatus.SERVING;
        } catch (StatusRuntimeException e) {
            return false;
        }
    }

    @Test
    void start_servesTls() throws Exception {
        start(true);

        assertThat(server.port()).isPositive();
        assertThat(infer("", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false).getModelVersion())
                .isEqualTo("1");
        assertThat(health()).isEqualTo(ServingStatus.SERVING);
    }

    @Test
    void loading_readsAndWarmsUpAtLowPriorityWhileInteractiveRowsScoreAtNormalPriority() throws Exception {
        int callerNice = BulkThreads.currentNice();
        assertThat(callerNice).as("the test runs above bulk priority").isLessThan(BulkThreads.NICE);
        start();
        Path version = repository.resolve("churn").resolve("1");
        FakeEnsemble ensemble = reader.ensemble(version);
        List<Integer> warmUp = ensemble.nices();

        infer("", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false);

        assertThat(reader.loadNice(version)).isEqualTo(BulkThreads.NICE);
        assertThat(warmUp).isNotEmpty().containsOnly(BulkThreads.NICE);
        assertThat(ensemble.nices()).hasSize(warmUp.size() + 1).last().isEqualTo(callerNice);
    }

    @Test
    void modelInfer_contributionsAddUpToTheLogit() throws Exception {
        start();
        FeatureBatch rows = TestRows.random(FakeEnsemble.SCHEMA, 3, 7);

        ModelInferResponse response = infer("", rows, true);

        var contributions = TestRows.output(response, "contributions");
        assertThat(contributions.getShapeList()).containsExactly(3L, 5L);
        assertThat(contributions.getParametersMap().get("columns").getStringParam())
                .isEqualTo("tenure,monthly_charges,plan,mlp,bias");
        for (int row = 0; row < 3; row++) {
            double sum = 0;
            for (int column = 0; column < 5; column++) {
                sum += contributions.getContents().getFp32Contents(row * 5 + column);
            }
            double logit = FakeEnsemble.logit(-1, rows.numeric(0)[row], rows.numeric(1)[row], rows.categorical(2)[row]);
            assertThat(sum).isCloseTo(logit, within(1e-5));
        }
    }

    @Test
    void modelInfer_honoursRequestedOutputs() throws Exception {
        start();
        ModelInferRequest request =
                TestRows.request("churn", "", TestRows.random(FakeEnsemble.SCHEMA, 2, 1), false).toBuilder()
                        .setId("req-7")
                        .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                                .setName("label"))
                        .build();

        ModelInferResponse response = stub.modelInfer(request);

        assertThat(response.getOutputsList()).extracting(o -> o.getName()).containsExactly("label");
        assertThat(response.getId()).isEqualTo("req-7");
    }

    @Test
    void modelInfer_recordsMetricsAndContinuesTheCallersTrace() throws Exception {
        start();
        Metadata headers = new Metadata();
        headers.put(
                Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER),
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .modelInfer(TestRows.request("churn", "", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false));
        assertThatThrownBy(() -> infer("9", TestRows.random(FakeEnsemble.SCHEMA, 1, 1), false))
                .isInstanceOf(StatusRuntimeException.class);

        // the server span ends when the call closes on the server's executor, after the answer went out
        SpanData span = org.awaitility.Awaitility.await()
                .atMost(java.time.Duration.ofSeconds(30))
                .until(
                        () -> spans.getFinishedSpanItems().stream()
                                .filter(data -> data.getTraceId().equals("0af7651916cd43dd8448eb211c80319c"))
                                .findFirst(),
                        java.util.Optional::isPresent)
                .orElseThrow();
        assertThat(span.getName()).isEqualTo("inference.GRPCInferenceService/ModelInfer");
        assertThat(span.getParentSpanId()).isEqualTo("b7ad6b7169203331");
        assertThat(span.getAttributes().asMap().toString()).contains("trellis.model=churn");
        List<String> metrics = metricReader.collectAllMetrics().stream()
                .map(MetricData::getName)
                .toList();
        assertThat(metrics)
                .contains(
                        "grpc.server.call.started",
                        "grpc.server.call.duration",
                        "trellis.modelserver.batch.size",
                        "trellis.modelserver.queue.delay",
                        "trellis.modelserver.versions.loaded");
        MetricData calls = metricReader.collectAllMetrics().stream()
                .filter(m -> m.getName().equals("grpc.server.call.duration"))
                .findFirst()
                .orElseThrow();
        assertThat(calls.getUnit()).isEqualTo("s");
        assertThat(calls.getHistogramData().getPoints())
                .anySatisfy(point -> assertThat(point.getAttributes().asMap().toString())
                        .contains("NOT_FOUND")
                        .contains("ModelInfer"));
    }
}
