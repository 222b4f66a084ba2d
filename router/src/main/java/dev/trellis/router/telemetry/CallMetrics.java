package dev.trellis.router.telemetry;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.auth.BearerAuthInterceptor;
import dev.trellis.common.grpc.CallCompletion;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import jakarta.inject.Inject;

/**
 * Every status the router returns, by method and code ({@code trellis_router_requests_total}),
 * and every call the auth check refused, by method and reason ({@code trellis_router_auth_denied_total}).
 * Installed for the whole server and outermost, so refusals and unparseable requests are counted
 * too. Thread-safe.
 */
public final class CallMetrics implements ServerInterceptor {
    private static final AttributeKey<String> METHOD = AttributeKey.stringKey("rpc.method");
    private static final AttributeKey<String> STATUS = AttributeKey.stringKey("rpc.grpc.status_code");
    private static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");

    private final LongCounter requests;
    private final LongCounter denied;

    @Inject
    public CallMetrics(OpenTelemetry openTelemetry) {
        Meter meter = requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.router");
        this.requests = meter.counterBuilder("trellis.router.requests")
                .setDescription("gRPC calls finished, by method and status code (every status the router returns)")
                .setUnit("{call}")
                .build();
        this.denied = meter.counterBuilder("trellis.router.auth.denied")
                .setDescription("calls refused for a missing or wrong bearer token, by method and reason")
                .setUnit("{call}")
                .build();
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
            ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        return CallCompletion.observe(
                call,
                headers,
                next,
                status -> requests.add(
                        1,
                        Attributes.of(METHOD, method, STATUS, status.getCode().name())));
    }

    public void denied(MethodDescriptor<?, ?> method, BearerAuthInterceptor.Denial denial) {
        denied.add(1, Attributes.of(METHOD, method.getFullMethodName(), REASON, denial.name()));
    }
}
