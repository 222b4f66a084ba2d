package dev.trellis.modelserver.rest;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import dev.trellis.common.grpc.WireError;
import dev.trellis.common.http.HttpAnswers;
import dev.trellis.common.http.HttpEndpoint;
import dev.trellis.common.http.InProcessBridge;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelReadyRequest;
import dev.trellis.proto.inference.ServerLiveRequest;
import dev.trellis.proto.inference.ServerMetadataRequest;
import dev.trellis.proto.inference.ServerReadyRequest;
import io.grpc.BindableService;
import io.grpc.Metadata;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Open Inference Protocol over HTTP/REST (KServe v2 REST): {@code /v2}, {@code
 * /v2/health/live|ready}, {@code /v2/models/{name}[/versions/{v}]}, {@code .../ready} and {@code
 * .../infer} with JSON tensors. Each request becomes the gRPC request of the same method and runs
 * the very same service through an in-process gRPC server that has the same auth check, so errors
 * (status, message, reason, field violations) and auth (the {@code Authorization: Bearer} header)
 * are the gRPC ones; the status maps to an HTTP status in {@link #httpStatus}. Served by the JDK's
 * own {@code com.sun.net.httpserver} (no new dependency; the Prometheus endpoint uses the same),
 * over HTTPS when the gRPC port has TLS, with the gRPC port's certificate and client-certificate
 * policy ({@link dev.trellis.common.tls.ServerTls#https}). Thread-safe; {@link #close} is
 * idempotent.
 */
public final class RestServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RestServer.class);
    private static final Pattern MODEL_PATH =
            Pattern.compile("^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?/?$");
    private static final Duration CALL_DEADLINE = Duration.ofSeconds(60);
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final InProcessBridge bridge;
    private final GRPCInferenceServiceBlockingStub stub;
    private final HttpEndpoint http;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param service the Open Inference Protocol service the gRPC port serves
     * @param auth the gRPC port's auth check
     * @param tls the gRPC port's TLS as HTTPS; empty = plain HTTP (the gRPC port is plaintext too)
     */
    public RestServer(
            String host,
            int port,
            int threads,
            BindableService service,
            ServerInterceptor auth,
            Optional<HttpsConfigurator> tls) {
        requireNonNull(service, "service is null");
        requireNonNull(auth, "auth is null");
        requireNonNull(tls, "tls is null");
        this.bridge = new InProcessBridge("rest", List.of(service.bindService()), List.of(auth));
        this.stub = GRPCInferenceServiceGrpc.newBlockingStub(bridge.channel());
        HttpServer server;
        try {
            server = HttpEndpoint.bind(host, port, tls);
        } catch (IOException e) {
            bridge.close();
            throw new UncheckedIOException("cannot listen for REST on " + host + ":" + port, e);
        }
        this.http = new HttpEndpoint(server, "rest", threads, Map.of("/v2", this::handle));
        log.info("Open Inference Protocol REST on {}://{}:{}/v2", tls.isPresent() ? "https" : "http", host, port());
    }

    /** The bound port (the ephemeral one when started with 0). */
    public int port() {
        return http.port();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            GRPCInferenceServiceBlockingStub call = stub.withDeadlineAfter(
                            CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
                            HttpAnswers.headers(exchange, List.of(AUTHORIZATION))));
            try {
                route(exchange, path, method, call);
            } catch (RestJson.BadJson e) {
                error(
                        exchange,
                        new WireError(
                                Status.Code.INVALID_ARGUMENT,
                                e.getMessage(),
                                "INVALID_REQUEST",
                                java.util.Map.of(),
                                List.of(e.violation)));
            } catch (StatusRuntimeException e) {
                error(exchange, WireError.from(e));
            }
        }
    }

    private void route(HttpExchange exchange, String path, String method, GRPCInferenceServiceBlockingStub call)
            throws IOException {
        switch (path) {
            case "/v2", "/v2/" -> {
                requireMethod(method, "GET", path);
                json(exchange, 200, call.serverMetadata(ServerMetadataRequest.getDefaultInstance()));
                return;
            }
            case "/v2/health/live" -> {
                requireMethod(method, "GET", path);
                boolean live =
                        call.serverLive(ServerLiveRequest.getDefaultInstance()).getLive();
                json(
                        exchange,
                        live ? 200 : 503,
                        object("live", Value.newBuilder().setBoolValue(live).build()));
                return;
            }
            case "/v2/health/ready" -> {
                requireMethod(method, "GET", path);
                boolean ready = call.serverReady(ServerReadyRequest.getDefaultInstance())
                        .getReady();
                json(
                        exchange,
                        ready ? 200 : 503,
                        object("ready", Value.newBuilder().setBoolValue(ready).build()));
                return;
            }
            default -> {}
        }
        Matcher model = MODEL_PATH.matcher(path);
        if (!model.matches()) {
            error(exchange, WireError.of(Status.Code.NOT_FOUND, "NOT_FOUND", "no such endpoint: " + path));
            return;
        }
        String name = model.group(1);
        String version = model.group(2) == null ? "" : model.group(2);
        String action = model.group(3) == null ? "" : model.group(3);
        switch (action) {
            case "" -> {
                requireMethod(method, "GET", path);
                json(
                        exchange,
                        200,
                        call.modelMetadata(ModelMetadataRequest.newBuilder()
                                .setName(name)
                                .setVersion(version)
                                .build()));
            }
            case "/ready" -> {
                requireMethod(method, "GET", path);
                boolean ready = call.modelReady(ModelReadyRequest.newBuilder()
                                .setName(name)
                                .setVersion(version)
                                .build())
                        .getReady();
                Struct body = Struct.newBuilder()
                        .putFields("name", RestJson.text(name))
                        .putFields(
                                "ready", Value.newBuilder().setBoolValue(ready).build())
                        .build();
                json(exchange, ready ? 200 : 503, body);
            }
            default -> {
                requireMethod(method, "POST", path);
                Struct body = RestJson.parse(body(exchange));
                String response = RestJson.inferResponse(call.modelInfer(RestJson.inferRequest(body, name, version)));
                send(exchange, 200, response);
            }
        }
    }

    private static void requireMethod(String method, String expected, String path) {
        if (!method.equals(expected)) {
            throw Status.UNIMPLEMENTED
                    .withDescription(path + " takes " + expected + ", not " + method)
                    .asRuntimeException();
        }
    }

    private static String body(HttpExchange exchange) throws IOException {
        return HttpAnswers.body(exchange);
    }

    private static Struct object(String key, Value value) {
        return Struct.newBuilder().putFields(key, value).build();
    }

    private static void json(HttpExchange exchange, int status, Message message) throws IOException {
        send(exchange, status, RestJson.print(message));
    }

    /** Errors as KServe REST has them ({@code error}), plus the gRPC code, reason and field violations. */
    private static void error(HttpExchange exchange, WireError error) throws IOException {
        HttpAnswers.error(exchange, error);
    }

    /** The one mapping of a gRPC status code to an HTTP status ({@link HttpAnswers#httpStatus}). */
    static int httpStatus(Status.Code code) {
        return HttpAnswers.httpStatus(code);
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        HttpAnswers.json(exchange, status, body);
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
