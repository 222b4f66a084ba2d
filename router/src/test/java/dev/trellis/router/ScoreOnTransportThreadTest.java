package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Score handlers run on the transport thread, so a Score that must wait for an on-demand catalog
 * poll (its model loaded since the last poll) waits without holding that thread: other calls on
 * the same connection are answered meanwhile, and the Score is served once the poll is back.
 */
class ScoreOnTransportThreadTest {
    @TempDir
    Path temp;

    @Test
    void scoreOfAModelLoadedSinceTheLastPoll_waitsForThePollWithoutBlockingTheConnection() throws Exception {
        try (FakeReplica replica = new FakeReplica()) {
            replica.noModels = true;
            RouterServer router = RouterServer.start(RouterConfig.builder()
                    .shutdownDelay(Duration.ZERO)
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0)
                    .upstreams(List.of(replica.address()))
                    .store(temp.resolve("trellis.db"))
                    // no scheduled poll during the test: only an on-demand one can find the model
                    .catalogRefresh(Duration.ofHours(1))
                    .build());
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                    .usePlaintext()
                    .build();
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> replica.indexCalls.get() >= 1);
                int pollsBefore = replica.indexCalls.get();
                assertThat(router.catalog().snapshot().model("m")).isEmpty();
                Thread.sleep(600); // older than an on-demand poll's half second
                CountDownLatch gate = new CountDownLatch(1);
                replica.indexGate = gate;
                replica.noModels = false;

                ListenableFuture<ScoreResponse> score = ScoringGrpc.newFutureStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS)
                        .score(request("m"));
                await("the on-demand poll held at the replica")
                        .atMost(Duration.ofSeconds(30))
                        .until(() -> replica.indexCalls.get() > pollsBefore);

                // the same connection, so the same transport thread: answered while the Score waits
                assertThatThrownBy(() -> ScoringGrpc.newBlockingStub(channel)
                                .withDeadlineAfter(10, TimeUnit.SECONDS)
                                .score(request("")))
                        .isInstanceOfSatisfying(
                                StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
                assertThat(score).isNotDone();

                gate.countDown();
                ScoreResponse response = score.get(30, TimeUnit.SECONDS);
                assertThat(response.getScore()).isEqualTo(0.5, org.assertj.core.data.Offset.offset(1e-6));
                assertThat(response.getServed().getVersion()).isEqualTo("1");
                assertThat(replica.inferCalls.get()).isEqualTo(1);
            } finally {
                channel.shutdownNow();
                router.close();
            }
        }
    }

    private static ScoreRequest request(String model) {
        return ScoreRequest.newBuilder()
                .setModel(model)
                .setUnitId("u")
                .putFeatures("x", Value.newBuilder().setNumberValue(1).build())
                .putFeatures("c", Value.newBuilder().setStringValue("a").build())
                .build();
    }
}
