package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.ReplicaStatus;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.control.ModelControl;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the router presents itself upstream and names replicas: one name per replica everywhere
 * (as configured), and the upstream token on every call to a replica (or none without one).
 */
class UpstreamIdentityTest {
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    @TempDir
    Path temp;

    @Test
    void replicaName_asConfigured_sameInListModelsAndServed() throws Exception {
        try (FakeReplica replica = new FakeReplica()) {
            String configured = "localhost:" + replica.port();
            withRouter(configured, b -> b, (router, channel) -> {
                ScoreResponse response = score(channel);
                ModelInfo model = ExperimentsGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .listModels(ListModelsRequest.getDefaultInstance())
                        .getModels(0);

                assertThat(response.getServed().getReplica()).isEqualTo(configured);
                assertThat(model.getVersions(0).getReplicasList())
                        .extracting(ReplicaStatus::getReplica)
                        .containsExactly(configured);
            });
        }
    }

    @Test
    void upstreamToken_sentOnInferencePollsAndRepositoryControl() throws Exception {
        try (FakeReplica replica = new FakeReplica()) {
            withRouter(replica.address(), b -> b.upstreamToken("replica-secret"), (router, channel) -> {
                score(channel);
                // the control plane holds the default version on the replica through RepositoryModelLoad
                await("the control plane's hold")
                        .atMost(Duration.ofSeconds(30))
                        .until(() -> replica.heldConfig.get().equals(ModelControl.heldVersionsConfig(List.of(1))));

                assertThat(replica.lastHeaders.get().get(AUTHORIZATION)).isEqualTo("Bearer replica-secret");
                assertThat(replica.lastIndexHeaders.get().get(AUTHORIZATION)).isEqualTo("Bearer replica-secret");
                assertThat(replica.lastLoadHeaders.get().get(AUTHORIZATION)).isEqualTo("Bearer replica-secret");
            });
        }
    }

    @Test
    void upstreamToken_none_sendsNoAuthorization() throws Exception {
        try (FakeReplica replica = new FakeReplica()) {
            withRouter(replica.address(), b -> b, (router, channel) -> {
                score(channel);

                assertThat(replica.lastHeaders.get().containsKey(AUTHORIZATION)).isFalse();
                assertThat(replica.lastIndexHeaders.get().containsKey(AUTHORIZATION))
                        .isFalse();
            });
        }
    }

    private interface RouterTest {
        void run(RouterServer router, ManagedChannel channel) throws Exception;
    }

    private void withRouter(String upstream, UnaryOperator<RouterConfig.Builder> extra, RouterTest test)
            throws Exception {
        RouterServer router = RouterServer.start(extra.apply(RouterConfig.builder()
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .upstreams(List.of(upstream))
                        .store(temp.resolve("trellis.db"))
                        .catalogRefresh(Duration.ofMillis(200)))
                .build());
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                .usePlaintext()
                .build();
        try {
            assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
            test.run(router, channel);
        } finally {
            channel.shutdownNow();
            router.close();
        }
    }

    private static ScoreResponse score(ManagedChannel channel) {
        return ScoringGrpc.newBlockingStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .score(ScoreRequest.newBuilder()
                        .setModel("m")
                        .setUnitId("u")
                        .putFeatures("x", Value.newBuilder().setNumberValue(1).build())
                        .build());
    }
}
