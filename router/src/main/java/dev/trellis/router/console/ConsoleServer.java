package dev.trellis.router.console;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import dev.trellis.common.auth.AccessPolicy;
import dev.trellis.common.http.HttpEndpoint;
import dev.trellis.common.http.InProcessBridge;
import io.grpc.ServerInterceptor;
import io.grpc.ServerServiceDefinition;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The router's web console and its JSON API on {@code --http-port}: the console's files at
 * {@code /} ({@link ConsoleAssets}) and the services' methods at {@code /api/v1/} ({@link JsonApi}),
 * which run through an {@link InProcessBridge} with the gRPC port's auth interceptor. Served by
 * the JDK's own {@code com.sun.net.httpserver} (no dependency; the metrics endpoint and the
 * model-server's REST use the same). Plain HTTP: a router with TLS refuses it at startup
 * ({@code RouterConfig}). Thread-safe; {@link #close} is idempotent.
 */
public final class ConsoleServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConsoleServer.class);
    private static final Duration CALL_DEADLINE = Duration.ofSeconds(30);
    private static final int THREADS = 4;

    private final InProcessBridge bridge;
    private final HttpEndpoint http;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param services the services the JSON API exposes
     * @param guard what the gRPC port wraps around each service (e.g. the unparseable-request guard)
     * @param interceptors the gRPC port's interceptors (auth); the last runs first
     * @param policy which methods are reads (they also take GET)
     * @param maxBodyBytes the largest request body
     * @param tls the gRPC port's TLS as HTTPS; empty = plain HTTP (the gRPC port is plaintext too)
     */
    public ConsoleServer(
            String host,
            int port,
            List<ServerServiceDefinition> services,
            UnaryOperator<ServerServiceDefinition> guard,
            List<ServerInterceptor> interceptors,
            AccessPolicy policy,
            int maxBodyBytes,
            Optional<HttpsConfigurator> tls) {
        requireNonNull(host, "host is null");
        requireNonNull(tls, "tls is null");
        requireNonNull(policy, "policy is null");
        this.bridge =
                new InProcessBridge("console", services.stream().map(guard).toList(), interceptors);
        JsonApi api = new JsonApi(
                bridge.channel(),
                services.stream()
                        .map(ServerServiceDefinition::getServiceDescriptor)
                        .toList(),
                policy,
                CALL_DEADLINE,
                maxBodyBytes);
        ConsoleAssets assets = new ConsoleAssets();
        HttpServer server;
        try {
            server = HttpEndpoint.bind(host, port, tls);
        } catch (IOException e) {
            bridge.close();
            throw new UncheckedIOException(
                    "cannot listen for the web console on " + host + ":" + port + " (--http-port): " + e.getMessage(),
                    e);
        }
        this.http = new HttpEndpoint(
                server, "console-http", THREADS, Map.of(JsonApi.PREFIX, api::handle, "/", assets::handle));
        log.info(
                "web console on {}://{}:{}/ (JSON API at {})",
                tls.isPresent() ? "https" : "http",
                host,
                port(),
                JsonApi.PREFIX);
    }

    /** The bound port (the ephemeral one when started with 0). */
    public int port() {
        return http.port();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        http.close();
        bridge.close();
    }
}
