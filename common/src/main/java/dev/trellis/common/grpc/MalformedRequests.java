package dev.trellis.common.grpc;

import static java.util.Objects.requireNonNull;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers requests whose bytes do not parse (garbage, invalid UTF-8 in a string field) with
 * INVALID_ARGUMENT "request could not be parsed as ..." and one WARN line without a stack trace,
 * instead of grpc-java's UNKNOWN "Application error processing RPC" and a SEVERE stack trace per
 * request. grpc-java parses a request before any interceptor sees it, so {@link #guard} takes the
 * parsing over: the guarded service receives the raw bytes and parses them with the method's own
 * marshaller; a failure closes the call through whatever interceptors wrap the service (so status
 * metrics count it) and the service never sees the message. Thread-safe.
 */
public final class MalformedRequests {
    public static final String REASON = "MALFORMED_REQUEST";

    private static final Logger log = LoggerFactory.getLogger(MalformedRequests.class);
    private static final MethodDescriptor.Marshaller<InputStream> RAW = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(InputStream value) {
            return value;
        }

        @Override
        public InputStream parse(InputStream stream) {
            return stream;
        }
    };

    private MalformedRequests() {}

    /**
     * The same service (names, schema descriptors for reflection, handlers), with request parsing
     * that answers bytes that do not parse with INVALID_ARGUMENT.
     *
     * @param domain the ErrorInfo domain of the server
     */
    public static ServerServiceDefinition guard(ServerServiceDefinition service, String domain) {
        requireNonNull(service, "service is null");
        requireNonNull(domain, "domain is null");
        ServiceDescriptor original = service.getServiceDescriptor();
        List<ServerMethodDefinition<InputStream, ?>> methods = new ArrayList<>();
        ServiceDescriptor.Builder descriptor =
                ServiceDescriptor.newBuilder(original.getName()).setSchemaDescriptor(original.getSchemaDescriptor());
        for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
            ServerMethodDefinition<InputStream, ?> guarded = guard(method, domain);
            methods.add(guarded);
            descriptor.addMethod(guarded.getMethodDescriptor());
        }
        ServerServiceDefinition.Builder guarded = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(guarded::addMethod);
        return guarded.build();
    }

    private static <ReqT, RespT> ServerMethodDefinition<InputStream, RespT> guard(
            ServerMethodDefinition<ReqT, RespT> definition, String domain) {
        MethodDescriptor<ReqT, RespT> method = definition.getMethodDescriptor();
        MethodDescriptor<InputStream, RespT> raw =
                method.toBuilder(RAW, method.getResponseMarshaller()).build();
        ServerCallHandler<ReqT, RespT> handler = definition.getServerCallHandler();
        return ServerMethodDefinition.create(raw, (call, headers) -> {
            TypedCall<ReqT, RespT> typed = new TypedCall<>(call, method);
            return new ParsingListener<>(typed, handler.startCall(typed, headers), domain);
        });
    }

    /** Parses each message; after a failure the call is closed and the service hears nothing more but the end. */
    private static final class ParsingListener<ReqT, RespT> extends ServerCall.Listener<InputStream> {
        private final TypedCall<ReqT, RespT> call;
        private final ServerCall.Listener<ReqT> delegate;
        private final String domain;
        // listener callbacks are serialized by grpc-java
        private boolean failed;

        ParsingListener(TypedCall<ReqT, RespT> call, ServerCall.Listener<ReqT> delegate, String domain) {
            this.call = call;
            this.delegate = delegate;
            this.domain = domain;
        }

        @Override
        public void onMessage(InputStream message) {
            if (failed) {
                return;
            }
            ReqT request;
            try {
                request = call.method.parseRequest(message);
            } catch (RuntimeException e) {
                failed = true;
                reject(e);
                return;
            }
            delegate.onMessage(request);
        }

        private void reject(RuntimeException failure) {
            String messageType = requestType(call.method);
            String problem = innermostMessage(failure);
            log.warn(
                    "unparseable request to {} from {}: {}",
                    call.method.getFullMethodName(),
                    call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR),
                    problem);
            StatusRuntimeException error = new WireError(
                            Status.Code.INVALID_ARGUMENT,
                            "request could not be parsed as " + messageType + ": " + problem,
                            REASON,
                            Map.of("method", call.method.getFullMethodName()),
                            List.of())
                    .toStatusException(domain);
            call.closeOnce(error.getStatus(), error.getTrailers() == null ? new Metadata() : error.getTrailers());
        }

        @Override
        public void onHalfClose() {
            if (!failed) {
                delegate.onHalfClose();
            }
        }

        @Override
        public void onCancel() {
            delegate.onCancel();
        }

        @Override
        public void onComplete() {
            delegate.onComplete();
        }

        @Override
        public void onReady() {
            if (!failed) {
                delegate.onReady();
            }
        }
    }

    private static String requestType(MethodDescriptor<?, ?> method) {
        if (method.getRequestMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<?> prototype
                && prototype.getMessagePrototype() instanceof com.google.protobuf.Message message) {
            return message.getDescriptorForType().getFullName();
        }
        return "the request of " + method.getFullMethodName();
    }

    private static String innermostMessage(Throwable failure) {
        Throwable current = failure;
        while (current.getCause() != null && current.getCause() != current) {
            current = current.getCause();
        }
        String message = current.getMessage();
        if (message == null || message.isBlank()) {
            return failure instanceof StatusRuntimeException status
                    ? String.valueOf(status.getStatus().getDescription())
                    : current.getClass().getSimpleName();
        }
        return message;
    }

    /** The raw call seen with the service's own request type; closes at most once. */
    private static final class TypedCall<ReqT, RespT> extends ServerCall<ReqT, RespT> {
        private final ServerCall<InputStream, RespT> raw;
        private final MethodDescriptor<ReqT, RespT> method;
        private final AtomicBoolean closed = new AtomicBoolean();

        TypedCall(ServerCall<InputStream, RespT> raw, MethodDescriptor<ReqT, RespT> method) {
            this.raw = raw;
            this.method = method;
        }

        void closeOnce(Status status, Metadata trailers) {
            if (closed.compareAndSet(false, true)) {
                raw.close(status, trailers);
            }
        }

        @Override
        public void request(int numMessages) {
            raw.request(numMessages);
        }

        @Override
        public void sendHeaders(Metadata headers) {
            raw.sendHeaders(headers);
        }

        @Override
        public void sendMessage(RespT message) {
            raw.sendMessage(message);
        }

        @Override
        public boolean isReady() {
            return raw.isReady();
        }

        @Override
        public void close(Status status, Metadata trailers) {
            // the service answering after a rejected message (e.g. a stream's earlier work) is dropped
            closeOnce(status, trailers);
        }

        @Override
        public boolean isCancelled() {
            return raw.isCancelled();
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            raw.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            raw.setCompression(compressor);
        }

        @Override
        public SecurityLevel getSecurityLevel() {
            return raw.getSecurityLevel();
        }

        @Override
        public Attributes getAttributes() {
            return raw.getAttributes();
        }

        @Override
        public String getAuthority() {
            return raw.getAuthority();
        }

        @Override
        public MethodDescriptor<ReqT, RespT> getMethodDescriptor() {
            return method;
        }
    }
}
