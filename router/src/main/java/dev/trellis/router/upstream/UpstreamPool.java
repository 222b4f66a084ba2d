package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.sched.BulkCalls;
import dev.trellis.common.sched.BulkThreads;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub;
import dev.trellis.router.telemetry.TracingClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.NameResolverRegistry;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one long-lived channel to the model-server replicas. Load balancing (round_robin), health
 * checking and retries all come from the service config (see {@link UpstreamServiceConfig});
 * the channel's interceptors add the default deadline, the W3C trace context and the replica
 * capture. Thread-safe; {@link #close()} is idempotent.
 */
public final class UpstreamPool implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);

    private final ManagedChannel channel;
    private final GRPCInferenceServiceFutureStub stub;
    private final ExecutorService bulkCallbacks;
    private final GRPCInferenceServiceFutureStub bulkStub;

    @Inject
    public UpstreamPool(UpstreamConfig config, TracingClientInterceptor tracing) {
        requireNonNull(config, "config is null");
        requireNonNull(tracing, "tracing is null");
        NettyChannelBuilder builder =
                NettyChannelBuilder.forTarget(config.targets().channelTarget());
        if (!config.targets().isDns()) {
            builder = withStaticResolver(builder);
        }
        builder = UpstreamTls.apply(builder, config.tls(), config.ca(), config.clientCert(), config.clientKey())
                .defaultServiceConfig(UpstreamServiceConfig.build(config.maxAttempts(), config.healthService()))
                .enableRetry()
                .maxRetryAttempts(5)
                .maxInboundMessageSize(config.maxMessageSize())
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveWithoutCalls(false)
                // Response callbacks only decode and hand the answer back (non-blocking), so they
                // run on the transport thread instead of hopping to another executor.
                .directExecutor()
                // the last interceptor runs first: deadline, then tracing, then replica capture
                .intercept(new ReplicaCapture(), tracing, new DefaultDeadlineInterceptor(config.defaultDeadline()));
        this.channel = builder.build();
        // Connect now so the first request does not pay for connection setup and health checks.
        channel.getState(true);
        this.stub = GRPCInferenceServiceGrpc.newFutureStub(channel);
        // Bulk and explain answers are large: parsing and decoding them on the transport thread
        // would hold up every small answer on the same connection behind them.
        // They run at low priority, and the model-server parses the calls on its bulk threads too.
        this.bulkCallbacks = Executors.newFixedThreadPool(
                Math.max(2, Runtime.getRuntime().availableProcessors()), BulkThreads.factory("upstream-bulk"));
        this.bulkStub = stub.withExecutor(bulkCallbacks).withInterceptors(BulkCalls.marker());
        log.info(
                "upstream pool {} (round_robin, health service {}, {} attempts)",
                config.targets().channelTarget(),
                config.healthService(),
                config.maxAttempts());
    }

    @SuppressWarnings(
            "deprecation") // the per-channel resolver factory keeps the static scheme out of the global registry
    private static NettyChannelBuilder withStaticResolver(NettyChannelBuilder builder) {
        NameResolverRegistry registry = new NameResolverRegistry();
        registry.register(new StaticNameResolverProvider());
        return builder.nameResolverFactory(registry.asFactory());
    }

    public GRPCInferenceServiceFutureStub stub() {
        return stub;
    }

    /**
     * The stub for calls with large answers (bulk batches, explanations): their answers are parsed
     * and handled on the pool's own threads, not on the connection's transport thread that
     * interactive answers need.
     */
    public GRPCInferenceServiceFutureStub bulkStub() {
        return bulkStub;
    }

    public ManagedChannel channel() {
        return channel;
    }

    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
        bulkCallbacks.shutdownNow();
    }
}
