package dev.trellis.router.telemetry;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.telemetry.GrpcInstrumentation;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import jakarta.inject.Inject;

/**
 * A CLIENT span per upstream call, child of the current span, with the W3C {@code traceparent}
 * injected into the outgoing metadata so the model-server continues the trace: OpenTelemetry's
 * gRPC instrumentation ({@link GrpcInstrumentation#clientInterceptor()}). Thread-safe.
 */
public final class TracingClientInterceptor implements ClientInterceptor {
    private final ClientInterceptor delegate;

    @Inject
    public TracingClientInterceptor(GrpcInstrumentation instrumentation) {
        this.delegate =
                requireNonNull(instrumentation, "instrumentation is null").clientInterceptor();
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
            MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
        return delegate.interceptCall(method, callOptions, next);
    }
}
