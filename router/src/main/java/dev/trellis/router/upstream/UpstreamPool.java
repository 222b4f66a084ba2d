package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.sched.BulkAwareAllocator;
import dev.trellis.common.sched.BulkCalls;
import dev.trellis.common.sched.BulkThreads;
import dev.trellis.common.telemetry.GrpcInstrumentation;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub;
import io.grpc.ClientInterceptor;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.NameResolverRegistry;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data path to the model-server replicas, version-aware: one long-lived channel per
 * <em>replica set</em>, the set of replicas on which some version takes traffic (READY or STALE,
 * replica SERVING), so that a request for a version reaches only replicas that have it. Replicas
 * holding the same versions share one set and one channel; a canary candidate that lives on its
 * own Deployment gets a channel of its own. Each set has a second channel for bulk calls (large
 * batches, explanations), with its own connections and low-priority threads, so that bulk
 * messages never queue ahead of interactive ones.
 *
 * <p>Inside a set, everything is grpc-java's own machinery, from the service config
 * ({@link UpstreamServiceConfig}): round_robin over the set's replicas, client-side health checking
 * (a draining replica leaves the rotation before the catalog notices), and the retry policy, whose
 * next attempt goes to the next replica of the same set, i.e. another replica that has the
 * version. There is no hand-written retry loop.
 *
 * <p>Sets come from the catalog: every new snapshot, before it is published, opens (and connects)
 * channels for new sets, opens new channels for sets whose channel failed while their replicas were
 * away (see {@link #current}), and retires channels that no version has used for {@link
 * #RETIRE_AFTER_NANOS}; retiring is a graceful {@code shutdown()}, so calls in flight finish.
 *
 * <p>Every channel carries grpc-java's client call metrics and a CLIENT span per call ({@link
 * GrpcInstrumentation}). The metrics' {@code grpc.target} is the channel's target, which names the
 * set by its upstreams as configured and its lane ({@link #target}), so the label stays bounded by
 * the configuration: {@code trellis-replicas:///10.0.0.7:8081,10.0.0.8:8081?lane=interactive}, or
 * {@code trellis-replicas:///model-server:8081?lane=bulk} for the replicas behind
 * {@code dns:///model-server:8081}, whatever their pod addresses. Thread-safe; {@link #close()} is
 * idempotent.
 */
public final class UpstreamPool implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);
    static final long RETIRE_AFTER_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final UpstreamConfig config;
    private final GrpcInstrumentation instrumentation;
    private final ClientInterceptor tracing;
    private final ModelCatalog catalog;
    private final Map<List<Member>, ReplicaSet> sets = new ConcurrentHashMap<>();
    // the set of every version of the latest snapshot, by identity: the per-request lookup is one probe
    private volatile Map<CatalogSnapshot.Version, ReplicaSet> byVersion = new IdentityHashMap<>();
    // Bulk and explain answers are large: parsing and decoding them on a transport thread would
    // hold up every small answer on the same connection behind them.
    private final ExecutorService bulkCallbacks;
    // Bulk calls travel on connections of their own, served by their own transport thread: their
    // large messages neither queue ahead of small ones on a shared connection nor take CPU from
    // the transport threads of interactive calls.
    private final EventLoopGroup bulkLoops;
    private volatile boolean closed;

    @Inject
    public UpstreamPool(UpstreamConfig config, GrpcInstrumentation instrumentation, ModelCatalog catalog) {
        this.config = requireNonNull(config, "config is null");
        this.instrumentation = requireNonNull(instrumentation, "instrumentation is null");
        this.tracing = instrumentation.clientInterceptor();
        this.catalog = requireNonNull(catalog, "catalog is null");
        // both at low priority (BulkThreads): bulk work takes only the CPU interactive calls leave over
        this.bulkCallbacks = Executors.newFixedThreadPool(
                Math.max(2, Runtime.getRuntime().availableProcessors()), BulkThreads.factory("upstream-bulk"));
        this.bulkLoops = new NioEventLoopGroup(1, BulkThreads.factory("upstream-bulk-loop"));
        // before the snapshot is published: a request routed on it finds its sets' channels ready
        catalog.beforePublishing(this::maintain);
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
            set = sets.computeIfAbsent(members, m -> open(m, "opened"));
        }
        set.lastUsed = System.nanoTime();
        return Optional.of(bulk ? set.bulkStub : set.stub);
    }

    /**
     * Opens channels for the sets of a new snapshot (anew where a channel failed, see {@link
     * #current}) and retires the ones nothing used for a while. Runs before the snapshot is
     * published, once per poll.
     */
    void maintain(CatalogSnapshot snapshot) {
        if (closed) {
            return;
        }
        long now = System.nanoTime();
        Map<List<Member>, ReplicaSet> used = new HashMap<>();
        Map<CatalogSnapshot.Version, ReplicaSet> versions = new IdentityHashMap<>();
        for (CatalogSnapshot.Model model : snapshot.models().values()) {
            for (CatalogSnapshot.Version version : model.versions().values()) {
                List<Member> members = members(snapshot, version);
                if (members.isEmpty()) {
                    continue;
                }
                ReplicaSet set = used.get(members);
                if (set == null) {
                    set = current(members);
                    set.lastUsed = now;
                    // a replica that came back is used again now, not after the channel's exponential backoff
                    set.channel.resetConnectBackoff();
                    set.bulkChannel.resetConnectBackoff();
                    used.put(members, set);
                }
                versions.put(version, set);
            }
        }
        byVersion = versions;
        for (Map.Entry<List<Member>, ReplicaSet> entry : List.copyOf(sets.entrySet())) {
            if (!used.containsKey(entry.getKey()) && now - entry.getValue().lastUsed > RETIRE_AFTER_NANOS) {
                if (sets.remove(entry.getKey(), entry.getValue())) {
                    log.info("upstream channel to {} retired (no version uses that replica set)", entry.getKey());
                    entry.getValue().channel.shutdown();
                    entry.getValue().bulkChannel.shutdown();
                }
            }
        }
    }

    /**
     * The set's channels, opened if it has none, and opened anew if a lane's channel is in
     * TRANSIENT_FAILURE: the catalog has just reached every member and found it serving, so that
     * failure is left over, typically from an outage while the set had no version and nothing reset
     * its backoff (a replica that restarted while its versions were on a set with the other
     * replicas). grpc-java's round_robin keeps a failed subchannel in TRANSIENT_FAILURE until it
     * connects again, and a fail-fast call fails at once with the old error; on a new channel calls
     * wait for the first connection instead. Called once per poll (not per request), so a replica
     * that keeps failing costs one new channel per poll, not one per call.
     */
    private ReplicaSet current(List<Member> members) {
        ReplicaSet set = sets.computeIfAbsent(members, m -> open(m, "opened"));
        if (!set.failed()) {
            return set;
        }
        ReplicaSet[] replaced = new ReplicaSet[1];
        ReplicaSet fresh = sets.compute(members, (key, existing) -> {
            if (existing != null && !existing.failed()) {
                return existing;
            }
            replaced[0] = existing;
            return open(
                    key,
                    existing == null
                            ? "opened"
                            : "opened anew (the old one had failed while its replicas were away; the catalog"
                                    + " reaches them now)");
        });
        if (replaced[0] != null) {
            replaced[0].channel.shutdown();
            replaced[0].bulkChannel.shutdown();
        }
        return fresh;
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

    private ReplicaSet open(List<Member> members, String what) {
        List<CatalogSnapshot.Replica> replicas = new ArrayList<>();
        Map<SocketAddress, String> names = new HashMap<>();
        for (Member m : members) {
            replicas.add(new CatalogSnapshot.Replica(m.name(), m.address(), m.authority(), true, true));
            names.put(m.address(), m.name());
        }
        ManagedChannel channel = channel(replicas, names, false);
        ManagedChannel bulkChannel = channel(replicas, names, true);
        // Connect now so the first request does not pay for connection setup and health checks.
        channel.getState(true);
        bulkChannel.getState(true);
        log.info("upstream channel to {} {}", members.stream().map(Member::name).toList(), what);
        return new ReplicaSet(
                channel,
                bulkChannel,
                GRPCInferenceServiceGrpc.newFutureStub(channel),
                GRPCInferenceServiceGrpc.newFutureStub(bulkChannel)
                        .withExecutor(bulkCallbacks)
                        .withInterceptors(BulkCalls.marker()));
    }

    private ManagedChannel channel(
            List<CatalogSnapshot.Replica> replicas, Map<SocketAddress, String> names, boolean bulk) {
        NettyChannelBuilder builder = withResolver(
                NettyChannelBuilder.forTarget(target(replicas, bulk)), new ReplicaSetResolverProvider(replicas));
        if (bulk) {
            builder.eventLoopGroup(bulkLoops).channelType(NioSocketChannel.class);
        }
        builder.withOption(ChannelOption.ALLOCATOR, BulkAwareAllocator.DEFAULT);
        instrumentation.instrument(builder);
        return UpstreamTls.apply(builder, config.tls(), config.ca(), config.clientCert(), config.clientKey())
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
    }

    /**
     * The target of a replica set's channel: its upstreams as configured, sorted, and its lane. A
     * replica found through {@code dns:///name:port} counts as {@code name:port} (its TLS authority),
     * a configured {@code host:port} as itself. The resolver ignores all but the scheme; the
     * target is what the client metrics report as {@code grpc.target}.
     */
    static String target(List<CatalogSnapshot.Replica> replicas, boolean bulk) {
        Set<String> upstreams = new TreeSet<>();
        for (CatalogSnapshot.Replica replica : replicas) {
            // behind a DNS name the replica's name is its resolved ip:port and its authority the name
            upstreams.add(replica.authority());
        }
        try {
            return new URI(
                            ReplicaSetResolverProvider.SCHEME,
                            "",
                            "/" + String.join(",", upstreams),
                            "lane=" + (bulk ? "bulk" : "interactive"),
                            null)
                    .toString();
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("cannot name the channel of " + upstreams, e);
        }
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
        List<ManagedChannel> channels = new ArrayList<>();
        for (ReplicaSet set : open) {
            channels.add(set.channel);
            channels.add(set.bulkChannel);
        }
        channels.forEach(ManagedChannel::shutdown);
        try {
            for (ManagedChannel channel : channels) {
                if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                    channel.shutdownNow();
                }
            }
        } catch (InterruptedException e) {
            channels.forEach(ManagedChannel::shutdownNow);
            Thread.currentThread().interrupt();
        }
        bulkCallbacks.shutdownNow();
        bulkLoops.shutdownGracefully(0, 5, TimeUnit.SECONDS);
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
        final ManagedChannel bulkChannel;
        final GRPCInferenceServiceFutureStub stub;
        final GRPCInferenceServiceFutureStub bulkStub;
        volatile long lastUsed = System.nanoTime();

        boolean failed() {
            return channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE
                    || bulkChannel.getState(false) == ConnectivityState.TRANSIENT_FAILURE;
        }

        ReplicaSet(
                ManagedChannel channel,
                ManagedChannel bulkChannel,
                GRPCInferenceServiceFutureStub stub,
                GRPCInferenceServiceFutureStub bulkStub) {
            this.channel = channel;
            this.bulkChannel = bulkChannel;
            this.stub = stub;
            this.bulkStub = bulkStub;
        }
    }
}
