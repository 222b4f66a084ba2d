package dev.trellis.common.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.common.grpc.WireError;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.MetadataUtils;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Health's Check stands in for a CLIENT method; Watch is unlisted and so needs the admin token. */
class BearerAuthInterceptorTest {
    private static final AccessPolicy POLICY = AccessPolicy.builder()
            .method(HealthGrpc.getCheckMethod(), Access.CLIENT)
            .build();

    private final List<String> denials = new CopyOnWriteArrayList<>();
    private Server server;
    private ManagedChannel channel;

    @AfterEach
    void tearDown() {
        if (channel != null) {
            channel.shutdownNow();
            server.shutdownNow();
        }
    }

    private void start(Optional<String> admin, Optional<String> client) throws Exception {
        HealthStatusManager health = new HealthStatusManager();
        health.setStatus("", ServingStatus.SERVING);
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name)
                .addService(health.getHealthService())
                .intercept(new BearerAuthInterceptor(
                        POLICY,
                        admin.map(BearerToken::of),
                        client.map(BearerToken::of),
                        new BearerAuthInterceptor.Settings(
                                "test.trellis.dev", "inference", Status.Code.UNAUTHENTICATED, "admin is disabled"),
                        (method, denial) -> denials.add(method.getBareMethodName() + " " + denial)))
                .build()
                .start();
        channel = InProcessChannelBuilder.forName(name).build();
    }

    private Status.Code check(String authorization) {
        return code(authorization, true);
    }

    private Status.Code watch(String authorization) {
        return code(authorization, false);
    }

    private Status.Code code(String authorization, boolean check) {
        Metadata headers = new Metadata();
        if (authorization != null) {
            headers.put(BearerAuthInterceptor.AUTHORIZATION, authorization);
        }
        HealthGrpc.HealthBlockingStub stub = HealthGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
        try {
            if (check) {
                stub.check(HealthCheckRequest.getDefaultInstance());
            } else {
                stub.watch(HealthCheckRequest.getDefaultInstance()).next();
            }
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.OK) {
                assertThat(WireError.from(e).reason()).isNotEmpty();
            }
            return e.getStatus().getCode();
        }
    }

    @Test
    void clientMethod_withClientTokenConfigured_needsClientOrAdminToken() throws Exception {
        start(Optional.of("admin-secret"), Optional.of("client-secret"));

        assertThat(check(null)).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(check("Bearer wrong")).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(check("Basic client-secret")).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(check("Bearer client-secret")).isEqualTo(Status.Code.OK);
        assertThat(check("bearer admin-secret")).isEqualTo(Status.Code.OK);
        assertThat(denials)
                .containsExactly("Check MISSING_CREDENTIAL", "Check WRONG_CREDENTIAL", "Check MISSING_CREDENTIAL");
    }

    @Test
    void clientMethod_withoutClientToken_isOpen() throws Exception {
        start(Optional.of("admin-secret"), Optional.empty());

        assertThat(check(null)).isEqualTo(Status.Code.OK);
    }

    @Test
    void unlistedMethod_needsTheAdminToken() throws Exception {
        start(Optional.of("admin-secret"), Optional.of("client-secret"));

        assertThat(watch(null)).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(watch("Bearer client-secret")).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(watch("Bearer admin-secret")).isEqualTo(Status.Code.OK);
    }

    @Test
    void unlistedMethod_withoutAdminToken_isRefusedWithTheConfiguredCode() throws Exception {
        start(Optional.empty(), Optional.empty());

        assertThat(watch("Bearer anything")).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(denials).containsExactly("Watch ADMIN_DISABLED");
    }

    @Test
    void bearerToken_comparesTheWholeValueAndNeverPrintsIt() {
        BearerToken token = BearerToken.of("abc");

        assertThat(token.matches("abc")).isTrue();
        assertThat(token.matches("abcd")).isFalse();
        assertThat(token.matches("")).isFalse();
        assertThat(token.matches(null)).isFalse();
        assertThat(token).isEqualTo(BearerToken.of(" abc ")).hasToString("BearerToken[redacted]");
        assertThat(BearerToken.fromHeader("Bearer  abc ")).isEqualTo("abc");
        assertThat(BearerToken.fromHeader("Bearer ")).isNull();
        assertThat(BearerToken.fromHeader(null)).isNull();
    }
}
