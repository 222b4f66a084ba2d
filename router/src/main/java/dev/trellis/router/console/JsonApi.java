package dev.trellis.router.console;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Descriptors;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import dev.trellis.common.auth.AccessPolicy;
import dev.trellis.common.grpc.FieldViolation;
import dev.trellis.common.grpc.WireError;
import dev.trellis.common.http.HttpAnswers;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The JSON API: every method of the given gRPC services at {@code /api/v1/{Method}} (or {@code
 * /api/v1/{service}/{Method}}), generic over the service descriptors, so a method added to a
 * service is reachable without an edit here. The request and response are the method's own
 * messages in proto3 JSON ({@code JsonFormat}, fields with no presence printed too). {@code POST}
 * takes the request as the body; read methods (those the access policy opens) also take {@code
 * GET} with the request's top-level fields as query parameters. Each call runs through the
 * in-process gRPC server behind the same auth interceptor as the gRPC port, so the token rules
 * and errors are the gRPC ones, with the HTTP status of {@link HttpAnswers#httpStatus}. {@code GET
 * /api/v1} lists the methods. Thread-safe.
 */
final class JsonApi {
    static final String PREFIX = "/api/v1";
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> ACTOR =
            Metadata.Key.of("x-trellis-actor", Metadata.ASCII_STRING_MARSHALLER);
    private static final JsonFormat.Printer PRINTER =
            JsonFormat.printer().includingDefaultValueFields().omittingInsignificantWhitespace();
    private static final JsonFormat.Parser PARSER = JsonFormat.parser();

    /** One served method. */
    private record Endpoint(MethodDescriptor<Message, Message> method, Message prototype, boolean read) {}

    private final Channel channel;
    private final Duration deadline;
    private final int maxBodyBytes;
    private final Map<String, Endpoint> endpoints = new TreeMap<>();

    /**
     * @param services the services to expose, as the gRPC port serves them
     * @param policy which methods are reads (open): those also take GET
     * @param deadline of each call
     * @param maxBodyBytes the largest request body (the gRPC port's message limit)
     */
    JsonApi(
            Channel channel,
            List<ServiceDescriptor> services,
            AccessPolicy policy,
            Duration deadline,
            int maxBodyBytes) {
        this.channel = requireNonNull(channel, "channel is null");
        this.deadline = requireNonNull(deadline, "deadline is null");
        this.maxBodyBytes = maxBodyBytes;
        Map<String, Integer> shortNames = new LinkedHashMap<>();
        for (ServiceDescriptor service : services) {
            for (MethodDescriptor<?, ?> method : service.getMethods()) {
                shortNames.merge(method.getBareMethodName(), 1, Integer::sum);
            }
        }
        for (ServiceDescriptor service : services) {
            for (MethodDescriptor<?, ?> method : service.getMethods()) {
                @SuppressWarnings("unchecked")
                MethodDescriptor<Message, Message> typed = (MethodDescriptor<Message, Message>) method;
                Message prototype = (Message)
                        ((MethodDescriptor.PrototypeMarshaller<?>) method.getRequestMarshaller()).getMessagePrototype();
                boolean read = policy.access(method) != dev.trellis.common.auth.Access.ADMIN;
                Endpoint endpoint = new Endpoint(typed, prototype, read);
                endpoints.put(method.getFullMethodName(), endpoint);
                // the bare name when it is unambiguous across the services
                if (shortNames.get(method.getBareMethodName()) == 1) {
                    endpoints.put(method.getBareMethodName(), endpoint);
                }
            }
        }
    }

    void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            try {
                route(exchange);
            } catch (StatusRuntimeException e) {
                HttpAnswers.error(exchange, WireError.from(e));
            }
        }
    }

    private void route(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        if (!path.equals(PREFIX) && !path.startsWith(PREFIX + "/")) {
            throw Status.NOT_FOUND
                    .withDescription("no such endpoint: " + path + " (GET " + PREFIX + " lists the methods)")
                    .asRuntimeException();
        }
        String rest = path.length() <= PREFIX.length() ? "" : path.substring(PREFIX.length() + 1);
        if (rest.isEmpty() || rest.equals("/")) {
            requireMethod(exchange, "GET");
            HttpAnswers.json(exchange, 200, index());
            return;
        }
        Endpoint endpoint = endpoints.get(rest);
        if (endpoint == null) {
            throw Status.NOT_FOUND
                    .withDescription("no such method: " + rest + " (GET " + PREFIX + " lists them)")
                    .asRuntimeException();
        }
        String name = endpoint.method().getBareMethodName();
        if (endpoint.method().getType() != MethodDescriptor.MethodType.UNARY) {
            throw Status.UNIMPLEMENTED
                    .withDescription(
                            name + " is a " + endpoint.method().getType().name().toLowerCase(java.util.Locale.ROOT)
                                    + " call, which the JSON API does not carry: call it over gRPC")
                    .asRuntimeException();
        }
        Message request;
        switch (exchange.getRequestMethod()) {
            case "POST" -> request = parse(endpoint, body(exchange), "request body");
            case "GET" -> {
                if (!endpoint.read()) {
                    throw Status.UNIMPLEMENTED
                            .withDescription(name + " changes state: POST it, with the admin token")
                            .asRuntimeException();
                }
                request = parse(
                        endpoint, queryJson(endpoint, exchange.getRequestURI().getRawQuery()), "query");
            }
            default ->
                throw Status.UNIMPLEMENTED
                        .withDescription(PREFIX + "/" + rest + " takes POST" + (endpoint.read() ? " or GET" : "")
                                + ", not " + exchange.getRequestMethod())
                        .asRuntimeException();
        }
        Channel withHeaders = ClientInterceptors.intercept(
                channel,
                MetadataUtils.newAttachHeadersInterceptor(
                        HttpAnswers.headers(exchange, List.of(AUTHORIZATION, ACTOR))));
        Message response = ClientCalls.blockingUnaryCall(
                withHeaders,
                endpoint.method(),
                CallOptions.DEFAULT.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS),
                request);
        HttpAnswers.json(exchange, 200, print(response));
    }

    private static void requireMethod(HttpExchange exchange, String expected) {
        if (!exchange.getRequestMethod().equals(expected)) {
            throw Status.UNIMPLEMENTED
                    .withDescription(exchange.getRequestURI().getPath() + " takes " + expected + ", not "
                            + exchange.getRequestMethod())
                    .asRuntimeException();
        }
    }

    private String body(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readNBytes(maxBodyBytes + 1);
            if (bytes.length > maxBodyBytes) {
                throw Status.RESOURCE_EXHAUSTED
                        .withDescription(
                                "request body larger than the " + maxBodyBytes + " bytes of --max-message-size")
                        .asRuntimeException();
            }
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    /** Query parameters as a JSON object of the request's top-level fields (repeated ones as arrays). */
    private static String queryJson(Endpoint endpoint, String rawQuery) {
        if (rawQuery == null || rawQuery.isEmpty()) {
            return "{}";
        }
        Descriptors.Descriptor type = endpoint.prototype().getDescriptorForType();
        Map<String, Value> fields = new LinkedHashMap<>();
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = decode(eq < 0 ? pair : pair.substring(0, eq));
            Value value = text(eq < 0 ? "true" : decode(pair.substring(eq + 1)));
            Descriptors.FieldDescriptor field = type.findFieldByName(key);
            if (field == null) {
                field = type.getFields().stream()
                        .filter(f -> f.getJsonName().equals(key))
                        .findFirst()
                        .orElse(null);
            }
            if (field != null && field.isRepeated() && !field.isMapField()) {
                Value earlier = fields.get(key);
                ListValue.Builder list = earlier == null ? ListValue.newBuilder() : earlier.getListValue().toBuilder();
                fields.put(
                        key,
                        Value.newBuilder().setListValue(list.addValues(value)).build());
            } else {
                fields.put(key, value);
            }
        }
        return print(Struct.newBuilder().putAllFields(fields).build());
    }

    private static Value text(String value) {
        return Value.newBuilder().setStringValue(value).build();
    }

    private static String decode(String text) {
        return URLDecoder.decode(text, StandardCharsets.UTF_8);
    }

    private static Message parse(Endpoint endpoint, String json, String where) {
        Message.Builder builder = endpoint.prototype().newBuilderForType();
        try {
            PARSER.merge(json.isBlank() ? "{}" : json, builder);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            String type = endpoint.prototype().getDescriptorForType().getFullName();
            String message = "the " + where + " is not a valid " + type + " in proto3 JSON: " + e.getMessage();
            throw new WireError(
                            Status.Code.INVALID_ARGUMENT,
                            message,
                            "INVALID_JSON",
                            Map.of(),
                            List.of(new FieldViolation(where.equals("query") ? "query" : "body", message)))
                    .toStatusException(dev.trellis.router.errors.StatusMapper.DOMAIN);
        }
        return builder.build();
    }

    private static String print(Message message) {
        try {
            return PRINTER.print(message);
        } catch (InvalidProtocolBufferException e) {
            throw Status.INTERNAL
                    .withDescription("cannot print the response as JSON")
                    .asRuntimeException();
        }
    }

    /** {@code {"methods": [{"name", "path", "input", "http": ["GET", "POST"], "access"}]}}. */
    private String index() {
        ListValue.Builder methods = ListValue.newBuilder();
        for (Map.Entry<String, Endpoint> entry : endpoints.entrySet()) {
            Endpoint endpoint = entry.getValue();
            boolean qualified = entry.getKey().contains("/");
            // a method appears once: under its bare name when it has one
            if (!qualified || !endpoints.containsKey(endpoint.method().getBareMethodName())) {
                methods.addValues(Value.newBuilder().setStructValue(describe(entry.getKey(), endpoint)));
            }
        }
        return print(Struct.newBuilder()
                .putFields("methods", Value.newBuilder().setListValue(methods).build())
                .build());
    }

    private static Struct describe(String path, Endpoint endpoint) {
        ListValue.Builder http = ListValue.newBuilder();
        if (endpoint.method().getType() == MethodDescriptor.MethodType.UNARY) {
            if (endpoint.read()) {
                http.addValues(text("GET"));
            }
            http.addValues(text("POST"));
        }
        return Struct.newBuilder()
                .putFields("name", text(endpoint.method().getFullMethodName()))
                .putFields("path", text(PREFIX + "/" + path))
                .putFields(
                        "input",
                        text(endpoint.prototype().getDescriptorForType().getFullName()))
                .putFields("http", Value.newBuilder().setListValue(http).build())
                .putFields("access", text(endpoint.read() ? "open" : "admin token"))
                .build();
    }
}
