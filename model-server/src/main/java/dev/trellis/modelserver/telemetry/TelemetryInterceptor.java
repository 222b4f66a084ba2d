package dev.trellis.modelserver.telemetry;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.grpc.CallCompletion;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import jakarta.inject.Inject;

/**
 * Continues the caller's W3C trace (the {@code traceparent} metadata the router sends) with one
 * server span per call, and records call counts, errors and latency by method and status code.
 * Installed for the whole server and outermost, so that every status is counted, refusals by the
 * auth check and unparseable requests included. The span is current while the handler runs, so
 * handlers may add attributes. Thread-safe.
 */
public final class TelemetryInterceptor implements ServerInterceptor {
    static final TextMapGetter<Metadata> METADATA_GETTER = new TextMapGetter<>() {
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

    private final Tracer tracer;
    private final TextMapPropagator propagator;
    private final ServerMetrics metrics;

    @Inject
    public TelemetryInterceptor(OpenTelemetry openTelemetry, ServerMetrics metrics) {
        requireNonNull(openTelemetry, "openTelemetry is null");
        this.tracer = openTelemetry.getTracer("dev.trellis.modelserver");
        this.propagator = openTelemetry.getPropagators().getTextMapPropagator();
        this.metrics = requireNonNull(metrics, "metrics is null");
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
            ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        String fullMethod = call.getMethodDescriptor().getFullMethodName();
        String method = call.getMethodDescriptor().getBareMethodName();
        long start = System.nanoTime();
        Context parent = propagator.extract(Context.root(), headers, METADATA_GETTER);
        Span span = tracer.spanBuilder(fullMethod)
                .setParent(parent)
                .setSpanKind(SpanKind.SERVER)
                .setAttribute("rpc.system", "grpc")
                .setAttribute("rpc.service", call.getMethodDescriptor().getServiceName())
                .setAttribute("rpc.method", method == null ? fullMethod : method)
                .startSpan();
        Context context = parent.with(span);
        String methodName = method == null ? fullMethod : method;
        // the handler runs, and its listener is called, with the span current
        ServerCallHandler<ReqT, RespT> traced = (observed, metadata) -> {
            ServerCall.Listener<ReqT> delegate;
            try (Scope ignored = context.makeCurrent()) {
                delegate = next.startCall(observed, metadata);
            }
            return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
                @Override
                public void onMessage(ReqT message) {
                    try (Scope ignored = context.makeCurrent()) {
                        super.onMessage(message);
                    }
                }

                @Override
                public void onHalfClose() {
                    try (Scope ignored = context.makeCurrent()) {
                        super.onHalfClose();
                    }
                }

                @Override
                public void onCancel() {
                    try (Scope ignored = context.makeCurrent()) {
                        super.onCancel();
                    }
                }
            };
        };
        return CallCompletion.observe(call, headers, traced, status -> finish(span, methodName, status, start));
    }

    private void finish(Span span, String method, Status status, long startNanos) {
        metrics.recordCall(method, status.getCode().name(), (System.nanoTime() - startNanos) / 1e9);
        span.setAttribute("rpc.grpc.status_code", status.getCode().value());
        if (!status.isOk()) {
            span.setStatus(StatusCode.ERROR, status.getCode().name());
        }
        span.end();
    }
}
