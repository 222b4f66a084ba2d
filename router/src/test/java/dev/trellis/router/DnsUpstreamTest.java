package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes deployment points the router at a headless Service with {@code dns:///name:port}:
 * here the name is {@code localhost}, resolved by grpc's DNS resolver for the data path and by the
 * catalog for per-replica polling.
 */
class DnsUpstreamTest {
    @TempDir
    Path temp;

    @Test
    void score_dnsUpstream_resolvesAndServes() throws Exception {
        try (FakeReplica replica = new FakeReplica()) {
            RouterServer router = RouterServer.start(RouterConfig.builder()
                    .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0)
                    .upstreams(List.of("dns:///localhost:" + replica.port()))
                    .store(temp.resolve("trellis.db"))
                    .catalogRefresh(Duration.ofMillis(200))
                    .build());
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                    .usePlaintext()
                    .build();
            try {
                assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
                ScoreResponse response = ScoringGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .score(ScoreRequest.newBuilder()
                                .setModel("m")
                                .putFeatures(
                                        "x",
                                        Value.newBuilder().setNumberValue(1).build())
                                .build());

                assertThat(response.getScore()).isEqualTo(0.5);
                assertThat(response.getServed().getReplica()).endsWith(":" + replica.port());
                assertThat(replica.inferCalls.get()).isPositive();
            } finally {
                channel.shutdownNow();
                router.close();
            }
        }
    }
}
