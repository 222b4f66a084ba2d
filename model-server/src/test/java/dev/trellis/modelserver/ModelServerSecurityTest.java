package dev.trellis.modelserver;

import static dev.trellis.modelserver.StatusAssertions.assertFails;
import static dev.trellis.modelserver.StatusAssertions.errorInfo;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.inject.AbstractModule;
import com.google.inject.Module;
import dev.trellis.common.auth.Access;
import dev.trellis.common.auth.BearerToken;
import dev.trellis.common.testing.RawCalls;
import dev.trellis.common.testing.TestPki;
import dev.trellis.modelserver.auth.ModelServerAccess;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.repository.BundleReader;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Credentials and mutual TLS on the model-server's real Netty port, with fake ensembles: who may
 * call what, what a refusal looks like, that it is counted, and that the server keeps serving.
 */
class ModelServerSecurityTest {
    @TempDir
    Path repository;

    @TempDir
    Path certificates;

    private final FakeBundleReader reader = new FakeBundleReader();
    private final InMemoryMetricReader metricReader = InMemoryMetricReader.create();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private ModelServer server;

    @AfterEach
    void tearDown() {
        channels.forEach(ManagedChannel::shutdownNow);
        if (server != null) {
            server.close();
        }
    }

    private void start(UnaryOperator<ModelServerConfig.Builder> configure) throws Exception {
        FakeBundleReader.install(repository, "churn", 1, "-1.0");
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
        ModelServerConfig config = configure
                .apply(ModelServerConfig.builder(repository)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .pollInterval(Duration.ofHours(1)))
                .build();
        server = ModelServer.start(config, ModelServer::nettyTransport, List.of(fakes));
        server.awaitReady(Duration.ofSeconds(30));
    }

    private ManagedChannel channel(ChannelCredentials credentials) {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", server.port(), credentials)
                .build();
        channels.add(channel);
        return channel;
    }

    private static GRPCInferenceServiceBlockingStub stub(Channel channel) {
        return GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static Channel withAuthorization(Channel channel, String authorization) {
        if (authorization == null) {
            return channel;
        }
        Metadata headers = new Metadata();
        headers.put(dev.trellis.common.auth.BearerAuthInterceptor.AUTHORIZATION, authorization);
        return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    private static ModelInferRequest inferRequest() {
        return TestRows.request("churn", "", TestRows.random(FakeEnsemble.SCHEMA, 1, 3), false);
    }

    /** Every method of the inference service the policy says needs the admin token, as registered. */
    private List<MethodDescriptor<?, ?>> adminMethods() {
        return server.services().stream()
                .flatMap(service -> service.getMethods().stream())
                .filter(method -> ModelServerAccess.POLICY.access(method) == Access.ADMIN)
                .<MethodDescriptor<?, ?>>map(method -> method)
                .toList();
    }

    @Test
    void services_everyServedMethodIsClassified() throws Exception {
        start(config -> config.adminToken(BearerToken.of(TestTokens.ADMIN)));

        List<String> unclassified = new ArrayList<>();
        List<String> all = new ArrayList<>();
        for (ServiceDescriptor service : server.services()) {
            for (MethodDescriptor<?, ?> method : service.getMethods()) {
                all.add(method.getFullMethodName());
                if (ModelServerAccess.POLICY.listed(method).isEmpty()) {
                    unclassified.add(method.getFullMethodName());
                }
            }
        }

        assertThat(all)
                .contains(
                        "inference.GRPCInferenceService/ModelInfer",
                        "inference.GRPCInferenceService/RepositoryModelUnload",
                        "grpc.health.v1.Health/Check",
                        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
        assertThat(unclassified)
                .as("methods without a line in ModelServerAccess")
                .isEmpty();
        assertThat(adminMethods())
                .extracting(MethodDescriptor::getBareMethodName)
                .containsExactlyInAnyOrder("RepositoryModelLoad", "RepositoryModelUnload");
    }

    @Test
    void repositoryMutations_withoutOrWithAWrongToken_areRefusedAndCounted() throws Exception {
        start(config -> config.adminToken(BearerToken.of(TestTokens.ADMIN)));
        ManagedChannel channel = channel(InsecureChannelCredentials.create());

        for (MethodDescriptor<?, ?> method : adminMethods()) {
            assertThat(RawCalls.code(channel, method, new byte[0]))
                    .as(method.getFullMethodName())
                    .isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(RawCalls.code(withAuthorization(channel, "Bearer wrong"), method, new byte[0]))
                    .as(method.getFullMethodName())
                    .isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(RawCalls.code(withAuthorization(channel, "Bearer " + TestTokens.INFERENCE), method, new byte[0]))
                    .as(method.getFullMethodName())
                    .isEqualTo(Status.Code.PERMISSION_DENIED);
        }
        com.google.rpc.Status refused = assertFails(
                () -> stub(channel)
                        .repositoryModelUnload(dev.trellis.proto.inference.RepositoryModelUnloadRequest.newBuilder()
                                .setModelName("churn")
                                .build()),
                Status.Code.UNAUTHENTICATED,
                "RepositoryModelUnload needs the admin credential");
        assertThat(errorInfo(refused).orElseThrow().getReason()).isEqualTo("MISSING_CREDENTIAL");
        assertThat(errorInfo(refused).orElseThrow().getDomain()).isEqualTo("modelserver.trellis.dev");

        // nothing was unloaded, and the admin token works
        assertThat(stub(channel)
                        .repositoryIndex(RepositoryIndexRequest.getDefaultInstance())
                        .getModels(0)
                        .getState())
                .isEqualTo("READY");
        assertThat(stub(channel).modelInfer(inferRequest()).getModelVersion()).isEqualTo("1");
        TestTokens.admin(stub(channel))
                .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                        .setModelName("churn")
                        .build());
        // every status is counted by the standard gRPC instrumentation, refusals by the auth check included
        assertThat(callPoints())
                .anySatisfy(point ->
                        assertThat(point).contains("RepositoryModelUnload").contains("UNAUTHENTICATED"))
                .anySatisfy(point ->
                        assertThat(point).contains("RepositoryModelLoad").contains("PERMISSION_DENIED"));
        assertThat(points("trellis.modelserver.auth.denied"))
                .anySatisfy(point -> assertThat(point).contains("WRONG_CREDENTIAL"))
                .anySatisfy(point -> assertThat(point).contains("MISSING_CREDENTIAL"));
    }

    @Test
    void repositoryMutations_withoutAnAdminTokenConfigured_areRefused_pollingStillLoads() throws Exception {
        start(config -> config);
        ManagedChannel channel = channel(InsecureChannelCredentials.create());

        assertFails(
                () -> TestTokens.admin(stub(channel))
                        .repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                                .setModelName("churn")
                                .build()),
                Status.Code.UNAUTHENTICATED,
                "--admin-token-file");
        FakeBundleReader.install(repository, "churn", 2, "0.5");
        server.repository().poll();

        assertThat(stub(channel).modelInfer(inferRequest()).getModelVersion()).isEqualTo("2");
    }

    @Test
    void modelInfer_withAnInferenceToken_needsItOrTheAdminToken() throws Exception {
        start(config -> config.adminToken(BearerToken.of(TestTokens.ADMIN))
                .inferenceToken(BearerToken.of(TestTokens.INFERENCE)));
        ManagedChannel channel = channel(InsecureChannelCredentials.create());

        assertFails(() -> stub(channel).modelInfer(inferRequest()), Status.Code.UNAUTHENTICATED, "inference");
        assertFails(
                () -> TestTokens.bearer(stub(channel), "wrong").modelInfer(inferRequest()),
                Status.Code.PERMISSION_DENIED,
                "the inference token does not match");

        assertThat(TestTokens.bearer(stub(channel), TestTokens.INFERENCE)
                        .modelInfer(inferRequest())
                        .getModelVersion())
                .isEqualTo("1");
        assertThat(TestTokens.admin(stub(channel)).modelInfer(inferRequest()).getModelVersion())
                .isEqualTo("1");
        // reads stay open: the router discovers schemas and readiness without a token
        assertThat(stub(channel)
                        .modelMetadata(ModelMetadataRequest.newBuilder()
                                .setName("churn")
                                .build())
                        .getInputsCount())
                .isEqualTo(3);
    }

    @Test
    void mutualTls_acceptsAClientOfItsCa_refusesNoCertificateOrAnotherCas() throws Exception {
        TestPki pki = TestPki.create(certificates, "trellis");
        TestPki other = TestPki.create(certificates, "other");
        TestPki.Pem serverPem = pki.server("model-server");
        start(config ->
                config.tls(serverPem.certificate(), serverPem.privateKey()).tlsClientCa(pki.caCertificate()));

        assertThat(stub(channel(pki.channelCredentials(pki.client("router"))))
                        .modelInfer(inferRequest())
                        .getModelVersion())
                .isEqualTo("1");
        for (ChannelCredentials refused :
                List.of(pki.channelCredentials(null), pki.channelCredentials(other.client("intruder")))) {
            assertFails(() -> stub(channel(refused)).modelInfer(inferRequest()), Status.Code.UNAVAILABLE);
        }
        assertThat(stub(channel(pki.channelCredentials(pki.client("router"))))
                        .modelInfer(inferRequest())
                        .getModelVersion())
                .isEqualTo("1");
    }

    private List<String> callPoints() {
        return metricReader.collectAllMetrics().stream()
                .filter(m -> m.getName().equals("grpc.server.call.duration"))
                .flatMap(data -> data.getHistogramData().getPoints().stream())
                .map(point -> point.getAttributes().asMap().toString())
                .toList();
    }

    private List<String> points(String metric) {
        return metricReader.collectAllMetrics().stream()
                .filter(m -> m.getName().equals(metric))
                .map(MetricData::getLongSumData)
                .flatMap(data -> data.getPoints().stream())
                .map(point -> point.getAttributes().asMap().toString())
                .toList();
    }
}
