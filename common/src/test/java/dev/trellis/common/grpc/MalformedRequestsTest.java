package dev.trellis.common.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.common.testing.RawCalls;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MalformedRequestsTest {
    private final List<String> closed = new CopyOnWriteArrayList<>();
    private Server server;
    private ManagedChannel channel;

    @BeforeEach
    void setUp() throws Exception {
        HealthStatusManager health = new HealthStatusManager();
        health.setStatus("", ServingStatus.SERVING);
        ServerInterceptor statusCounter = new ServerInterceptor() {
            @Override
            public <ReqT, RespT> io.grpc.ServerCall.Listener<ReqT> interceptCall(
                    io.grpc.ServerCall<ReqT, RespT> call,
                    io.grpc.Metadata headers,
                    io.grpc.ServerCallHandler<ReqT, RespT> next) {
                String method = call.getMethodDescriptor().getBareMethodName();
                return CallCompletion.observe(
                        call, headers, next, status -> closed.add(method + " " + status.getCode()));
            }
        };
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name)
                .addService(MalformedRequests.guard(health.getHealthService().bindService(), "test.trellis.dev"))
                .addService(MalformedRequests.guard(
                        ProtoReflectionServiceV1.newInstance().bindService(), "test.trellis.dev"))
                .intercept(statusCounter)
                .build()
                .start();
        channel = InProcessChannelBuilder.forName(name).build();
    }

    @AfterEach
    void tearDown() {
        channel.shutdownNow();
        server.shutdownNow();
    }

    @Test
    void unary_invalidUtf8_isInvalidArgumentAndTheServerKeepsServing() {
        // HealthCheckRequest.service (field 1, a string) holding the byte 0xFF
        byte[] invalidUtf8 = {0x0A, 0x01, (byte) 0xFF};

        StatusRuntimeException failure = catchThrowableOfType(
                StatusRuntimeException.class, () -> RawCalls.unary(channel, HealthGrpc.getCheckMethod(), invalidUtf8));

        assertThat(failure.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(failure.getStatus().getDescription())
                .startsWith("request could not be parsed as grpc.health.v1.HealthCheckRequest")
                .contains("UTF-8");
        assertThat(WireError.from(failure).reason()).isEqualTo(MalformedRequests.REASON);
        assertThat(check()).isEqualTo(ServingStatus.SERVING);
        assertThat(closed).containsExactly("Check INVALID_ARGUMENT", "Check OK");
    }

    @Test
    void unary_garbage_isInvalidArgument() {
        StatusRuntimeException failure = catchThrowableOfType(
                StatusRuntimeException.class,
                () -> RawCalls.unary(
                        channel, HealthGrpc.getCheckMethod(), new byte[] {(byte) 0xFF, (byte) 0xFF, 0x01}));

        assertThat(failure.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(check()).isEqualTo(ServingStatus.SERVING);
    }

    @Test
    void stream_goodMessagesStillWork() throws Exception {
        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse value) {
                        answer.complete(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        answer.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {}
                });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());

        assertThat(answer.get(10, TimeUnit.SECONDS).getListServicesResponse().getServiceList())
                .extracting(s -> s.getName())
                .contains("grpc.health.v1.Health");
        requests.onCompleted();
    }

    private ServingStatus check() {
        return HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance())
                .getStatus();
    }
}
