package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.testing.Promtool;
import dev.trellis.common.testing.ReflectionClient;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What grpcurl and operators see: reflection, health, Prometheus metrics (promtool-clean). */
class ObservabilityTest {
    @TempDir
    Path temp;

    @Test
    void router_servesReflectionHealthAndMetrics() throws Exception {
        try (FakeReplica replica = new FakeReplica()) {
            RouterServer router = RouterServer.start(RouterConfig.builder()
                    .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0) // an ephemeral port, read back below
                    .upstreams(List.of(replica.address()))
                    .store(temp.resolve("trellis.db"))
                    .catalogRefresh(Duration.ofMillis(200))
                    .build());
            int metricsPort = router.metricsPort();
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                    .usePlaintext()
                    .build();
            try {
                assertThat(metricsPort).isPositive().isNotEqualTo(router.port());
                assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();

                assertThat(new ReflectionClient(channel).listServices())
                        .contains(
                                "trellis.v1.Scoring",
                                "trellis.v1.Experiments",
                                "grpc.health.v1.Health",
                                "grpc.reflection.v1.ServerReflection",
                                "grpc.reflection.v1alpha.ServerReflection");
                assertThat(HealthGrpc.newBlockingStub(channel)
                                .check(HealthCheckRequest.newBuilder()
                                        .setService("trellis.v1.Scoring")
                                        .build())
                                .getStatus())
                        .isEqualTo(ServingStatus.SERVING);

                ScoringGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .score(ScoreRequest.newBuilder()
                                .setModel("m")
                                .putFeatures(
                                        "x",
                                        Value.newBuilder().setNumberValue(1).build())
                                .build());
                String metrics = Promtool.scrape("127.0.0.1", metricsPort);
                assertThat(metrics)
                        .contains("trellis_router_rows_total{")
                        .contains("model=\"m\"")
                        .contains("version=\"1\"")
                        .contains("trellis_router_latency_seconds_bucket")
                        // the standard gRPC instrumentation: every call by method and status, in seconds
                        .containsPattern("grpc_server_call_duration_seconds_count\\{[^}]*"
                                + "grpc_method=\"trellis.v1.Scoring/Score\"[^}]*grpc_status=\"OK\"")
                        // JVM runtime metrics
                        .contains("jvm_memory_used_bytes")
                        .contains("jvm_threads_current")
                        .doesNotContain("_milliseconds");
                assertThat(Promtool.check(metrics)).as("promtool check metrics").isEmpty();
            } finally {
                channel.shutdownNow();
                router.close();
            }
            // closed: the metrics endpoint is gone, and a second close() is safe
            assertThatThrownBy(() -> Promtool.scrape("127.0.0.1", metricsPort)).isInstanceOf(IOException.class);
            router.close();
        }
    }

    @Test
    void router_upstreamCalls_clientMetricsByMethodTargetAndStatus() throws Exception {
        try (FakeReplica replica = new FakeReplica()) {
            RouterServer router = RouterServer.start(RouterConfig.builder()
                    .shutdownDelay(Duration.ZERO)
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(0)
                    .upstreams(List.of(replica.address()))
                    .store(temp.resolve("trellis.db"))
                    .catalogRefresh(Duration.ofMillis(200))
                    .build());
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                    .usePlaintext()
                    .build();
            try {
                assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();
                ScoringGrpc.ScoringBlockingStub scoring =
                        ScoringGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
                ScoreRequest request = ScoreRequest.newBuilder()
                        .setModel("m")
                        .putFeatures("x", Value.newBuilder().setNumberValue(1).build())
                        .build();
                scoring.score(request);
                scoring.score(request);
                // an explanation travels on the bulk lane's channel
                scoring.score(request.toBuilder().setExplain(true).build());
                // the replica refuses (overloaded): counted under its status
                replica.failWith = Status.RESOURCE_EXHAUSTED.withDescription("queue full");
                assertThatThrownBy(() -> scoring.score(request)).isInstanceOf(StatusRuntimeException.class);
                replica.failWith = null;

                String metrics = Promtool.scrape("127.0.0.1", router.metricsPort());
                String method = "grpc_method=\"inference.GRPCInferenceService/ModelInfer\"";
                String interactive = "grpc_target=\"trellis-replicas:///" + replica.address() + "?lane=interactive\"";
                String bulk = "grpc_target=\"trellis-replicas:///" + replica.address() + "?lane=bulk\"";
                assertThat(counts(
                                metrics,
                                "grpc_client_attempt_duration_seconds_count",
                                method,
                                interactive,
                                "grpc_status=\"OK\""))
                        .isEqualTo(2);
                assertThat(counts(
                                metrics,
                                "grpc_client_attempt_duration_seconds_count",
                                method,
                                interactive,
                                "grpc_status=\"RESOURCE_EXHAUSTED\""))
                        .isEqualTo(1);
                assertThat(counts(
                                metrics,
                                "grpc_client_call_duration_seconds_count",
                                method,
                                interactive,
                                "grpc_status=\"OK\""))
                        .isEqualTo(2);
                assertThat(counts(
                                metrics,
                                "grpc_client_attempt_duration_seconds_count",
                                method,
                                bulk,
                                "grpc_status=\"OK\""))
                        .isEqualTo(1);
                assertThat(metrics)
                        .contains("grpc_client_attempt_duration_seconds_bucket{")
                        .contains("grpc_client_attempt_started_total{");
                // bounded labels: method, target and status, on every client series (besides the
                // instrumentation scope's name and version, one value each)
                assertThat(labelNames(metrics, "grpc_client_attempt_duration_seconds_count"))
                        .containsExactly("grpc_method", "grpc_status", "grpc_target");
                assertThat(labelNames(metrics, "grpc_client_call_duration_seconds_count"))
                        .containsExactly("grpc_method", "grpc_status", "grpc_target");
                assertThat(Promtool.check(metrics)).as("promtool check metrics").isEmpty();
            } finally {
                channel.shutdownNow();
                router.close();
            }
        }
    }

    /** The value of the one series of {@code name} that has every one of {@code labels}. */
    private static long counts(String metrics, String name, String... labels) {
        List<String> lines = metrics.lines()
                .filter(line -> line.startsWith(name + "{"))
                .filter(line -> List.of(labels).stream().allMatch(line::contains))
                .toList();
        assertThat(lines)
                .as(name + " with " + List.of(labels) + " in\n" + metrics)
                .hasSize(1);
        String line = lines.get(0);
        return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }

    private static Set<String> labelNames(String metrics, String name) {
        Set<String> names = new TreeSet<>();
        Pattern label = Pattern.compile("([a-z_]+)=\"");
        metrics.lines().filter(line -> line.startsWith(name + "{")).forEach(line -> {
            Matcher m = label.matcher(line.substring(0, line.indexOf('}')));
            while (m.find()) {
                if (!m.group(1).startsWith("otel_scope_")) {
                    names.add(m.group(1));
                }
            }
        });
        return names;
    }
}
