package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse;
import io.grpc.ConnectivityState;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Knows which models and versions the replicas have, each version's state on each replica and its
 * feature schema, and each replica's health, by polling every replica's {@code RepositoryIndex} and
 * health (and, once per new version, {@code ModelMetadata}) periodically and on demand.
 *
 * <p>Why separate per-replica channels: the data-path channels balance calls round-robin and hide
 * which replica answers, but the catalog must reach every replica, not whichever is next. These
 * channels carry only a few small calls every refresh interval, and the control plane's load and
 * unload calls ({@link #replicaStub}); they never carry scoring traffic.
 *
 * <p>Thread-safe: readers see immutable snapshots; polls are serialized by a lock; on-demand
 * refreshes are single-flight (one poll at a time, concurrent callers wait for its result, each
 * bounded by its own deadline).
 */
public final class ModelCatalog implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(ModelCatalog.class);
    private static final long POLL_DEADLINE_MILLIS = 2_000;
    /** Suffix of the model-server's platform for a continuous target ("trellis_stacked_ensemble_regression"). */
    static final String REGRESSION_PLATFORM_SUFFIX = "_regression";

    private static final long ON_DEMAND_MIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final UpstreamConfig config;
    private final ScheduledExecutorService scheduler;
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final Map<String, FeatureSchema> schemas = new ConcurrentHashMap<>();
    // the last index each replica answered: what an unreachable replica is known to have had
    private final Map<String, RepositoryIndexResponse> lastIndexes = new ConcurrentHashMap<>();
    private final AtomicReference<CatalogSnapshot> snapshot = new AtomicReference<>(CatalogSnapshot.EMPTY);
    private final List<Consumer<CatalogSnapshot>> preparers = new CopyOnWriteArrayList<>();
    private final List<Consumer<CatalogSnapshot>> listeners = new CopyOnWriteArrayList<>();
    private final Object refreshLock = new Object();
    private final Object demandLock = new Object();

    @GuardedBy("demandLock")
    private CompletableFuture<CatalogSnapshot> demandPoll;

    @GuardedBy("demandLock")
    private long demandPollStartNanos;

    // when the poll behind the current snapshot started; polls are serialized, so this only grows
    private volatile long completedPollStartNanos = System.nanoTime() - TimeUnit.DAYS.toNanos(1);
    private volatile boolean closed;

    @Inject
    public ModelCatalog(UpstreamConfig config) {
        this.config = requireNonNull(config, "config is null");
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "trellis-catalog");
            t.setDaemon(true);
            return t;
        });
    }

    /** Polls now and then every refresh interval. */
    public void start() {
        long period = config.catalogRefresh().toMillis();
        scheduler.scheduleWithFixedDelay(this::refreshQuietly, 0, period, TimeUnit.MILLISECONDS);
    }

    public CatalogSnapshot snapshot() {
        return snapshot.get();
    }

    /**
     * Called with every new snapshot before {@link #snapshot()} returns it, on the polling thread:
     * for what requests routed on the snapshot need in place (the data path's channels).
     */
    public void beforePublishing(Consumer<CatalogSnapshot> preparer) {
        preparers.add(requireNonNull(preparer, "preparer is null"));
    }

    /** Called with every new snapshot, on the polling thread, once it is published. */
    public void addListener(Consumer<CatalogSnapshot> listener) {
        listeners.add(requireNonNull(listener, "listener is null"));
    }

    /**
     * A snapshot at most half a second old, polling now if the current one is older; for a request
     * that names a model or version the last snapshot does not know (a version loaded since).
     * Single-flight: see {@link #refreshIfOlderThan}.
     */
    public CatalogSnapshot refreshOnDemand() {
        return refreshIfOlderThan(System.nanoTime() - ON_DEMAND_MIN_INTERVAL_NANOS);
    }

    /**
     * {@link #refreshOnDemand} without blocking, for a transport thread: completes on the catalog's
     * thread once the poll is done, or with the current snapshot when the caller's deadline (of the
     * current gRPC context) is three quarters spent first, as the blocking form returns. Completed
     * already when the current snapshot is recent enough.
     */
    public CompletableFuture<CatalogSnapshot> refreshOnDemandAsync() {
        CompletableFuture<CatalogSnapshot> poll =
                refreshIfOlderThanAsync(System.nanoTime() - ON_DEMAND_MIN_INTERVAL_NANOS);
        if (poll.isDone()) {
            return poll;
        }
        // a copy: the poll may be shared with other callers, whose waits end on their own deadlines
        return poll.copy()
                .orTimeout(waitNanos(), TimeUnit.NANOSECONDS)
                .handle((fresh, timedOut) -> timedOut == null ? fresh : snapshot.get());
    }

    /**
     * A snapshot from a poll that started at or after {@code notBeforeNanos} ({@link System#nanoTime}),
     * e.g. after an upstream call that started then failed, to learn what changed. Blocks the caller
     * at most until three quarters of its own deadline (then it gets the current snapshot). See
     * {@link #refreshIfOlderThanAsync}.
     */
    public CatalogSnapshot refreshIfOlderThan(long notBeforeNanos) {
        return awaitWithinDeadline(refreshIfOlderThanAsync(notBeforeNanos));
    }

    /**
     * Like {@link #refreshIfOlderThan} without blocking: the poll runs on the catalog's thread, so a
     * transport thread may ask. Single-flight: while one poll is pending, callers share it instead of
     * starting another; a caller that needs a newer poll than the pending one gets the one after it.
     */
    public CompletableFuture<CatalogSnapshot> refreshIfOlderThanAsync(long notBeforeNanos) {
        CompletableFuture<CatalogSnapshot> pending;
        synchronized (demandLock) {
            if (completedPollStartNanos - notBeforeNanos >= 0 || closed) {
                return CompletableFuture.completedFuture(snapshot.get());
            }
            if (demandPoll != null && demandPollStartNanos - notBeforeNanos >= 0) {
                return demandPoll;
            }
            if (demandPoll != null) {
                pending = demandPoll;
            } else {
                pending = null;
                demandPoll = new CompletableFuture<>();
                demandPollStartNanos = System.nanoTime();
                CompletableFuture<CatalogSnapshot> mine = demandPoll;
                try {
                    scheduler.execute(() -> pollFor(mine));
                } catch (RejectedExecutionException e) {
                    demandPoll = null;
                    mine.complete(snapshot.get());
                }
                return mine;
            }
        }
        // the pending poll was asked for too early: the next one, once it is done
        return pending.thenCompose(ignored -> refreshIfOlderThanAsync(notBeforeNanos));
    }

    private void pollFor(CompletableFuture<CatalogSnapshot> poll) {
        try {
            refreshQuietly();
        } finally {
            synchronized (demandLock) {
                if (demandPoll == poll) {
                    demandPoll = null;
                }
            }
            poll.complete(snapshot.get());
        }
    }

    private CatalogSnapshot awaitWithinDeadline(CompletableFuture<CatalogSnapshot> poll) {
        try {
            return poll.get(waitNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            return snapshot.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return snapshot.get();
        }
    }

    /** How long a caller waits for an on-demand poll: at most three quarters of its deadline. */
    private static long waitNanos() {
        long timeoutNanos = TimeUnit.MILLISECONDS.toNanos(POLL_DEADLINE_MILLIS + 500);
        Deadline deadline = Context.current().getDeadline();
        if (deadline != null) {
            // keep a quarter of the caller's time to answer with the last snapshot: a replica that
            // does not answer its poll must not turn ListModels into DEADLINE_EXCEEDED
            timeoutNanos = Math.min(timeoutNanos, deadline.timeRemaining(TimeUnit.NANOSECONDS) * 3 / 4);
        }
        return Math.max(0, timeoutNanos);
    }

    /** Blocks until at least one version is servable or the timeout passes. */
    public boolean awaitAnyReady(long timeout, TimeUnit unit) throws InterruptedException {
        long end = System.nanoTime() + unit.toNanos(timeout);
        while (!snapshot.get().anyReady()) {
            if (System.nanoTime() > end) {
                return false;
            }
            refreshQuietly();
            if (!snapshot.get().anyReady()) {
                Thread.sleep(50);
            }
        }
        return true;
    }

    private void refreshQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            log.warn("catalog refresh failed: {}", e.toString());
        }
    }

    /** Polls every replica and publishes a new snapshot. */
    public void refresh() {
        if (closed) {
            return;
        }
        synchronized (refreshLock) {
            // Background work: detach from any caller's context so a cancelled request cannot cancel the poll.
            Context previous = Context.ROOT.attach();
            long started = System.nanoTime();
            try {
                doRefresh();
            } finally {
                Context.ROOT.detach(previous);
                completedPollStartNanos = started;
            }
        }
    }

    /**
     * A stub to one replica by its name, with a deadline; for the control plane's repository calls.
     * Empty when the last poll did not see that replica.
     */
    public Optional<GRPCInferenceServiceFutureStub> replicaStub(String replica, Duration deadline) {
        return snapshot.get()
                .replica(replica)
                .map(r -> GRPCInferenceServiceGrpc.newFutureStub(channel(r))
                        .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS));
    }

    /**
     * The control channel of one replica by its name (the catalog's own, not the data path's), for
     * the few calls that must reach every replica, such as the monitoring profiles; callers set
     * deadlines. Empty when the last poll did not see that replica.
     */
    public Optional<ManagedChannel> replicaChannel(String replica) {
        return snapshot.get().replica(replica).map(this::channel);
    }

    private void doRefresh() {
        UpstreamTargets.Resolution resolution = config.targets().resolve();
        for (String problem : resolution.problems()) {
            log.warn("{}", problem);
        }
        List<CatalogSnapshot.Replica> replicas = new ArrayList<>();
        for (UpstreamTargets.Replica replica : resolution.replicas()) {
            replicas.add(new CatalogSnapshot.Replica(
                    replica.name(),
                    new InetSocketAddress(replica.host(), replica.port()),
                    replica.authority(),
                    false,
                    false));
        }
        // drop channels of replicas that left
        Set<String> names = new HashSet<>();
        replicas.forEach(r -> names.add(r.name()));
        for (String gone : new ArrayList<>(channels.keySet())) {
            if (!names.contains(gone)) {
                ManagedChannel channel = channels.remove(gone);
                lastIndexes.remove(gone);
                if (channel != null) {
                    channel.shutdownNow();
                }
            }
        }
        Map<String, ListenableFuture<RepositoryIndexResponse>> indexes = new LinkedHashMap<>();
        Map<String, ListenableFuture<HealthCheckResponse>> healths = new HashMap<>();
        for (CatalogSnapshot.Replica replica : replicas) {
            if (replica.address().isUnresolved()) {
                continue;
            }
            // The calls fail fast (no wait-for-ready): one that waited for a refused replica's next
            // connection attempt would hold the whole poll, and with it every other replica's news, for
            // up to the deadline; failing, the replica counts as unreachable and the next poll retries.
            ManagedChannel channel = pollChannel(replica);
            indexes.put(
                    replica.name(),
                    GRPCInferenceServiceGrpc.newFutureStub(channel)
                            .withDeadlineAfter(POLL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                            .repositoryIndex(RepositoryIndexRequest.newBuilder()
                                    .setReady(false)
                                    .build()));
            healths.put(
                    replica.name(),
                    HealthGrpc.newFutureStub(channel)
                            .withDeadlineAfter(POLL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                            .check(HealthCheckRequest.newBuilder()
                                    .setService(config.healthService())
                                    .build()));
        }
        // model -> version -> replica -> (state, reason)
        Map<String, Map<String, Map<String, RepositoryIndexResponse.ModelIndex>>> states = new HashMap<>();
        Map<String, String> readyReplicaOfVersion = new HashMap<>();
        List<CatalogSnapshot.Replica> seen = new ArrayList<>();
        for (CatalogSnapshot.Replica replica : replicas) {
            RepositoryIndexResponse index =
                    indexes.containsKey(replica.name()) ? await(indexes.get(replica.name()), replica.name()) : null;
            boolean serving = index != null && serving(healths.get(replica.name()));
            seen.add(new CatalogSnapshot.Replica(
                    replica.name(), replica.address(), replica.authority(), index != null, serving));
            boolean reachable = index != null;
            if (reachable) {
                lastIndexes.put(replica.name(), index);
            } else {
                // keep the versions it had in view, as UNREACHABLE: a model whose replicas are all down is
                // unavailable, not unknown
                index = lastIndexes.get(replica.name());
                if (index == null) {
                    continue;
                }
            }
            for (RepositoryIndexResponse.ModelIndex m : index.getModelsList()) {
                if (m.getVersion().isEmpty()) {
                    continue;
                }
                states.computeIfAbsent(m.getName(), k -> new HashMap<>())
                        .computeIfAbsent(m.getVersion(), k -> new HashMap<>())
                        .put(
                                replica.name(),
                                reachable
                                        ? m
                                        : m.toBuilder()
                                                .setState(CatalogSnapshot.UNREACHABLE)
                                                .setReason("last seen " + m.getState())
                                                .build());
                if (reachable && ("READY".equals(m.getState()) || "STALE".equals(m.getState()))) {
                    readyReplicaOfVersion.putIfAbsent(m.getName() + "/" + m.getVersion(), replica.name());
                }
            }
        }
        fetchMissingSchemas(readyReplicaOfVersion, seen);

        Map<String, CatalogSnapshot.Model> models = new HashMap<>();
        for (Map.Entry<String, Map<String, Map<String, RepositoryIndexResponse.ModelIndex>>> model :
                states.entrySet()) {
            Map<String, CatalogSnapshot.Version> versions = new HashMap<>();
            for (Map.Entry<String, Map<String, RepositoryIndexResponse.ModelIndex>> version :
                    model.getValue().entrySet()) {
                Map<String, CatalogSnapshot.ReplicaState> perReplica = new HashMap<>();
                for (CatalogSnapshot.Replica replica : seen) {
                    RepositoryIndexResponse.ModelIndex entry =
                            version.getValue().get(replica.name());
                    if (entry != null) {
                        perReplica.put(
                                replica.name(),
                                new CatalogSnapshot.ReplicaState(
                                        entry.getState(), entry.getReason(), replica.serving()));
                    } else {
                        perReplica.put(
                                replica.name(),
                                new CatalogSnapshot.ReplicaState(
                                        replica.reachable() ? CatalogSnapshot.ABSENT : CatalogSnapshot.UNREACHABLE,
                                        "",
                                        false));
                    }
                }
                Optional<FeatureSchema> schema =
                        Optional.ofNullable(schemas.get(model.getKey() + "/" + version.getKey()));
                versions.put(version.getKey(), new CatalogSnapshot.Version(version.getKey(), perReplica, schema));
            }
            models.put(model.getKey(), CatalogSnapshot.Model.of(model.getKey(), versions));
        }
        CatalogSnapshot next = new CatalogSnapshot(seen, models);
        notify(preparers, next);
        snapshot.set(next);
        notify(listeners, next);
    }

    private static void notify(List<Consumer<CatalogSnapshot>> listeners, CatalogSnapshot next) {
        for (Consumer<CatalogSnapshot> listener : listeners) {
            try {
                listener.accept(next);
            } catch (RuntimeException e) {
                log.warn("catalog listener failed: {}", e.toString());
            }
        }
    }

    private boolean serving(ListenableFuture<HealthCheckResponse> health) {
        try {
            return health.get(POLL_DEADLINE_MILLIS + 500, TimeUnit.MILLISECONDS).getStatus()
                    == HealthCheckResponse.ServingStatus.SERVING;
        } catch (ExecutionException e) {
            // like client-side health checking: a server without the health service counts as healthy
            return Status.fromThrowable(e.getCause()).getCode() == Status.Code.UNIMPLEMENTED;
        } catch (TimeoutException e) {
            health.cancel(true);
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void fetchMissingSchemas(Map<String, String> readyReplicaOfVersion, List<CatalogSnapshot.Replica> seen) {
        Map<String, CatalogSnapshot.Replica> byName = new HashMap<>();
        seen.forEach(r -> byName.put(r.name(), r));
        Map<String, ListenableFuture<ModelMetadataResponse>> pending = new HashMap<>();
        for (Map.Entry<String, String> e : readyReplicaOfVersion.entrySet()) {
            if (schemas.containsKey(e.getKey())) {
                continue; // a version's bundle is immutable, so its schema never changes
            }
            int slash = e.getKey().lastIndexOf('/');
            pending.put(
                    e.getKey(),
                    GRPCInferenceServiceGrpc.newFutureStub(channel(byName.get(e.getValue())))
                            .withDeadlineAfter(POLL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                            .modelMetadata(ModelMetadataRequest.newBuilder()
                                    .setName(e.getKey().substring(0, slash))
                                    .setVersion(e.getKey().substring(slash + 1))
                                    .build()));
        }
        for (Map.Entry<String, ListenableFuture<ModelMetadataResponse>> e : pending.entrySet()) {
            ModelMetadataResponse metadata = await(e.getValue(), e.getKey());
            if (metadata == null) {
                continue;
            }
            List<FeatureSchema.Feature> features = new ArrayList<>();
            for (ModelMetadataResponse.TensorMetadata input : metadata.getInputsList()) {
                features.add(new FeatureSchema.Feature(
                        input.getName(), "BYTES".equals(input.getDatatype()), features.size()));
            }
            try {
                schemas.put(e.getKey(), FeatureSchema.of(features, targetKind(metadata.getPlatform())));
            } catch (IllegalArgumentException ex) {
                log.warn("bad metadata for {}: {}", e.getKey(), ex.getMessage());
            }
        }
    }

    /** The model-server names a continuous target's models by platform (ModelMetadata has no parameters). */
    static TargetKind targetKind(String platform) {
        return platform.endsWith(REGRESSION_PLATFORM_SUFFIX)
                ? TargetKind.TARGET_KIND_REGRESSION
                : TargetKind.TARGET_KIND_BINARY;
    }

    private <T> T await(ListenableFuture<T> future, String what) {
        try {
            return future.get(POLL_DEADLINE_MILLIS + 500, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            log.debug("poll of {} failed: {}", what, e.getCause().toString());
            return null;
        } catch (TimeoutException e) {
            future.cancel(true);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private ManagedChannel channel(CatalogSnapshot.Replica replica) {
        return channels.computeIfAbsent(replica.name(), name -> newChannel(replica));
    }

    /**
     * The replica's channel for a poll: a new one in place of one in TRANSIENT_FAILURE. A replica
     * that was down is tried now, not after the channel's exponential backoff, and a fail-fast call
     * on the failed channel would fail with the old error even if the replica is back (grpc-java
     * keeps it in TRANSIENT_FAILURE until a reconnect succeeds); on a new channel it waits for the
     * first connection attempt, which a live replica answers in a millisecond.
     */
    private ManagedChannel pollChannel(CatalogSnapshot.Replica replica) {
        ManagedChannel channel = channel(replica);
        if (channel.getState(false) != ConnectivityState.TRANSIENT_FAILURE) {
            return channel;
        }
        ManagedChannel fresh = newChannel(replica);
        if (channels.replace(replica.name(), channel, fresh)) {
            channel.shutdown();
            return fresh;
        }
        fresh.shutdownNow();
        return channel(replica);
    }

    private ManagedChannel newChannel(CatalogSnapshot.Replica replica) {
        NettyChannelBuilder builder = NettyChannelBuilder.forAddress(
                replica.address().getHostString(), replica.address().getPort());
        return UpstreamTls.apply(builder, config.tls(), config.ca(), config.clientCert(), config.clientKey())
                .overrideAuthority(replica.authority())
                .maxInboundMessageSize(config.maxMessageSize())
                .intercept(config.credentials())
                .build();
    }

    @Override
    public void close() {
        closed = true;
        scheduler.shutdownNow();
        synchronized (demandLock) {
            if (demandPoll != null) {
                demandPoll.complete(snapshot.get());
                demandPoll = null;
            }
        }
        for (ManagedChannel channel : channels.values()) {
            channel.shutdownNow();
        }
        channels.clear();
    }
}
