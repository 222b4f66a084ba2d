package dev.trellis.common.http;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import dev.trellis.common.grpc.FieldViolation;
import dev.trellis.common.grpc.WireError;
import io.grpc.Metadata;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The HTTP side of a gRPC bridge ({@link InProcessBridge}), shared by every HTTP endpoint that
 * fronts gRPC services: the one mapping of a gRPC status code to an HTTP status, the one JSON error
 * body, and the request headers that travel on to the gRPC call. Stateless.
 */
public final class HttpAnswers {
    private HttpAnswers() {}

    /** The one mapping of a gRPC status code to an HTTP status. */
    public static int httpStatus(Status.Code code) {
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

    /**
     * The gRPC metadata of an HTTP request: each named header that is present, with its value
     * (e.g. {@code authorization}, so {@code Authorization: Bearer} works as on gRPC).
     */
    public static Metadata headers(HttpExchange exchange, List<Metadata.Key<String>> forwarded) {
        Metadata headers = new Metadata();
        for (Metadata.Key<String> key : forwarded) {
            String value = exchange.getRequestHeaders().getFirst(key.name());
            if (value != null) {
                headers.put(key, value);
            }
        }
        return headers;
    }

    /** The request body as UTF-8 text. */
    public static String body(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * An error as JSON: {@code error} (the gRPC message, verbatim), {@code code} (the gRPC code's
     * name), {@code reason} (ErrorInfo's) and, when fields were wrong, {@code field_violations}
     * ({@code field}, {@code description}), with the HTTP status of {@link #httpStatus}.
     */
    public static void error(HttpExchange exchange, WireError error) throws IOException {
        Struct.Builder body = Struct.newBuilder()
                .putFields("error", text(error.message()))
                .putFields("code", text(error.code().name()))
                .putFields("reason", text(error.reason()));
        if (!error.violations().isEmpty()) {
            ListValue.Builder violations = ListValue.newBuilder();
            for (FieldViolation violation : error.violations()) {
                violations.addValues(Value.newBuilder()
                        .setStructValue(Struct.newBuilder()
                                .putFields("field", text(violation.field()))
                                .putFields("description", text(violation.description()))));
            }
            body.putFields(
                    "field_violations",
                    Value.newBuilder().setListValue(violations).build());
        }
        String json;
        try {
            json = JsonFormat.printer().omittingInsignificantWhitespace().print(body);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("a Struct always prints", e);
        }
        send(exchange, httpStatus(error.code()), "application/json", json.getBytes(StandardCharsets.UTF_8));
    }

    /** A JSON answer. */
    public static void json(HttpExchange exchange, int status, String json) throws IOException {
        send(exchange, status, "application/json", json.getBytes(StandardCharsets.UTF_8));
    }

    /** An answer with a body. */
    public static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private static Value text(String value) {
        return Value.newBuilder().setStringValue(value).build();
    }
}
