package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.testing.ReflectionClient;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** grpcurl without .proto files: the API reference (proto comments) and error details over reflection. */
class ReflectionTest {
    @TempDir
    Path temp;

    @Test
    void reflection_servesCommentsAndDecodesBadRequest() throws Exception {
        try (FakeReplica replica = new FakeReplica();
                RouterServer router = RouterServer.start(RouterConfig.builder()
                        .shutdownDelay(Duration.ZERO)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .upstreams(List.of(replica.address()))
                        .store(temp.resolve("trellis.db"))
                        .catalogRefresh(Duration.ofMillis(200))
                        .build())) {
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                    .usePlaintext()
                    .build();
            try {
                ReflectionClient reflection = new ReflectionClient(channel);
                assertThat(reflection.listServices())
                        .containsExactlyInAnyOrder(
                                "trellis.v1.Scoring",
                                "trellis.v1.Experiments",
                                "trellis.v1.Monitoring",
                                "grpc.health.v1.Health",
                                "grpc.reflection.v1.ServerReflection",
                                "grpc.reflection.v1alpha.ServerReflection");
                assertThat(reflection.fieldComment("trellis.v1.ScoreRequest", "unit_id"))
                        .contains("The randomization unit (lead id, customer id)");
                assertThat(reflection.fieldComment("trellis.v1.ScoreRequest", "features"))
                        .contains("null (or absent) for missing");

                assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
                StatusRuntimeException error = catchThrowableOfType(
                        () -> ScoringGrpc.newBlockingStub(channel)
                                .withDeadlineAfter(10, TimeUnit.SECONDS)
                                .score(ScoreRequest.newBuilder()
                                        .setModel("m")
                                        .putFeatures(
                                                "nope",
                                                Value.newBuilder()
                                                        .setNumberValue(1)
                                                        .build())
                                        .build()),
                        StatusRuntimeException.class);
                assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

                ReflectionClient.DecodedStatus decoded = reflection.decodeStatus(error);
                DynamicMessage badRequest =
                        decoded.detail("google.rpc.BadRequest").orElseThrow();
                assertThat(decoded.violationFields()).containsExactly("features.nope");
                assertThat(decoded.detail("google.rpc.ErrorInfo")).isPresent();
                // the generated classes were never used: the descriptors came over the wire
                assertThat(badRequest.getDescriptorForType()).isNotSameAs(com.google.rpc.BadRequest.getDescriptor());
            } finally {
                channel.shutdownNow();
            }
        }
    }
}
