package dev.trellis.router;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What grpcurl and operators see: reflection, health, Prometheus metrics. */
class ObservabilityTest {
    @TempDir
    Path temp;

    @Test
    void router_servesReflectionHealthAndMetrics() throws Exception {
        int metricsPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            metricsPort = socket.getLocalPort();
        }
        try (FakeReplica replica = new FakeReplica()) {
            RouterServer router = RouterServer.start(RouterConfig.builder()
                    .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                    .host("127.0.0.1")
                    .port(0)
                    .metricsPort(metricsPort)
                    .upstreams(List.of(replica.address()))
                    .store(temp.resolve("trellis.db"))
                    .catalogRefresh(Duration.ofMillis(200))
                    .build());
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                    .usePlaintext()
                    .build();
            try {
                assertThat(router.catalog().awaitAnyReady(30, TimeUnit.SECONDS)).isTrue();

                assertThat(listServices(channel))
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
                HttpResponse<String> metrics = HttpClient.newHttpClient()
                        .send(
                                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                assertThat(metrics.body())
                        .contains("trellis_router_rows_total{")
                        .contains("model=\"m\"")
                        .contains("version=\"1\"")
                        .contains("trellis_router_latency_milliseconds_bucket");
            } finally {
                channel.shutdownNow();
                router.close();
            }
            assertThat(router.catalog().snapshot()).isNotNull(); // close() twice is safe
            router.close();
        }
    }

    private static List<String> listServices(ManagedChannel channel) throws Exception {
        CompletableFuture<List<String>> services = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
                .serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse response) {
                        services.complete(response.getListServicesResponse().getServiceList().stream()
                                .map(ServiceResponse::getName)
                                .toList());
                    }

                    @Override
                    public void onError(Throwable t) {
                        services.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {}
                });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        List<String> result = services.get(10, TimeUnit.SECONDS);
        requests.onCompleted();
        return result;
    }
}
