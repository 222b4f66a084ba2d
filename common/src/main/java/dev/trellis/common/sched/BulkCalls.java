package dev.trellis.common.sched;

import static java.util.Objects.requireNonNull;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Where a server runs a call's handler: bulk calls (the server's bulk methods, or any call whose
 * caller marked it with {@link #LANE} {@code = bulk}) on {@link BulkThreads} of their own, so
 * that parsing a large request, and whatever its handler does on that thread, takes only the CPU
 * interactive calls leave over; calls of the server's inline methods, whose handlers never block,
 * on the transport thread that read them (no hand-off to another thread and its wake-up); every
 * other call on gRPC's default executor. Install with {@code ServerBuilder.callExecutor(...)}.
 * Thread-safe; {@link #close()} is idempotent.
 */
public final class BulkCalls implements ServerCallExecutorSupplier, AutoCloseable {
    /** The request header with which a caller (the router, for its bulk upstream calls) marks a call as bulk. */
    public static final Metadata.Key<String> LANE = Metadata.Key.of("trellis-lane", Metadata.ASCII_STRING_MARSHALLER);

    public static final String BULK = "bulk";

    private static final Executor INLINE = Runnable::run;

    private final Set<String> bulkMethods;
    private final Set<String> inlineMethods;
    private final ExecutorService executor;

    /**
     * @param name thread name prefix
     * @param bulkMethods full method names that are always bulk
     * @param threads bulk handler threads
     */
    public BulkCalls(String name, Set<String> bulkMethods, int threads) {
        this(name, bulkMethods, Set.of(), threads);
    }

    /**
     * @param name thread name prefix
     * @param bulkMethods full method names that are always bulk
     * @param inlineMethods full method names whose handlers never block (no I/O, no lock held for
     *     long, no waiting on a future): unless marked bulk, they run on the transport thread
     * @param threads bulk handler threads
     */
    public BulkCalls(String name, Set<String> bulkMethods, Set<String> inlineMethods, int threads) {
        requireNonNull(name, "name is null");
        this.bulkMethods = Set.copyOf(requireNonNull(bulkMethods, "bulkMethods is null"));
        this.inlineMethods = Set.copyOf(requireNonNull(inlineMethods, "inlineMethods is null"));
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be positive");
        }
        this.executor = Executors.newFixedThreadPool(threads, BulkThreads.factory(name));
    }

    /** A client interceptor that marks every call of a stub as bulk. */
    public static ClientInterceptor marker() {
        return new ClientInterceptor() {
            @Override
            public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
                    MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<RespT> listener, Metadata headers) {
                        headers.put(LANE, BULK);
                        super.start(listener, headers);
                    }
                };
            }
        };
    }

    /** Whether a call runs on the bulk threads. */
    public boolean isBulk(String fullMethodName, Metadata headers) {
        return bulkMethods.contains(fullMethodName) || BULK.equals(headers.get(LANE));
    }

    @Override
    public <ReqT, RespT> Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata headers) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (isBulk(method, headers)) {
            return executor;
        }
        // null: gRPC's default executor
        return inlineMethods.contains(method) ? INLINE : null;
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
