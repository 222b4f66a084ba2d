package dev.trellis.common.http;

import static java.util.Objects.requireNonNull;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An in-process gRPC server running the very services a server's gRPC port runs, behind the same
 * interceptors (the auth check), and a channel to it. HTTP front ends call through {@link
 * #channel()}, so their answers and errors (status, message, reason, field violations) and their
 * token rules are exactly the gRPC ones, with no second copy of either. Thread-safe; {@link #close}
 * is idempotent.
 */
public final class InProcessBridge implements AutoCloseable {
    private final Server server;
    private final ManagedChannel channel;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param purpose names the in-process server, e.g. "rest"
     * @param services the services, as the gRPC port binds them
     * @param interceptors applied to every service; the last one runs first, as on a server builder
     */
    public InProcessBridge(
            String purpose, List<ServerServiceDefinition> services, List<ServerInterceptor> interceptors) {
        requireNonNull(purpose, "purpose is null");
        requireNonNull(services, "services is null");
        requireNonNull(interceptors, "interceptors is null");
        String name = "trellis-" + purpose + "-" + UUID.randomUUID();
        InProcessServerBuilder builder = InProcessServerBuilder.forName(name);
        for (ServerServiceDefinition service : services) {
            builder.addService(ServerInterceptors.intercept(service, interceptors));
        }
        try {
            this.server = builder.build().start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the in-process server behind " + purpose, e);
        }
        this.channel = InProcessChannelBuilder.forName(name).build();
    }

    /** The channel to the in-process server. */
    public Channel channel() {
        return channel;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        channel.shutdown();
        server.shutdown();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            channel.shutdownNow();
            server.shutdownNow();
        }
    }
}
