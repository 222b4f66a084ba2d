package dev.trellis.modelserver;

import static java.util.Objects.requireNonNull;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Module;
import com.google.inject.util.Modules;
import dev.trellis.common.auth.BearerAuthInterceptor;
import dev.trellis.common.grpc.ApiReflection;
import dev.trellis.common.grpc.MalformedRequests;
import dev.trellis.common.sched.BulkAwareAllocator;
import dev.trellis.common.sched.BulkCalls;
import dev.trellis.common.telemetry.GrpcInstrumentation;
import dev.trellis.common.tls.ServerTls;
import dev.trellis.modelserver.auth.AuthModule;
import dev.trellis.modelserver.batching.BatchingModule;
import dev.trellis.modelserver.config.ConfigModule;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.errors.GrpcErrors;
import dev.trellis.modelserver.health.HealthModule;
import dev.trellis.modelserver.health.ServingHealth;
import dev.trellis.modelserver.inference.InferenceModule;
import dev.trellis.modelserver.inference.InferenceService;
import dev.trellis.modelserver.monitoring.MonitoringModule;
import dev.trellis.modelserver.monitoring.ReplicaMonitoringService;
import dev.trellis.modelserver.repository.ModelRepository;
import dev.trellis.modelserver.repository.RepositoryModule;
import dev.trellis.modelserver.repository.VersionStatus;
import dev.trellis.modelserver.rest.RestServer;
import dev.trellis.modelserver.telemetry.Telemetry;
import dev.trellis.modelserver.telemetry.TelemetryModule;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.health.v1.HealthProto;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running model-server: the Open Inference Protocol service, health and reflection on one gRPC
 * port, the model repository behind it, and the metrics endpoint. {@link #start} returns once the
 * port is bound; models load in the background ({@link #awaitReady}). Thread-safe.
 */
public final class ModelServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelServer.class);
    private static final Duration FORCED_SHUTDOWN_WAIT = Duration.ofSeconds(5);

    private final ModelServerConfig config;
    private final Telemetry telemetry;
    private final ModelRepository repository;
    private final ServingHealth health;
    private final BulkCalls bulkCalls;
    private final Server server;
    private final InferenceService inference;
    private final BearerAuthInterceptor auth;
    private volatile RestServer rest;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ModelServer(
            ModelServerConfig config, Injector injector, Function<ModelServerConfig, ServerBuilder<?>> transport) {
        this.config = requireNonNull(config, "config is null");
        this.telemetry = injector.getInstance(Telemetry.class);
        this.repository = injector.getInstance(ModelRepository.class);
        this.health = injector.getInstance(ServingHealth.class);
        ServerBuilder<?> builder = transport.apply(config);
        GrpcInstrumentation instrumentation = injector.getInstance(GrpcInstrumentation.class);
        instrumentation.instrument(builder);
        List<BindableService> services = new ArrayList<>();
        this.inference = injector.getInstance(InferenceService.class);
        this.auth = injector.getInstance(BearerAuthInterceptor.class);
        services.add(inference);
        services.add(injector.getInstance(ReplicaMonitoringService.class));
        services.add(health.service());
        // reflection with the proto comments and the error detail types (grpcurl describe, error decoding)
        services.addAll(ApiReflection.fromClasspath(this::serviceNames, HealthProto.getDescriptor())
                .services());
        for (BindableService service : services) {
            builder.addService(MalformedRequests.guard(service.bindService(), GrpcErrors.DOMAIN));
        }
        // for every service, present and future; the last added runs first: the call's span covers the
        // auth check (the call metrics are a stream tracer and see every status anyway)
        builder.intercept(auth).intercept(instrumentation.serverInterceptor());
        // calls the router marks as bulk are parsed and decoded on low-priority threads
        this.bulkCalls = new BulkCalls(
                "modelserver-bulk-call",
                Set.of(),
                Math.max(2, Runtime.getRuntime().availableProcessors()));
        builder.callExecutor(bulkCalls);
        this.server = builder.build();
    }

    /** Starts a server with the Netty transport on {@code config.host():config.port()} (port 0 = ephemeral). */
    public static ModelServer start(ModelServerConfig config) {
        return start(config, ModelServer::nettyTransport, List.of());
    }

    /** Starts a server on a given transport, with bindings replaced by {@code overrides} (tests). */
    static ModelServer start(
            ModelServerConfig config, Function<ModelServerConfig, ServerBuilder<?>> transport, List<Module> overrides) {
        Injector injector =
                Guice.createInjector(Modules.override(modules(config)).with(overrides));
        ModelServer server = new ModelServer(config, injector, transport);
        server.startServing();
        return server;
    }

    static List<Module> modules(ModelServerConfig config) {
        return List.of(
                new ConfigModule(config),
                new TelemetryModule(),
                new AuthModule(),
                new BatchingModule(),
                new RepositoryModule(),
                new HealthModule(),
                new InferenceModule(),
                new MonitoringModule());
    }

    private void startServing() {
        if (config.adminToken().isEmpty()) {
            log.warn("no admin token configured (--admin-token-file): RepositoryModelLoad and RepositoryModelUnload "
                    + "are refused with UNAUTHENTICATED; the server still polls its repository and applies its "
                    + "version policy");
        }
        repository.start();
        health.start();
        try {
            server.start();
        } catch (IOException e) {
            repository.close();
            telemetry.close();
            throw new UncheckedIOException("cannot listen on " + config.host() + ":" + config.port(), e);
        }
        if (config.httpPort() != -1) {
            try {
                rest = new RestServer(
                        config.host(),
                        config.httpPort(),
                        Math.max(4, config.batchWorkers()),
                        inference,
                        auth,
                        ServerTls.httpsIfConfigured(config.tlsCert(), config.tlsKey(), config.tlsClientCa()));
            } catch (RuntimeException e) {
                server.shutdownNow();
                repository.close();
                telemetry.close();
                throw e;
            }
        }
        log.info(
                "server started on {}:{} (repository {}, models {}, {})",
                config.host(),
                port(),
                config.repository(),
                repository.expectedModels().isEmpty() ? "(none yet)" : String.join(",", repository.expectedModels()),
                config.tlsClientCa().isPresent()
                        ? "mutual TLS"
                        : config.tlsCert().isPresent() ? "TLS" : "plaintext");
    }

    static ServerBuilder<?> nettyTransport(ModelServerConfig config) {
        InetSocketAddress address = new InetSocketAddress(config.host(), config.port());
        NettyServerBuilder builder;
        if (config.tlsCert().isPresent()) {
            builder = NettyServerBuilder.forAddress(
                    address,
                    ServerTls.credentials(
                            config.tlsCert().get(), config.tlsKey().orElseThrow(), config.tlsClientCa()));
        } else {
            builder = NettyServerBuilder.forAddress(address);
        }
        return builder.withChildOption(ChannelOption.ALLOCATOR, BulkAwareAllocator.DEFAULT)
                .maxInboundMessageSize(config.maxMessageSize())
                .maxInboundMetadataSize(64 * 1024)
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true);
    }

    private List<String> serviceNames() {
        return services().stream().map(ServiceDescriptor::getName).toList();
    }

    /** The bound REST port (the ephemeral one when configured with 0); -1 when REST is off. */
    public int httpPort() {
        RestServer restServer = rest;
        return restServer == null ? -1 : restServer.port();
    }

    /** The bound metrics port (the ephemeral one when configured with 0); -1 when disabled. */
    public int metricsPort() {
        return telemetry.metricsPort();
    }

    /** The bound port (the ephemeral one when configured with 0); -1 for in-process transports. */
    public int port() {
        return server.getPort();
    }

    /** Waits until every expected model has a READY version. */
    public void awaitReady(Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!repository.expectedModelsReady()) {
            if (System.nanoTime() - deadline > 0) {
                throw new TimeoutException("models not ready after " + timeout + ": "
                        + repository.index().stream()
                                .map(VersionStatus::toString)
                                .collect(Collectors.joining("; ")));
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for models", e);
            }
        }
    }

    /** The services this server serves, as registered (for checks that must cover every method). */
    public List<ServiceDescriptor> services() {
        return server.getServices().stream()
                .map(ServerServiceDefinition::getServiceDescriptor)
                .toList();
    }

    /** The repository, for in-JVM callers that trigger scans (tests, tooling). */
    public ModelRepository repository() {
        return repository;
    }

    /** Blocks until the server has terminated. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /**
     * Graceful shutdown: health NOT_SERVING, stop accepting calls, let in-flight calls finish within
     * the drain timeout, then force; then unload models and stop telemetry. Safe to call twice.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        log.info("server stopping (draining up to {})", config.drainTimeout());
        health.shuttingDown();
        RestServer restServer = rest;
        if (restServer != null) {
            restServer.close();
        }
        server.shutdown();
        try {
            if (!server.awaitTermination(config.drainTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("calls still running after the drain timeout of {}; cancelling them", config.drainTimeout());
                server.shutdownNow();
                server.awaitTermination(FORCED_SHUTDOWN_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            bulkCalls.close();
            repository.close();
            telemetry.close();
        }
        log.info("server stopped");
    }
}
