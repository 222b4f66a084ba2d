package dev.trellis.router.telemetry;

import static java.util.Objects.requireNonNull;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import jakarta.inject.Inject;

/**
 * A CLIENT span per upstream call, child of the current span, with the W3C {@code traceparent}
 * injected into the outgoing metadata so the model-server continues the trace. Thread-safe.
 */
public final class TracingClientInterceptor implements ClientInterceptor {
    private static final TextMapSetter<Metadata> SETTER =
            (carrier, key, value) -> carrier.put(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER), value);

    private final Tracer tracer;
    private final TextMapPropagator propagator;

    @Inject
    public TracingClientInterceptor(OpenTelemetry openTelemetry) {
        requireNonNull(openTelemetry, "openTelemetry is null");
        this.tracer = openTelemetry.getTracer("dev.trellis.router");
        this.propagator = openTelemetry.getPropagators().getTextMapPropagator();
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
            MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
        Context parent = Context.current();
        Span span = tracer.spanBuilder(method.getFullMethodName())
                .setParent(parent)
                .setSpanKind(SpanKind.CLIENT)
                .setAttribute("rpc.system", "grpc")
                .setAttribute("rpc.service", method.getServiceName() == null ? "" : method.getServiceName())
                .setAttribute("rpc.method", method.getBareMethodName() == null ? "" : method.getBareMethodName())
                .startSpan();
        Context context = parent.with(span);
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, callOptions)) {
            @Override
            public void start(Listener<RespT> listener, Metadata headers) {
                propagator.inject(context, headers, SETTER);
                super.start(
                        new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                            @Override
                            public void onClose(Status status, Metadata trailers) {
                                span.setAttribute(
                                        "rpc.grpc.status_code", status.getCode().value());
                                if (!status.isOk()) {
                                    span.setStatus(
                                            StatusCode.ERROR, status.getCode().name());
                                }
                                span.end();
                                super.onClose(status, trailers);
                            }
                        },
                        headers);
            }

            @Override
            public void cancel(String message, Throwable cause) {
                span.setStatus(StatusCode.ERROR, "cancelled");
                super.cancel(message, cause);
            }
        };
    }
}
