package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.Priority;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.auth.Access;
import dev.trellis.common.grpc.WireError;
import dev.trellis.common.testing.RawCalls;
import dev.trellis.common.testing.TestPki;
import dev.trellis.ensemble.testing.TestBundles;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.router.auth.AuthInterceptor;
import dev.trellis.router.auth.RouterAccess;
import dev.trellis.router.config.RouterConfig;
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
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The router's public port, deny by default: every served method classified, admin methods
 * refused without or with a wrong token (logged, counted), unparseable bytes, mutual TLS on both
 * hops with certificates generated in the test.
 */
class RouterSecurityTest {
    @TempDir
    Path temp;

    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private RouterServer router;

    @AfterEach
    void tearDown() throws Exception {
        channels.forEach(ManagedChannel::shutdownNow);
        if (router != null) {
            router.close();
        }
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private FakeReplica replica() throws Exception {
        FakeReplica replica = new FakeReplica();
        closeables.add(replica);
        return replica;
    }

    /** A router with TLS on its public port (a server certificate of {@code pki}) over a fake replica. */
    private void startTlsRouter(TestPki pki, UnaryOperator<RouterConfig.Builder> configure) throws Exception {
        TestPki.Pem server = pki.server("router");
        startRouter(
                List.of(replica().address()),
                config -> configure.apply(config.tlsCert(server.certificate()).tlsKey(server.privateKey())));
    }

    private void startRouter(List<String> upstreams, UnaryOperator<RouterConfig.Builder> configure) {
        router = RouterServer.start(configure
                .apply(RouterConfig.builder()
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .upstreams(upstreams)
                        .store(temp.resolve("trellis.db"))
                        .adminToken(Cluster.ADMIN_TOKEN)
                        .catalogRefresh(Duration.ofMillis(200)))
                .build());
    }

    private ManagedChannel channel(ChannelCredentials credentials) {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", router.port(), credentials)
                .build();
        channels.add(channel);
        return channel;
    }

    private static Channel withAuthorization(Channel channel, String authorization) {
        Metadata headers = new Metadata();
        headers.put(AuthInterceptor.AUTHORIZATION, authorization);
        return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    private static ScoreRequest scoreRequest() {
        return ScoreRequest.newBuilder()
                .setModel("m")
                .putFeatures("x", Value.newBuilder().setNumberValue(1).build())
                .build();
    }

    @Test
    void services_everyMethodIsClassified_adminMethodsRefuseAnonymousAndWrongTokens() throws Exception {
        int metricsPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            metricsPort = socket.getLocalPort();
        }
        int port = metricsPort;
        startRouter(List.of(replica().address()), config -> config.metricsPort(port));
        ManagedChannel channel = channel(InsecureChannelCredentials.create());

        List<String> unclassified = new ArrayList<>();
        List<String> admin = new ArrayList<>();
        for (ServiceDescriptor service : router.services()) {
            for (MethodDescriptor<?, ?> method : service.getMethods()) {
                if (RouterAccess.POLICY.listed(method).isEmpty()) {
                    unclassified.add(method.getFullMethodName());
                }
                if (!service.getName().equals(ExperimentsGrpc.SERVICE_NAME)) {
                    continue;
                }
                Status.Code anonymous = RawCalls.code(channel, method, new byte[0]);
                if (RouterAccess.POLICY.access(method) == Access.ADMIN) {
                    admin.add(method.getBareMethodName());
                    assertThat(anonymous).as(method.getFullMethodName()).isEqualTo(Status.Code.UNAUTHENTICATED);
                    assertThat(RawCalls.code(withAuthorization(channel, "Bearer not-the-token"), method, new byte[0]))
                            .as(method.getFullMethodName())
                            .isEqualTo(Status.Code.PERMISSION_DENIED);
                } else {
                    assertThat(anonymous)
                            .as(method.getFullMethodName() + " is a read")
                            .isNotIn(Status.Code.UNAUTHENTICATED, Status.Code.PERMISSION_DENIED);
                }
            }
        }

        assertThat(unclassified).as("methods without a line in RouterAccess").isEmpty();
        assertThat(admin)
                .contains("PutExperiment", "StartRollout", "AbortRollout", "SetDefaultVersion", "RecordOutcomes")
                .doesNotContain("ListExperiments", "GetResults", "ExplainAssignment");
        StatusRuntimeException refused = catchThrowableOfType(
                StatusRuntimeException.class,
                () -> RawCalls.unary(channel, ExperimentsGrpc.getPutExperimentMethod(), new byte[0]));
        assertThat(WireError.from(refused).reason()).isEqualTo("MISSING_CREDENTIAL");
        String metrics = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
        List<String> lines = metrics.lines().toList();
        assertThat(lines)
                .anySatisfy(line -> assertThat(line)
                        .startsWith("grpc_server_call_duration_seconds_count{")
                        .contains("grpc_method=\"trellis.v1.Experiments/PutExperiment\"")
                        .contains("grpc_status=\"UNAUTHENTICATED\""))
                .anySatisfy(line -> assertThat(line)
                        .startsWith("trellis_router_auth_denied_total{")
                        .contains("reason=\"WRONG_CREDENTIAL\""))
                .anySatisfy(line -> assertThat(line)
                        .startsWith("trellis_router_auth_denied_total{")
                        .contains("reason=\"MISSING_CREDENTIAL\""));
    }

    @Test
    void score_bytesThatDoNotParse_invalidArgumentThenHealthyAndScoring() throws Exception {
        startRouter(List.of(replica().address()), config -> config);
        ManagedChannel channel = channel(InsecureChannelCredentials.create());
        assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();

        // ScoreRequest.model (field 1, a string) holding invalid UTF-8, then plain garbage
        for (byte[] body : List.of(new byte[] {0x0A, 0x01, (byte) 0xFF}, new byte[] {(byte) 0xFF, (byte) 0xFF})) {
            StatusRuntimeException failure = catchThrowableOfType(
                    StatusRuntimeException.class, () -> RawCalls.unary(channel, ScoringGrpc.getScoreMethod(), body));
            assertThat(failure.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(failure.getStatus().getDescription())
                    .startsWith("request could not be parsed as trellis.v1.ScoreRequest");
            assertThat(WireError.from(failure).reason()).isEqualTo("MALFORMED_REQUEST");
            assertThat(HealthGrpc.newBlockingStub(channel)
                            .withDeadlineAfter(10, TimeUnit.SECONDS)
                            .check(HealthCheckRequest.newBuilder()
                                    .setService("trellis.v1.Scoring")
                                    .build())
                            .getStatus())
                    .isEqualTo(ServingStatus.SERVING);
            assertThat(ScoringGrpc.newBlockingStub(channel)
                            .withDeadlineAfter(10, TimeUnit.SECONDS)
                            .score(scoreRequest())
                            .getScore())
                    .isEqualTo(0.5);
        }
    }

    @Test
    void mutualTls_publicPort_acceptsClientsOfItsCaOnly() throws Exception {
        TestPki pki = TestPki.create(temp, "trellis");
        TestPki other = TestPki.create(temp, "other");
        startTlsRouter(pki, config -> config.tlsClientCa(pki.caCertificate()));
        assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();

        assertThat(score(pki.channelCredentials(pki.client("scorer")))).isEqualTo(Status.Code.OK);
        assertThat(score(pki.channelCredentials(null))).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(score(pki.channelCredentials(other.client("intruder")))).isEqualTo(Status.Code.UNAVAILABLE);
    }

    @Test
    void console_withTls_isHttpsWithTheGrpcCertificate_andDropsPlainHttp() throws Exception {
        TestPki pki = TestPki.create(temp, "trellis");
        TestPki other = TestPki.create(temp, "other");
        startTlsRouter(pki, config -> config.httpPort(0));

        HttpResponse<String> listed = consoleGet(https(pki.sslContext(null)), "https", "/api/v1/ListExperiments");
        assertThat(listed.statusCode()).as(listed.body()).isEqualTo(200);
        assertThat(consoleGet(https(pki.sslContext(null)), "https", "/").statusCode())
                .isEqualTo(200);
        // plain HTTP to the HTTPS port gets no HTTP answer; a client trusting another CA refuses the certificate
        assertThat(catchThrowableOfType(
                        () -> consoleGet(HttpClient.newHttpClient(), "http", "/api/v1/ListExperiments"),
                        IOException.class))
                .isNotNull();
        assertThat(catchThrowableOfType(
                        () -> consoleGet(https(other.sslContext(null)), "https", "/api/v1/ListExperiments"),
                        SSLHandshakeException.class))
                .isNotNull();
        // the gRPC port keeps serving on the same certificate
        assertThat(score(pki.channelCredentials(null))).isEqualTo(Status.Code.OK);
    }

    @Test
    void console_withClientCa_requiresAClientCertificateOfThatCa() throws Exception {
        TestPki pki = TestPki.create(temp, "trellis");
        TestPki other = TestPki.create(temp, "other");
        startTlsRouter(pki, config -> config.tlsClientCa(pki.caCertificate()).httpPort(0));

        HttpResponse<String> listed =
                consoleGet(https(pki.sslContext(pki.client("operator"))), "https", "/api/v1/ListExperiments");
        assertThat(listed.statusCode()).as(listed.body()).isEqualTo(200);
        for (SSLContext refused : List.of(pki.sslContext(null), pki.sslContext(other.client("intruder")))) {
            assertThat(catchThrowableOfType(
                            () -> consoleGet(https(refused), "https", "/api/v1/ListExperiments"), IOException.class))
                    .isNotNull();
        }
        assertThat(consoleGet(https(pki.sslContext(pki.client("operator"))), "https", "/api/v1/ListModels")
                        .statusCode())
                .isEqualTo(200);
    }

    private static HttpClient https(SSLContext ssl) {
        return HttpClient.newBuilder()
                .sslContext(ssl)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    private HttpResponse<String> consoleGet(HttpClient client, String scheme, String path) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create(scheme + "://localhost:" + router.httpPort() + path))
                        .timeout(Duration.ofSeconds(30))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void mutualTls_upstream_routerPresentsItsCertificateToAModelServerThatRequiresOne() throws Exception {
        TestPki pki = TestPki.create(temp, "trellis");
        TestPki.Pem serverPem = pki.server("model-server");
        TestPki.Pem routerPem = pki.client("router");
        Path repository = temp.resolve("models");
        TestBundles.install(repository, "churn", 1, 11);
        ModelServer replica = ModelServer.start(ModelServerConfig.builder(repository)
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .tls(serverPem.certificate(), serverPem.privateKey())
                .tlsClientCa(pki.caCertificate())
                .build());
        closeables.add(replica);
        replica.awaitReady(Duration.ofMinutes(2));

        startRouter(
                List.of("localhost:" + replica.port()),
                config -> config.upstreamTls(true)
                        .upstreamCa(pki.caCertificate())
                        .upstreamCert(routerPem.certificate())
                        .upstreamKey(routerPem.privateKey()));

        assertThat(router.catalog().awaitAnyReady(60, TimeUnit.SECONDS)).isTrue();
        ScoreRequest.Builder request =
                ScoreRequest.newBuilder().setModel("churn").setUnitId("C1");
        ChurnRows.load(1).get(0).forEach(request::putFeatures);
        assertThat(ScoringGrpc.newBlockingStub(channel(InsecureChannelCredentials.create()))
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .score(request.build())
                        .getServed()
                        .getVersion())
                .isEqualTo("1");
    }

    private Status.Code score(ChannelCredentials credentials) {
        try {
            ScoringGrpc.newBlockingStub(channel(credentials))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .score(scoreRequest());
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    @Test
    void missingValues_nanIsMissingAndInfinityRefused_onEveryPath() throws Exception {
        startRouter(List.of(replica().address()), config -> config);
        assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
        ScoringGrpc.ScoringBlockingStub scoring = ScoringGrpc.newBlockingStub(
                        channel(InsecureChannelCredentials.create()))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
        Value nan = Value.newBuilder().setNumberValue(Double.NaN).build();
        Value infinity =
                Value.newBuilder().setNumberValue(Double.POSITIVE_INFINITY).build();

        assertThat(scoring.score(ScoreRequest.newBuilder()
                                .setModel("m")
                                .putFeatures("x", nan)
                                .build())
                        .getScore())
                .isEqualTo(0.5);
        assertThat(fieldOf(() -> scoring.score(ScoreRequest.newBuilder()
                        .setModel("m")
                        .putFeatures("x", infinity)
                        .build())))
                .isEqualTo("features.x");
        assertThat(scoring.scoreBatch(ScoreBatchRequest.newBuilder()
                                .setModel("m")
                                .addRows(ScoreRequest.newBuilder().putFeatures("x", nan))
                                .build())
                        .getResultsCount())
                .isEqualTo(1);
        assertThat(fieldOf(() -> scoring.scoreBatch(ScoreBatchRequest.newBuilder()
                        .setModel("m")
                        .addRows(ScoreRequest.newBuilder().putFeatures("x", infinity))
                        .build())))
                .isEqualTo("rows[0].features.x");
        assertThat(scoring.scoreBatch(columns(Double.NaN)).getResultsCount()).isEqualTo(1);
        assertThat(fieldOf(() -> scoring.scoreBatch(columns(Double.NEGATIVE_INFINITY))))
                .isEqualTo("columns.features[0]");
    }

    @Test
    void priority_scoreBatchIsLowByDefault_scoreIsHigh_callersMayChoose() throws Exception {
        FakeReplica replica = replica();
        startRouter(List.of(replica.address()), config -> config);
        assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
        ScoringGrpc.ScoringBlockingStub scoring = ScoringGrpc.newBlockingStub(
                        channel(InsecureChannelCredentials.create()))
                .withDeadlineAfter(10, TimeUnit.SECONDS);

        scoring.score(scoreRequest());
        assertThat(upstreamPriority(replica)).isEqualTo(1);
        scoring.scoreBatch(columns(1));
        assertThat(upstreamPriority(replica)).isEqualTo(2);
        scoring.scoreBatch(columns(1).toBuilder().setPriority(Priority.HIGH).build());
        assertThat(upstreamPriority(replica)).isEqualTo(1);
        scoring.score(scoreRequest().toBuilder().setPriority(Priority.LOW).build());
        assertThat(upstreamPriority(replica)).isEqualTo(2);
    }

    private static long upstreamPriority(FakeReplica replica) {
        return replica.lastRequest.get().getParametersMap().get("priority").getInt64Param();
    }

    private static ScoreBatchRequest columns(double x) {
        return ScoreBatchRequest.newBuilder()
                .setModel("m")
                .setColumns(FeatureColumns.newBuilder()
                        .addUnitIds("u1")
                        .addFeatures(FeatureColumn.newBuilder()
                                .setName("x")
                                .setNumbers(NumberValues.newBuilder().addValues(x))))
                .build();
    }

    private static String fieldOf(org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
        StatusRuntimeException failure = catchThrowableOfType(StatusRuntimeException.class, call);
        assertThat(failure.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(failure.getStatus().getDescription()).contains("Infinity");
        return WireError.from(failure).violations().get(0).field();
    }
}
