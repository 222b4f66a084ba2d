package dev.trellis.common.http;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A bound JDK {@code HttpServer} (plain or HTTPS, created by its owner) serving its contexts on a
 * pool of its own daemon threads, and stopping both together. Thread-safe; {@link #close} is
 * idempotent.
 */
public final class HttpEndpoint implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService executor;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Starts serving.
     *
     * @param threadPrefix names the threads {@code prefix-1}, {@code prefix-2}, ...
     * @param contexts handler per path prefix
     */
    public HttpEndpoint(HttpServer server, String threadPrefix, int threads, Map<String, HttpHandler> contexts) {
        this.server = requireNonNull(server, "server is null");
        requireNonNull(threadPrefix, "threadPrefix is null");
        requireNonNull(contexts, "contexts is null");
        AtomicInteger ids = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(threads, runnable -> {
            Thread thread = new Thread(runnable, threadPrefix + "-" + ids.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        contexts.forEach(server::createContext);
        server.start();
    }

    /**
     * Binds a server for this endpoint: HTTPS with the given configurator (the gRPC port's TLS, see
     * {@code ServerTls.https}), else plain HTTP.
     */
    public static HttpServer bind(String host, int port, Optional<HttpsConfigurator> tls) throws IOException {
        requireNonNull(host, "host is null");
        requireNonNull(tls, "tls is null");
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (tls.isEmpty()) {
            return HttpServer.create(address, 0);
        }
        HttpsServer https = HttpsServer.create(address, 0);
        https.setHttpsConfigurator(tls.get());
        return https;
    }

    /** The bound port (the ephemeral one when bound to 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Stops accepting, then lets running exchanges finish for up to 5 seconds. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        server.stop(0);
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            executor.shutdownNow();
        }
    }
}
