package dev.trellis.modelserver.rest;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.trellis.common.grpc.FieldViolation;
import dev.trellis.common.grpc.WireError;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelReadyRequest;
import dev.trellis.proto.inference.ServerLiveRequest;
import dev.trellis.proto.inference.ServerMetadataRequest;
import dev.trellis.proto.inference.ServerReadyRequest;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
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
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final Server inProcess;
    private final ManagedChannel channel;
    private final GRPCInferenceServiceBlockingStub stub;
    private final ExecutorService executor;
    private final HttpServer http;
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
        String name = "trellis-rest-" + UUID.randomUUID();
        try {
            this.inProcess = InProcessServerBuilder.forName(name)
                    .addService(ServerInterceptors.intercept(service, auth))
                    .build()
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the in-process server behind REST", e);
        }
        this.channel = InProcessChannelBuilder.forName(name).build();
        this.stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
        this.executor = Executors.newFixedThreadPool(threads, runnable -> {
            Thread thread = new Thread(runnable, "rest-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        try {
            InetSocketAddress address = new InetSocketAddress(host, port);
            if (tls.isPresent()) {
                HttpsServer https = HttpsServer.create(address, 0);
                https.setHttpsConfigurator(tls.get());
                this.http = https;
            } else {
                this.http = HttpServer.create(address, 0);
            }
        } catch (IOException e) {
            close();
            throw new UncheckedIOException("cannot listen for REST on " + host + ":" + port, e);
        }
        http.setExecutor(executor);
        http.createContext("/v2", this::handle);
        http.start();
        log.info("Open Inference Protocol REST on {}://{}:{}/v2", tls.isPresent() ? "https" : "http", host, port());
    }

    /** The bound port (the ephemeral one when started with 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            GRPCInferenceServiceBlockingStub call = stub.withDeadlineAfter(
                            CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(exchange)));
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

    private static Metadata headers(HttpExchange exchange) {
        Metadata headers = new Metadata();
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        if (authorization != null) {
            headers.put(AUTHORIZATION, authorization);
        }
        return headers;
    }

    private static String body(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Struct object(String key, Value value) {
        return Struct.newBuilder().putFields(key, value).build();
    }

    private static void json(HttpExchange exchange, int status, Message message) throws IOException {
        send(exchange, status, RestJson.print(message));
    }

    /** Errors as KServe REST has them ({@code error}), plus the gRPC code, reason and field violations. */
    private static void error(HttpExchange exchange, WireError error) throws IOException {
        Struct.Builder body = Struct.newBuilder()
                .putFields("error", RestJson.text(error.message()))
                .putFields("code", RestJson.text(error.code().name()))
                .putFields("reason", RestJson.text(error.reason()));
        if (!error.violations().isEmpty()) {
            com.google.protobuf.ListValue.Builder violations = com.google.protobuf.ListValue.newBuilder();
            for (FieldViolation violation : error.violations()) {
                violations.addValues(Value.newBuilder()
                        .setStructValue(Struct.newBuilder()
                                .putFields("field", RestJson.text(violation.field()))
                                .putFields("description", RestJson.text(violation.description()))));
            }
            body.putFields(
                    "field_violations",
                    Value.newBuilder().setListValue(violations).build());
        }
        send(exchange, httpStatus(error.code()), RestJson.print(body.build()));
    }

    /** The one mapping of a gRPC status code to an HTTP status. */
    static int httpStatus(Status.Code code) {
        return switch (code) {
            case OK -> 200;
            case INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION -> 400;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case NOT_FOUND -> 404;
            case ABORTED, ALREADY_EXISTS -> 409;
            case RESOURCE_EXHAUSTED -> 429;
            case CANCELLED -> 499;
            case UNIMPLEMENTED -> 405;
            case UNAVAILABLE -> 503;
            case DEADLINE_EXCEEDED -> 504;
            default -> 500;
        };
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (http != null) {
            http.stop(0);
        }
        executor.shutdown();
        channel.shutdown();
        inProcess.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
            channel.awaitTermination(5, TimeUnit.SECONDS);
            inProcess.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            executor.shutdownNow();
            channel.shutdownNow();
            inProcess.shutdownNow();
        }
    }
}
