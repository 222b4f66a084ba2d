package dev.trellis.router;

import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.modelserver.ModelServer;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.config.VersionPolicy;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse;
import dev.trellis.router.auth.AuthInterceptor;
import dev.trellis.router.config.RouterConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Real model-server replicas on loopback ports, each on its repository (or all on one), a real
 * router in front of them, and client stubs. A replica can be restarted on its port. Closes
 * everything in reverse order.
 */
final class Cluster implements AutoCloseable {
    static final String ADMIN_TOKEN = "test-admin-token";
    /** The model-servers' admin token, which the router's control plane presents (--upstream-token-file). */
    static final String REPLICA_ADMIN_TOKEN = "test-replica-admin-token";

    final Path repository;
    final List<Path> repositories;
    final List<ModelServer> replicas = Collections.synchronizedList(new ArrayList<>());
    final List<Integer> ports = new ArrayList<>();
    private final VersionPolicy policy;
    private final RouterConfig routerConfig;
    volatile RouterServer router;
    volatile ManagedChannel channel;

    /** {@code replicaCount} replicas on one repository, every version loaded (policy "all"). */
    Cluster(Path repository, Path store, int replicaCount, UnaryOperator<RouterConfig.Builder> routerConfig)
            throws Exception {
        this(Collections.nCopies(replicaCount, repository), VersionPolicy.parse("all"), store, routerConfig, a -> a);
    }

    /**
     * One replica per repository, all with {@code policy}.
     *
     * @param upstreams groups the replica addresses into --upstream values
     */
    Cluster(
            List<Path> repositories,
            VersionPolicy policy,
            Path store,
            UnaryOperator<RouterConfig.Builder> routerConfig,
            Function<List<String>, List<String>> upstreams)
            throws Exception {
        this.repositories = List.copyOf(repositories);
        this.repository = repositories.get(0);
        this.policy = policy;
        RouterServer startedRouter = null;
        ManagedChannel openedChannel = null;
        RouterConfig config = null;
        try {
            for (Path repo : repositories) {
                ModelServer replica = ModelServer.start(replicaConfig(repo, 0));
                replicas.add(replica);
                ports.add(replica.port());
            }
            for (ModelServer replica : replicas) {
                replica.awaitReady(Duration.ofSeconds(60));
            }
            List<String> addresses = ports.stream().map(p -> "127.0.0.1:" + p).toList();
            config = routerConfig
                    .apply(RouterConfig.builder()
                            .shutdownDelay(java.time.Duration.ZERO) // tests stop at once; the delay has its own test
                            .host("127.0.0.1")
                            .port(0)
                            .metricsPort(0)
                            .upstreams(upstreams.apply(addresses))
                            .store(store)
                            .adminToken(ADMIN_TOKEN)
                            .upstreamToken(REPLICA_ADMIN_TOKEN)
                            .catalogRefresh(Duration.ofMillis(200)))
                    .build();
            startedRouter = startRouter(config);
            openedChannel = NettyChannelBuilder.forAddress("127.0.0.1", startedRouter.port())
                    .usePlaintext()
                    .build();
        } catch (Exception | Error e) {
            if (startedRouter != null) {
                startedRouter.close();
            }
            replicas.forEach(ModelServer::close);
            throw e;
        }
        this.routerConfig = config;
        this.router = startedRouter;
        this.channel = openedChannel;
    }

    private static RouterServer startRouter(RouterConfig config) throws InterruptedException {
        RouterServer router = RouterServer.start(config);
        if (!router.catalog().awaitAnyReady(60, TimeUnit.SECONDS)) {
            router.close();
            throw new IllegalStateException("router sees no ready model");
        }
        return router;
    }

    /** Stops the router and starts a new one on the same store and replicas (a new port). */
    void restartRouter() throws InterruptedException {
        channel.shutdownNow();
        router.close();
        router = startRouter(routerConfig);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", router.port())
                .usePlaintext()
                .build();
    }

    private ModelServerConfig replicaConfig(Path repo, int port) {
        return ModelServerConfig.builder(repo)
                .host("127.0.0.1")
                .port(port)
                .metricsPort(0)
                .defaultVersionPolicy(policy)
                .pollInterval(Duration.ofMillis(200))
                .drainTimeout(Duration.ofSeconds(5))
                .adminToken(dev.trellis.common.auth.BearerToken.of(REPLICA_ADMIN_TOKEN))
                .build();
    }

    /** The router's name of replica {@code i}. */
    String replicaName(int i) {
        return "127.0.0.1:" + ports.get(i);
    }

    /** Gracefully stops replica {@code i} and starts it again on the same port and repository. */
    void restart(int i) throws Exception {
        replicas.get(i).close();
        ModelServer again = ModelServer.start(replicaConfig(repositories.get(i), ports.get(i)));
        replicas.set(i, again);
        again.awaitReady(Duration.ofSeconds(60));
    }

    /** Replica {@code i}'s own RepositoryIndex. */
    List<RepositoryIndexResponse.ModelIndex> index(int i) {
        ManagedChannel direct = NettyChannelBuilder.forAddress("127.0.0.1", ports.get(i))
                .usePlaintext()
                .build();
        try {
            return GRPCInferenceServiceGrpc.newBlockingStub(direct)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .repositoryIndex(RepositoryIndexRequest.getDefaultInstance())
                    .getModelsList();
        } finally {
            direct.shutdownNow();
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
