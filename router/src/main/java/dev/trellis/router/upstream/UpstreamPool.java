package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub;
import dev.trellis.router.telemetry.TracingClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.NameResolverRegistry;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data path to the model-server replicas, version-aware: one long-lived channel per
 * <em>replica set</em>, the set of replicas on which some version takes traffic (READY or STALE,
 * replica SERVING), so that a request for a version reaches only replicas that have it. Replicas
 * holding the same versions share one set and one channel; a canary candidate that lives on its
 * own Deployment gets a channel of its own.
 *
 * <p>Inside a set, everything is grpc-java's own machinery, from the service config
 * ({@link UpstreamServiceConfig}): round_robin over the set's replicas, client-side health checking
 * (a draining replica leaves the rotation before the catalog notices), and the retry policy, whose
 * next attempt goes to the next replica of the same set, i.e. another replica that has the
 * version. There is no hand-written retry loop.
 *
 * <p>Sets come from the catalog: every new snapshot opens (and connects) channels for new sets and
 * retires channels that no version has used for {@link #RETIRE_AFTER_NANOS}; retiring is a graceful
 * {@code shutdown()}, so calls in flight finish. Thread-safe; {@link #close()} is idempotent.
 */
public final class UpstreamPool implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);
    static final long RETIRE_AFTER_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final UpstreamConfig config;
    private final TracingClientInterceptor tracing;
    private final ModelCatalog catalog;
    private final Map<List<Member>, ReplicaSet> sets = new ConcurrentHashMap<>();
    // the set of every version of the latest snapshot, by identity: the per-request lookup is one probe
    private volatile Map<CatalogSnapshot.Version, ReplicaSet> byVersion = new IdentityHashMap<>();
    private final AtomicLong setNumbers = new AtomicLong();
    // Bulk and explain answers are large: parsing and decoding them on a transport thread would
    // hold up every small answer on the same connection behind them.
    private final ExecutorService bulkCallbacks;
    private volatile boolean closed;

    @Inject
    public UpstreamPool(UpstreamConfig config, TracingClientInterceptor tracing, ModelCatalog catalog) {
        this.config = requireNonNull(config, "config is null");
        this.tracing = requireNonNull(tracing, "tracing is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        AtomicInteger bulkThreads = new AtomicInteger();
        this.bulkCallbacks =
                Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors()), runnable -> {
                    Thread thread = new Thread(runnable, "upstream-bulk-" + bulkThreads.incrementAndGet());
                    thread.setDaemon(true);
                    return thread;
                });
        catalog.addListener(this::maintain);
        log.info(
                "upstream {} (one round_robin channel per replica set, health service {}, {} attempts)",
                config.targets(),
                config.healthService(),
                config.maxAttempts());
    }

    /**
     * A stub whose calls reach only the replicas on which {@code version} takes traffic; empty when
     * there is none. With {@code bulk} (batches, explanations: large answers), the answers are
     * parsed and handled on the pool's own threads, not on the transport thread that interactive
     * answers on the same connection need.
     */
    public Optional<GRPCInferenceServiceFutureStub> stub(CatalogSnapshot.Version version, boolean bulk) {
        if (closed) {
            return Optional.empty();
        }
        ReplicaSet set = byVersion.get(version);
        if (set == null) {
            // a version of a snapshot newer (or older) than the last maintained one
            List<Member> members = members(catalog.snapshot(), version);
            if (members.isEmpty()) {
                return Optional.empty();
            }
            set = sets.computeIfAbsent(members, this::open);
        }
        set.lastUsed = System.nanoTime();
        return Optional.of(bulk ? set.bulkStub : set.stub);
    }

    /** Opens channels for the sets of a new snapshot and retires the ones nothing used for a while. */
    void maintain(CatalogSnapshot snapshot) {
        if (closed) {
            return;
        }
        long now = System.nanoTime();
        Set<List<Member>> used = new HashSet<>();
        Map<CatalogSnapshot.Version, ReplicaSet> versions = new IdentityHashMap<>();
        for (CatalogSnapshot.Model model : snapshot.models().values()) {
            for (CatalogSnapshot.Version version : model.versions().values()) {
                List<Member> members = members(snapshot, version);
                if (members.isEmpty()) {
                    continue;
                }
                ReplicaSet set = sets.computeIfAbsent(members, this::open);
                versions.put(version, set);
                if (used.add(members)) {
                    set.lastUsed = now;
                    // a replica that came back is used again now, not after the channel's exponential backoff
                    set.channel.resetConnectBackoff();
                }
            }
        }
        byVersion = versions;
        for (Map.Entry<List<Member>, ReplicaSet> entry : List.copyOf(sets.entrySet())) {
            if (!used.contains(entry.getKey()) && now - entry.getValue().lastUsed > RETIRE_AFTER_NANOS) {
                if (sets.remove(entry.getKey(), entry.getValue())) {
                    log.info("upstream channel to {} retired (no version uses that replica set)", entry.getKey());
                    entry.getValue().channel.shutdown();
                }
            }
        }
    }

    /** The replica sets with an open channel (tests). */
    Set<List<String>> openSets() {
        Set<List<String>> open = new HashSet<>();
        sets.keySet()
                .forEach(members -> open.add(members.stream().map(Member::name).toList()));
        return open;
    }

    private static List<Member> members(CatalogSnapshot snapshot, CatalogSnapshot.Version version) {
        List<Member> members = new ArrayList<>();
        for (String name : version.readyReplicas()) {
            snapshot.replica(name)
                    .filter(r -> !r.address().isUnresolved())
                    .ifPresent(r -> members.add(new Member(r.name(), r.address(), r.authority())));
        }
        return List.copyOf(members);
    }

    private ReplicaSet open(List<Member> members) {
        List<CatalogSnapshot.Replica> replicas = new ArrayList<>();
        Map<SocketAddress, String> names = new HashMap<>();
        for (Member m : members) {
            replicas.add(new CatalogSnapshot.Replica(m.name(), m.address(), m.authority(), true, true));
            names.put(m.address(), m.name());
        }
        NettyChannelBuilder builder = withResolver(
                NettyChannelBuilder.forTarget(
                        ReplicaSetResolverProvider.SCHEME + ":///set-" + setNumbers.incrementAndGet()),
                new ReplicaSetResolverProvider(replicas));
        ManagedChannel channel = UpstreamTls.apply(
                        builder, config.tls(), config.ca(), config.clientCert(), config.clientKey())
                .defaultServiceConfig(UpstreamServiceConfig.build(config.maxAttempts(), config.healthService()))
                .enableRetry()
                .maxRetryAttempts(5)
                .maxInboundMessageSize(config.maxMessageSize())
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveWithoutCalls(false)
                // Response callbacks only decode and hand the answer back (non-blocking), so they
                // run on the transport thread instead of hopping to another executor.
                .directExecutor()
                // the last interceptor runs first: deadline, credentials, tracing, then replica capture
                .intercept(
                        new ReplicaCapture(names),
                        tracing,
                        config.credentials(),
                        new DefaultDeadlineInterceptor(config.defaultDeadline()))
                .build();
        // Connect now so the first request does not pay for connection setup and health checks.
        channel.getState(true);
        log.info(
                "upstream channel to {} opened",
                members.stream().map(Member::name).toList());
        GRPCInferenceServiceFutureStub stub = GRPCInferenceServiceGrpc.newFutureStub(channel);
        return new ReplicaSet(channel, stub, stub.withExecutor(bulkCallbacks));
    }

    @SuppressWarnings("deprecation") // the per-channel resolver factory keeps the scheme out of the global registry
    private static NettyChannelBuilder withResolver(NettyChannelBuilder builder, ReplicaSetResolverProvider provider) {
        NameResolverRegistry registry = new NameResolverRegistry();
        registry.register(provider);
        return builder.nameResolverFactory(registry.asFactory());
    }

    @Override
    public void close() {
        closed = true;
        List<ReplicaSet> open = List.copyOf(sets.values());
        sets.clear();
        byVersion = new IdentityHashMap<>();
        for (ReplicaSet set : open) {
            set.channel.shutdown();
        }
        try {
            for (ReplicaSet set : open) {
                if (!set.channel.awaitTermination(5, TimeUnit.SECONDS)) {
                    set.channel.shutdownNow();
                }
            }
        } catch (InterruptedException e) {
            open.forEach(set -> set.channel.shutdownNow());
            Thread.currentThread().interrupt();
        }
        bulkCallbacks.shutdownNow();
    }

    /** One replica of a set: what the channel connects to, and how the router names it. */
    private record Member(String name, InetSocketAddress address, String authority) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final class ReplicaSet {
        final ManagedChannel channel;
        final GRPCInferenceServiceFutureStub stub;
        final GRPCInferenceServiceFutureStub bulkStub;
        volatile long lastUsed = System.nanoTime();

        ReplicaSet(
                ManagedChannel channel, GRPCInferenceServiceFutureStub stub, GRPCInferenceServiceFutureStub bulkStub) {
            this.channel = channel;
            this.stub = stub;
            this.bulkStub = bulkStub;
        }
    }
}
