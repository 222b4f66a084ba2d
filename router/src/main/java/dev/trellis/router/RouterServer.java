package dev.trellis.router;

import static java.util.Objects.requireNonNull;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Module;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.MonitoringGrpc;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.common.grpc.ApiReflection;
import dev.trellis.common.grpc.MalformedRequests;
import dev.trellis.common.sched.BulkAwareAllocator;
import dev.trellis.common.sched.BulkCalls;
import dev.trellis.common.telemetry.GrpcInstrumentation;
import dev.trellis.common.tls.ServerTls;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.router.admin.AdminModule;
import dev.trellis.router.admin.ExperimentsService;
import dev.trellis.router.auth.AuthInterceptor;
import dev.trellis.router.auth.AuthModule;
import dev.trellis.router.auth.RouterAccess;
import dev.trellis.router.config.ConfigModule;
import dev.trellis.router.config.RouterConfig;
import dev.trellis.router.console.ConsoleServer;
import dev.trellis.router.control.ControlModule;
import dev.trellis.router.control.ControlPlane;
import dev.trellis.router.errors.StatusMapper;
import dev.trellis.router.monitoring.MonitoringModule;
import dev.trellis.router.monitoring.MonitoringService;
import dev.trellis.router.monitoring.PerformanceRefresh;
import dev.trellis.router.rollout.RolloutController;
import dev.trellis.router.rollout.RolloutModule;
import dev.trellis.router.routing.RoutingModule;
import dev.trellis.router.scoring.ExposureLog;
import dev.trellis.router.scoring.ScoringModule;
import dev.trellis.router.scoring.ScoringService;
import dev.trellis.router.telemetry.Telemetry;
import dev.trellis.router.telemetry.TelemetryModule;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import dev.trellis.router.upstream.UpstreamModule;
import dev.trellis.router.upstream.UpstreamPool;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthProto;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.protobuf.services.HealthStatusManager;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running router: the public gRPC port (Scoring, Experiments, health, reflection), the
 * upstream pool and catalog, the control plane, the rollout controller and the metrics endpoint. Thread-safe;
 * {@link #close()} is graceful and idempotent.
 */
public final class RouterServer implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(RouterServer.class);

    private final RouterConfig config;
    private final ScoringService scoring;
    private final ExperimentsService experiments;
    private final MonitoringService monitoring;
    private final AuthInterceptor auth;
    private final GrpcInstrumentation instrumentation;
    private final ModelCatalog catalog;
    private final UpstreamPool pool;
    private final ControlPlane controlPlane;
    private final RolloutController rollouts;
    private final ExposureLog exposures;
    private final ExperimentStore store;
    private final Telemetry telemetry;
    private final PerformanceRefresh performanceRefresh;
    private final HealthStatusManager health = new HealthStatusManager();
    private final ScheduledExecutorService storeHealth = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "trellis-store-health");
        t.setDaemon(true);
        return t;
    });
    // ScoreBatch handlers (and the upstream answers of bulk calls) run on low-priority threads; Score
    // handlers on the transport thread: they route and send the upstream call without blocking (an
    // on-demand catalog poll runs on the catalog's thread), and the hand-off to an executor thread
    // cost a fifth of the closed-loop throughput on 2 cores (README, Benchmarks)
    private final BulkCalls bulkCalls = new BulkCalls(
            "router-bulk-call",
            Set.of(ScoringGrpc.getScoreBatchMethod().getFullMethodName()),
            Set.of(ScoringGrpc.getScoreMethod().getFullMethodName()),
            Math.max(2, Runtime.getRuntime().availableProcessors()));
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile Server server; // read by the reflection service's list call
    private volatile ConsoleServer console; // null without --http-port

    @Inject
    RouterServer(
            RouterConfig config,
            ScoringService scoring,
            ExperimentsService experiments,
            MonitoringService monitoring,
            AuthInterceptor auth,
            GrpcInstrumentation instrumentation,
            ModelCatalog catalog,
            UpstreamPool pool,
            ControlPlane controlPlane,
            RolloutController rollouts,
            ExposureLog exposures,
            ExperimentStore store,
            Telemetry telemetry,
            PerformanceRefresh performanceRefresh) {
        this.config = requireNonNull(config, "config is null");
        this.scoring = requireNonNull(scoring, "scoring is null");
        this.experiments = requireNonNull(experiments, "experiments is null");
        this.monitoring = requireNonNull(monitoring, "monitoring is null");
        this.auth = requireNonNull(auth, "auth is null");
        this.instrumentation = requireNonNull(instrumentation, "instrumentation is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.pool = requireNonNull(pool, "pool is null");
        this.controlPlane = requireNonNull(controlPlane, "controlPlane is null");
        this.rollouts = requireNonNull(rollouts, "rollouts is null");
        this.exposures = requireNonNull(exposures, "exposures is null");
        this.store = requireNonNull(store, "store is null");
        this.telemetry = requireNonNull(telemetry, "telemetry is null");
        this.performanceRefresh = requireNonNull(performanceRefresh, "performanceRefresh is null");
    }

    /** The Guice modules of a router; main code and tests assemble the same list. */
    public static List<Module> modules(RouterConfig config, Clock clock) {
        return List.of(
                new ConfigModule(config, clock),
                new TelemetryModule(),
                new UpstreamModule(),
                new RoutingModule(),
                new ControlModule(),
                new RolloutModule(),
                new AuthModule(),
                new ScoringModule(),
                new AdminModule(),
                new MonitoringModule());
    }

    /** Starts a router; port 0 binds an ephemeral port (see {@link #port()}). */
    public static RouterServer start(RouterConfig config) {
        Injector injector = Guice.createInjector(modules(config, Clock.systemUTC()));
        RouterServer router = injector.getInstance(RouterServer.class);
        try {
            router.startServing();
        } catch (RuntimeException e) {
            router.close();
            throw e;
        }
        return router;
    }

    private void startServing() {
        if (config.adminToken().isEmpty()) {
            log.warn("*** no admin token configured (--admin-token-file or TRELLIS_ADMIN_TOKEN): "
                    + "the admin API (experiments, rollouts, default versions, outcomes) is DISABLED ***");
        }
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
        health.setStatus(ScoringGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
        health.setStatus(ExperimentsGrpc.SERVICE_NAME, ServingStatus.SERVING);
        health.setStatus(MonitoringGrpc.SERVICE_NAME, ServingStatus.SERVING);
        catalog.addListener(this::updateScoringHealth);
        controlPlane.start();
        catalog.refresh();
        catalog.start();

        InetSocketAddress address = new InetSocketAddress(config.host(), config.port());
        NettyServerBuilder builder = config.tlsCert().isPresent()
                ? NettyServerBuilder.forAddress(
                        address,
                        ServerTls.credentials(
                                config.tlsCert().get(), config.tlsKey().orElseThrow(), config.tlsClientCa()))
                : NettyServerBuilder.forAddress(address);
        builder.maxInboundMessageSize(config.maxMessageSize())
                .callExecutor(bulkCalls)
                .withChildOption(ChannelOption.ALLOCATOR, BulkAwareAllocator.DEFAULT);
        instrumentation.instrument(builder);
        List<ServerServiceDefinition> services = new ArrayList<>(List.of(
                scoring.bindService(),
                experiments.bindService(),
                monitoring.bindService(),
                health.getHealthService().bindService()));
        // reflection with the proto comments and the error detail types (grpcurl describe, error decoding)
        ApiReflection.fromClasspath(this::serviceNames, HealthProto.getDescriptor()).services().stream()
                .map(BindableService::bindService)
                .forEach(services::add);
        for (ServerServiceDefinition service : services) {
            builder.addService(MalformedRequests.guard(service, StatusMapper.DOMAIN));
        }
        // for every service, present and future; the last added runs first: the call's span covers the
        // auth check (the call metrics are a stream tracer and see every status anyway)
        builder.intercept(auth).intercept(instrumentation.serverInterceptor());
        try {
            server = builder.build().start();
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
        }
        if (config.httpPort() != -1) {
            // the console's JSON API runs the Experiments and Monitoring services behind the same auth check
            console = new ConsoleServer(
                    config.host(),
                    config.httpPort(),
                    List.of(experiments.bindService(), monitoring.bindService()),
                    service -> MalformedRequests.guard(service, StatusMapper.DOMAIN),
                    List.of(auth),
                    RouterAccess.POLICY,
                    config.maxMessageSize(),
                    // the gRPC port's certificate and client-certificate policy, as HTTPS
                    ServerTls.httpsIfConfigured(config.tlsCert(), config.tlsKey(), config.tlsClientCa()));
        }
        rollouts.start();
        performanceRefresh.start();
        storeHealth.scheduleWithFixedDelay(this::updateStoreHealth, 1, 1, TimeUnit.SECONDS);
        registerStoreMetrics();
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
        log.info(
                "router listening on {}:{} ({}), upstream {}",
                config.host(),
                server.getPort(),
                config.tlsClientCa().isPresent()
                        ? "mutual TLS"
                        : config.tlsCert().isPresent() ? "TLS" : "plaintext",
                config.upstreams());
    }

    private List<String> serviceNames() {
        Server running = server;
        return running == null
                ? List.of()
                : running.getServices().stream()
                        .map(s -> s.getServiceDescriptor().getName())
                        .toList();
    }

    /**
     * What a crash would lose right now ({@code trellis_store_pending_records}: exposures and
     * outcomes accepted, not yet committed), what was dropped ({@code trellis_store_dropped_records_total})
     * and whether the store is reachable ({@code trellis_store_available}).
     */
    private void registerStoreMetrics() {
        io.opentelemetry.api.metrics.Meter meter = telemetry.openTelemetry().getMeter("dev.trellis.router");
        meter.gaugeBuilder("trellis.store.pending_records")
                .ofLongs()
                .setDescription("Exposures and outcomes accepted but not yet committed to the store")
                .buildWithCallback(m -> m.record(store.pendingCount() + exposures.queued()));
        meter.counterBuilder("trellis.store.dropped_records")
                .setDescription("Exposures and outcomes that could not be queued or written")
                .buildWithCallback(m -> m.record(store.droppedCount() + exposures.droppedCount()));
        meter.gaugeBuilder("trellis.store.available")
                .ofLongs()
                .setDescription("1 while the experiment store is reachable")
                .buildWithCallback(m -> m.record(store.available() ? 1 : 0));
    }

    /**
     * The Experiments service is NOT_SERVING while the store cannot be reached: its writes fail
     * with UNAVAILABLE, while scoring goes on from the last known definitions (exposures are
     * buffered, bounded and counted).
     */
    private void updateStoreHealth() {
        if (!closed.get()) {
            health.setStatus(
                    ExperimentsGrpc.SERVICE_NAME,
                    store.available() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
        }
    }

    private void updateScoringHealth(CatalogSnapshot snapshot) {
        if (!closed.get()) {
            health.setStatus(
                    ScoringGrpc.SERVICE_NAME, snapshot.anyReady() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
        }
    }

    public int port() {
        return server.getPort();
    }

    /** The bound web console port (the ephemeral one when configured with 0); -1 when disabled. */
    public int httpPort() {
        ConsoleServer running = console;
        return running == null ? -1 : running.port();
    }

    /** The bound metrics port (the ephemeral one when configured with 0); -1 when disabled. */
    public int metricsPort() {
        return telemetry.metricsPort();
    }

    /** The services this router serves, as registered (for checks that must cover every method). */
    public List<ServiceDescriptor> services() {
        return server.getServices().stream()
                .map(ServerServiceDefinition::getServiceDescriptor)
                .toList();
    }

    /** The model catalog (for tests and tools that wait for replicas). */
    public ModelCatalog catalog() {
        return catalog;
    }

    /** Runs one rollout controller pass now (tests). */
    public void tickRollouts() {
        rollouts.tickNow();
    }

    /**
     * Graceful stop without an outage: health NOT_SERVING first while calls are still served for
     * the shutdown delay (load balancers and clients with health checking move away), then stop
     * accepting calls and let in-flight ones finish within the grace period, then stop the
     * controller (releasing the rollout lease), hand the queued exposures to the store, close the
     * upstream channels and the store (which flushes queued exposures and outcomes), and the
     * telemetry.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        storeHealth.shutdownNow();
        ConsoleServer runningConsole = console;
        if (runningConsole != null) {
            runningConsole.close();
        }
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
        health.setStatus(ScoringGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
        health.setStatus(ExperimentsGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
        if (server != null && !config.shutdownDelay().isZero()) {
            log.info(
                    "shutting down: NOT_SERVING, still serving for {} ms",
                    config.shutdownDelay().toMillis());
            try {
                Thread.sleep(config.shutdownDelay().toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        health.enterTerminalState();
        if (server != null) {
            server.shutdown();
            try {
                if (!server.awaitTermination(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
                    server.shutdownNow();
                    server.awaitTermination(2, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                server.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }
        bulkCalls.close();
        performanceRefresh.close();
        rollouts.close();
        exposures.close();
        controlPlane.close();
        catalog.close();
        pool.close();
        try {
            store.close();
        } catch (Exception e) {
            log.warn("closing the experiment store failed: {}", e.toString());
        }
        telemetry.close();
    }
}
