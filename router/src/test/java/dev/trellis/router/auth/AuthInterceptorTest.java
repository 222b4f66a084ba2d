package dev.trellis.router.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ListExperimentsRequest;
import dev.trellis.api.v1.ListExperimentsResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.api.v1.SetDefaultVersionRequest;
import dev.trellis.api.v1.SetDefaultVersionResponse;
import dev.trellis.common.auth.BearerToken;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AuthInterceptorTest {
    private Server server;
    private ManagedChannel channel;

    @AfterEach
    void tearDown() {
        if (channel != null) {
            channel.shutdownNow();
            server.shutdownNow();
        }
    }

    @Test
    void mutatingCall_withoutToken_isUnauthenticated() throws Exception {
        start(Optional.of("admin-token"));

        assertThatThrownBy(() -> stub(null, null).setDefaultVersion(SetDefaultVersionRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    }

    @Test
    void mutatingCall_withWrongToken_isPermissionDenied() throws Exception {
        start(Optional.of("admin-token"));

        assertThatThrownBy(() ->
                        stub("Bearer nope", null).setDefaultVersion(SetDefaultVersionRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    }

    @Test
    void mutatingCall_withToken_runsAsNamedActor() throws Exception {
        start(Optional.of("admin-token"));

        assertThat(stub("Bearer admin-token", "alice")
                        .setDefaultVersion(SetDefaultVersionRequest.getDefaultInstance())
                        .getModel())
                .isEqualTo("alice");
        assertThat(stub("bearer admin-token", null)
                        .setDefaultVersion(SetDefaultVersionRequest.getDefaultInstance())
                        .getModel())
                .isEqualTo("admin");
        assertThat(stub("Bearer admin-token", "bad actor name!")
                        .setDefaultVersion(SetDefaultVersionRequest.getDefaultInstance())
                        .getModel())
                .isEqualTo("admin");
    }

    @Test
    void mutatingCall_noAdminTokenConfigured_isDenied() throws Exception {
        start(Optional.empty());

        assertThatThrownBy(() ->
                        stub("Bearer anything", null).setDefaultVersion(SetDefaultVersionRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                    assertThat(e.getStatus().getDescription()).contains("--admin-token-file");
                });
    }

    @Test
    void readCall_withoutToken_isOpen() throws Exception {
        start(Optional.of("admin-token"));

        assertThat(stub(null, null).listExperiments(ListExperimentsRequest.getDefaultInstance()))
                .isNotNull();
    }

    @Test
    void scoringCall_withScoringTokenConfigured_needsScoringOrAdminToken() throws Exception {
        String name = InProcessServerBuilder.generateName();
        ScoringGrpc.ScoringImplBase scoring = new ScoringGrpc.ScoringImplBase() {
            @Override
            public void score(ScoreRequest request, StreamObserver<ScoreResponse> observer) {
                observer.onNext(ScoreResponse.getDefaultInstance());
                observer.onCompleted();
            }
        };
        server = InProcessServerBuilder.forName(name)
                .directExecutor()
                .addService(ServerInterceptors.intercept(
                        scoring,
                        new AuthInterceptor(
                                Optional.of(BearerToken.of("admin-token")),
                                Optional.of(BearerToken.of("score-token")),
                                (method, denial) -> {})))
                .build()
                .start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();

        assertThat(scoringCode(null)).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(scoringCode("Bearer wrong")).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(scoringCode("Bearer score-token")).isEqualTo(Status.Code.OK);
        assertThat(scoringCode("Bearer admin-token")).isEqualTo(Status.Code.OK);
    }

    private Status.Code scoringCode(String authorization) {
        Metadata headers = new Metadata();
        if (authorization != null) {
            headers.put(AuthInterceptor.AUTHORIZATION, authorization);
        }
        try {
            ScoringGrpc.newBlockingStub(channel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                    .score(ScoreRequest.getDefaultInstance());
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    private void start(Optional<String> adminToken) throws Exception {
        String name = InProcessServerBuilder.generateName();
        ExperimentsGrpc.ExperimentsImplBase service = new ExperimentsGrpc.ExperimentsImplBase() {
            @Override
            public void setDefaultVersion(
                    SetDefaultVersionRequest request, StreamObserver<SetDefaultVersionResponse> observer) {
                observer.onNext(SetDefaultVersionResponse.newBuilder()
                        .setModel(Actor.current())
                        .build());
                observer.onCompleted();
            }

            @Override
            public void listExperiments(
                    ListExperimentsRequest request, StreamObserver<ListExperimentsResponse> observer) {
                observer.onNext(ListExperimentsResponse.getDefaultInstance());
                observer.onCompleted();
            }
        };
        server = InProcessServerBuilder.forName(name)
                .directExecutor()
                .addService(ServerInterceptors.intercept(
                        service,
                        new AuthInterceptor(adminToken.map(BearerToken::of), Optional.empty(), (method, denial) -> {})))
                .build()
                .start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    }

    private ExperimentsGrpc.ExperimentsBlockingStub stub(String authorization, String actor) {
        Metadata headers = new Metadata();
        if (authorization != null) {
            headers.put(AuthInterceptor.AUTHORIZATION, authorization);
        }
        if (actor != null) {
            headers.put(AuthInterceptor.ACTOR, actor);
        }
        return ExperimentsGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
}
