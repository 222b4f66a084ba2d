package dev.trellis.router;

import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import dev.trellis.router.auth.AuthInterceptor;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Real model-server replicas on loopback ports sharing one repository, a real router in front of
 * them, and client stubs. Closes everything in reverse order.
 */
final class Cluster implements AutoCloseable {
    static final String ADMIN_TOKEN = "test-admin-token";

    final Path repository;
    final List<ModelServer> replicas = new ArrayList<>();
    final RouterServer router;
    final ManagedChannel channel;

    Cluster(Path repository, Path store, int replicaCount, UnaryOperator<RouterConfig.Builder> routerConfig)
            throws Exception {
        this.repository = repository;
        try {
            for (int i = 0; i < replicaCount; i++) {
                ModelServer replica = ModelServer.start(ModelServerConfig.builder(repository)
                        .host("127.0.0.1")
                        .port(0)
                        .metricsPort(0)
                        .defaultVersionPolicy(VersionPolicy.parse("all"))
                        .pollInterval(Duration.ofMillis(200))
                        .drainTimeout(Duration.ofSeconds(5))
                        .build());
                replicas.add(replica);
            }
            for (ModelServer replica : replicas) {
                replica.awaitReady(Duration.ofSeconds(60));
            }
            List<String> upstreams =
                    replicas.stream().map(r -> "127.0.0.1:" + r.port()).toList();
            router = RouterServer.start(routerConfig
                    .apply(RouterConfig.builder()
                            .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                            .host("127.0.0.1")
                            .port(0)
                            .metricsPort(0)
                            .upstreams(upstreams)
                            .store(store)
                            .adminToken(ADMIN_TOKEN)
                            .catalogRefresh(Duration.ofMillis(200)))
                    .build());
            if (!router.catalog().awaitAnyReady(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("router sees no ready model");
            }
            channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                    .usePlaintext()
                    .build();
        } catch (Exception | Error e) {
            close();
            throw e;
        }
    }

    ScoringGrpc.ScoringBlockingStub scoring() {
        return ScoringGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    ScoringGrpc.ScoringStub scoringAsync() {
        return ScoringGrpc.newStub(channel);
    }

    ExperimentsGrpc.ExperimentsBlockingStub admin() {
        Metadata headers = new Metadata();
        headers.put(AuthInterceptor.AUTHORIZATION, "Bearer " + ADMIN_TOKEN);
        headers.put(AuthInterceptor.ACTOR, "e2e-test");
        return ExperimentsGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    ExperimentsGrpc.ExperimentsBlockingStub anonymous() {
        return ExperimentsGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (router != null) {
            router.close();
        }
        for (int i = replicas.size() - 1; i >= 0; i--) {
            replicas.get(i).close();
        }
    }
}
