package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.ListenableFuture;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Knows which models and versions the replicas serve, each version's feature schema, and each
 * replica's readiness, by polling every replica's {@code RepositoryIndex} (and, once per new
 * version, {@code ModelMetadata}) periodically and on demand.
 *
 * <p>Why separate per-replica channels: the pool channel balances calls round-robin and hides
 * which replica answers, but ListModels must report readiness <em>per replica</em>, and a poll
 * must reach every replica, not whichever is next. These channels carry only a few small calls
 * every refresh interval, so they cost one idle HTTP/2 connection per replica and never touch
 * the data path.
 *
 * <p>Thread-safe: readers see immutable snapshots; refreshes are serialized by a lock.
 */
public final class ModelCatalog implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(ModelCatalog.class);
    private static final long POLL_DEADLINE_MILLIS = 2_000;
    private static final long ON_DEMAND_MIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final UpstreamConfig config;
    private final ScheduledExecutorService scheduler;
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final Map<String, FeatureSchema> schemas = new ConcurrentHashMap<>();
    private final AtomicReference<CatalogSnapshot> snapshot = new AtomicReference<>(CatalogSnapshot.EMPTY);
    private final List<Consumer<CatalogSnapshot>> listeners = new CopyOnWriteArrayList<>();
    private final Object refreshLock = new Object();
    private volatile long lastRefreshNanos = System.nanoTime() - ON_DEMAND_MIN_INTERVAL_NANOS;
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

    public void addListener(Consumer<CatalogSnapshot> listener) {
        listeners.add(requireNonNull(listener, "listener is null"));
    }

    /**
     * Refreshes now unless a refresh finished very recently; for a request that names a model or
     * version the last snapshot does not know (a version loaded since). Blocks up to the poll
     * deadline.
     */
    public CatalogSnapshot refreshOnDemand() {
        if (System.nanoTime() - lastRefreshNanos >= ON_DEMAND_MIN_INTERVAL_NANOS) {
            refreshQuietly();
        }
        return snapshot.get();
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
            try {
                doRefresh();
            } finally {
                Context.ROOT.detach(previous);
                lastRefreshNanos = System.nanoTime();
            }
        }
    }

    private void doRefresh() {
        List<String> replicas;
        try {
            replicas = config.targets().resolveReplicas().stream()
                    .map(UpstreamTargets.HostPort::toString)
                    .toList();
        } catch (java.net.UnknownHostException e) {
            log.warn("cannot resolve upstream replicas: {}", e.getMessage());
            replicas = List.copyOf(channels.keySet());
        }
        // drop channels of replicas that left
        for (String gone : new ArrayList<>(channels.keySet())) {
            if (!replicas.contains(gone)) {
                ManagedChannel channel = channels.remove(gone);
                if (channel != null) {
                    channel.shutdownNow();
                }
            }
        }
        Map<String, ListenableFuture<RepositoryIndexResponse>> indexes = new LinkedHashMap<>();
        for (String replica : replicas) {
            indexes.put(
                    replica,
                    stub(replica)
                            .repositoryIndex(RepositoryIndexRequest.newBuilder()
                                    .setReady(false)
                                    .build()));
        }
        // model -> version -> replica -> state
        Map<String, Map<String, Map<String, CatalogSnapshot.ReplicaState>>> states = new HashMap<>();
        Map<String, String> readyReplicaOfVersion = new HashMap<>();
        for (Map.Entry<String, ListenableFuture<RepositoryIndexResponse>> entry : indexes.entrySet()) {
            String replica = entry.getKey();
            RepositoryIndexResponse index = await(entry.getValue(), replica);
            if (index == null) {
                continue;
            }
            for (RepositoryIndexResponse.ModelIndex m : index.getModelsList()) {
                if (m.getVersion().isEmpty()) {
                    continue;
                }
                states.computeIfAbsent(m.getName(), k -> new HashMap<>())
                        .computeIfAbsent(m.getVersion(), k -> new HashMap<>())
                        .put(replica, new CatalogSnapshot.ReplicaState(m.getState(), m.getReason()));
                if ("READY".equals(m.getState())) {
                    readyReplicaOfVersion.putIfAbsent(m.getName() + "/" + m.getVersion(), replica);
                }
            }
        }
        fetchMissingSchemas(readyReplicaOfVersion);

        Map<String, CatalogSnapshot.Model> models = new HashMap<>();
        for (Map.Entry<String, Map<String, Map<String, CatalogSnapshot.ReplicaState>>> model : states.entrySet()) {
            Map<String, CatalogSnapshot.Version> versions = new HashMap<>();
            for (Map.Entry<String, Map<String, CatalogSnapshot.ReplicaState>> version :
                    model.getValue().entrySet()) {
                Map<String, CatalogSnapshot.ReplicaState> perReplica = new HashMap<>(version.getValue());
                for (String replica : replicas) {
                    perReplica.putIfAbsent(
                            replica,
                            new CatalogSnapshot.ReplicaState(
                                    indexes.containsKey(replica) ? "UNKNOWN" : "UNREACHABLE", ""));
                }
                Optional<FeatureSchema> schema =
                        Optional.ofNullable(schemas.get(model.getKey() + "/" + version.getKey()));
                versions.put(version.getKey(), new CatalogSnapshot.Version(version.getKey(), perReplica, schema));
            }
            models.put(model.getKey(), CatalogSnapshot.Model.of(model.getKey(), versions));
        }
        CatalogSnapshot next = new CatalogSnapshot(replicas, models);
        snapshot.set(next);
        for (Consumer<CatalogSnapshot> listener : listeners) {
            listener.accept(next);
        }
    }

    private void fetchMissingSchemas(Map<String, String> readyReplicaOfVersion) {
        Map<String, ListenableFuture<ModelMetadataResponse>> pending = new HashMap<>();
        for (Map.Entry<String, String> e : readyReplicaOfVersion.entrySet()) {
            if (schemas.containsKey(e.getKey())) {
                continue; // a version's bundle is immutable, so its schema never changes
            }
            int slash = e.getKey().lastIndexOf('/');
            pending.put(
                    e.getKey(),
                    stub(e.getValue())
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
                schemas.put(e.getKey(), FeatureSchema.of(features));
            } catch (IllegalArgumentException ex) {
                log.warn("bad metadata for {}: {}", e.getKey(), ex.getMessage());
            }
        }
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

    private GRPCInferenceServiceFutureStub stub(String replica) {
        return GRPCInferenceServiceGrpc.newFutureStub(replicaChannel(replica))
                .withDeadlineAfter(POLL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
    }

    /**
     * The control channel of one replica (the catalog's own, not the data path's): for the few calls
     * that must reach every replica, such as the monitoring profiles. Callers set deadlines.
     */
    public ManagedChannel replicaChannel(String replica) {
        return channels.computeIfAbsent(replica, r -> {
            UpstreamTargets.HostPort hp = UpstreamTargets.HostPort.parse(r, 8081);
            NettyChannelBuilder builder = NettyChannelBuilder.forAddress(hp.host(), hp.port());
            return UpstreamTls.apply(builder, config.tls(), config.ca(), config.clientCert(), config.clientKey())
                    .maxInboundMessageSize(config.maxMessageSize())
                    .build();
        });
    }

    @Override
    public void close() {
        closed = true;
        scheduler.shutdownNow();
        for (ManagedChannel channel : channels.values()) {
            channel.shutdownNow();
        }
        channels.clear();
    }
}
