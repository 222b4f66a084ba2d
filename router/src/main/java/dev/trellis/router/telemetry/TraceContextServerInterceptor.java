package dev.trellis.router.telemetry;

import static java.util.Objects.requireNonNull;

import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import jakarta.inject.Inject;

/**
 * Extracts a caller's W3C trace context from the request metadata and keeps it in the gRPC
 * context, so that the services' SERVER spans continue the caller's trace. Thread-safe.
 */
public final class TraceContextServerInterceptor implements ServerInterceptor {
    /** The caller's trace context; the root context when the caller sent none. */
    public static final io.grpc.Context.Key<Context> PARENT =
            io.grpc.Context.keyWithDefault("trellis-otel-parent", Context.root());

    private static final TextMapGetter<Metadata> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Metadata carrier) {
            return carrier.keys();
        }

        @Override
        public String get(Metadata carrier, String key) {
            if (carrier == null || key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
                return null;
            }
            return carrier.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
        }
    };

    private final TextMapPropagator propagator;

    @Inject
    public TraceContextServerInterceptor(OpenTelemetry openTelemetry) {
        this.propagator = requireNonNull(openTelemetry, "openTelemetry is null")
                .getPropagators()
                .getTextMapPropagator();
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
            ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        Context parent = propagator.extract(Context.root(), headers, GETTER);
        return Contexts.interceptCall(io.grpc.Context.current().withValue(PARENT, parent), call, headers, next);
    }
}
