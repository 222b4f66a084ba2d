package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upstream hop against hand-written replicas on real ports: deadline propagation, the default
 * deadline, trace-context propagation, retries through the service config, and client-side
 * health checking.
 */
class UpstreamBehaviourTest {
    private static final Metadata.Key<String> TRACEPARENT =
            Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);

    @TempDir
    Path temp;

    private FakeReplica a;
    private FakeReplica b;
    private RouterServer router;
    private ManagedChannel channel;

    @BeforeEach
    void start() throws Exception {
        a = new FakeReplica();
        b = new FakeReplica();
        router = RouterServer.start(RouterConfig.builder()
                .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                .host("127.0.0.1")
                .port(0)
                .metricsPort(0)
                .upstreams(List.of(a.address(), b.address()))
                .store(temp.resolve("trellis.db"))
                .defaultDeadline(Duration.ofMillis(700))
                .catalogRefresh(Duration.ofMillis(200))
                .build());
        assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                .usePlaintext()
                .build();
    }

    @AfterEach
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (router != null) {
            router.close();
        }
        a.close();
        b.close();
    }

    @Test
    void score_callerDeadline_propagatesToReplica() {
        // far from the router's default deadline, so a slow machine cannot blur the two
        ScoringGrpc.newBlockingStub(channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .score(request());

        long seen = Math.max(a.lastDeadlineMillis.get(), b.lastDeadlineMillis.get());
        assertThat(seen).isGreaterThan(30_000).isLessThanOrEqualTo(60_000);
    }

    @Test
    void score_noCallerDeadline_replicaSeesDefaultDeadline() {
        ScoringGrpc.newBlockingStub(channel).score(request());

        long seen = Math.max(a.lastDeadlineMillis.get(), b.lastDeadlineMillis.get());
        assertThat(seen).isGreaterThan(0).isLessThanOrEqualTo(700);
    }

    @Test
    void score_callerTraceparent_isContinuedUpstream() {
        String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        Metadata headers = new Metadata();
        headers.put(TRACEPARENT, "00-" + traceId + "-00f067aa0ba902b7-01");

        ScoringGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .score(request());

        Metadata seen = a.lastHeaders.get() != null ? a.lastHeaders.get() : b.lastHeaders.get();
        assertThat(seen.get(TRACEPARENT))
                .matches("00-" + traceId + "-[0-9a-f]{16}-0[01]")
                .doesNotContain("00f067aa0ba902b7");
    }

    @Test
    void score_replicaAnswersUnavailable_isRetriedOnTheOtherReplica() {
        a.failWith = Status.UNAVAILABLE.withDescription("overloaded");

        for (int i = 0; i < 100; i++) {
            ScoreResponse response = ScoringGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(5, TimeUnit.SECONDS)
                    .score(request());
            assertThat(response.getServed().getReplica()).isEqualTo(b.address());
        }
        assertThat(a.inferCalls.get())
                .as("attempts that reached the failing replica")
                .isPositive();
    }

    @Test
    void score_replicaNotServing_leavesTheRotation() {
        a.serving(false);
        int before = -1;
        // health updates arrive asynchronously over the Watch stream; wait until a's call count stops moving
        for (int round = 0; round < 200 && before != a.inferCalls.get(); round++) {
            before = a.inferCalls.get();
            for (int i = 0; i < 10; i++) {
                ScoringGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(5, TimeUnit.SECONDS)
                        .score(request());
            }
        }

        for (int i = 0; i < 50; i++) {
            assertThat(ScoringGrpc.newBlockingStub(channel)
                            .withDeadlineAfter(5, TimeUnit.SECONDS)
                            .score(request())
                            .getServed()
                            .getReplica())
                    .isEqualTo(b.address());
        }
    }

    @Test
    void score_everyReplicaUnavailable_isUnavailable() {
        a.failWith = Status.UNAVAILABLE;
        b.failWith = Status.UNAVAILABLE;

        assertThatThrownBy(() -> ScoringGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(5, TimeUnit.SECONDS)
                        .score(request()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                    assertThat(e.getStatus().getDescription()).contains("no model-server replica could serve model m");
                });
    }

    @Test
    void score_replicaRejectsInput_passesInvalidArgumentThrough() {
        a.failWith = Status.INVALID_ARGUMENT.withDescription("input x: bad shape");
        b.failWith = a.failWith;

        assertThatThrownBy(() -> ScoringGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(5, TimeUnit.SECONDS)
                        .score(request()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).isEqualTo("input x: bad shape");
                });
    }

    @Test
    void score_replicaKilledAbruptlyUnderSteadyTraffic_noRequestFails() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicInteger ok = new java.util.concurrent.atomic.AtomicInteger();
        java.util.Queue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
        List<Thread> clients = new java.util.ArrayList<>();
        for (int c = 0; c < 4; c++) {
            Thread t = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        ScoringGrpc.newBlockingStub(channel)
                                .withDeadlineAfter(5, TimeUnit.SECONDS)
                                .score(request());
                        ok.incrementAndGet();
                    } catch (RuntimeException e) {
                        failures.add(e);
                    }
                }
            });
            t.start();
            clients.add(t);
        }
        await("500 requests before the kill").atMost(Duration.ofSeconds(60)).until(() -> ok.get() >= 500);
        a.close(); // shutdownNow: connections and in-flight calls are cut, no drain
        int afterKill = ok.get();
        await("2000 requests after the kill").atMost(Duration.ofSeconds(60)).until(() -> ok.get() >= afterKill + 2000);
        stop.set(true);
        for (Thread t : clients) {
            t.join();
        }

        assertThat(failures).isEmpty();
    }

    private static ScoreRequest request() {
        return ScoreRequest.newBuilder()
                .setModel("m")
                .setUnitId("u")
                .putFeatures("x", Value.newBuilder().setNumberValue(1).build())
                .putFeatures("c", Value.newBuilder().setStringValue("a").build())
                .build();
    }
}
