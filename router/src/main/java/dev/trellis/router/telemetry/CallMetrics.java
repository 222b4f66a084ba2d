package dev.trellis.router.telemetry;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.auth.BearerAuthInterceptor;
import io.grpc.MethodDescriptor;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import jakarta.inject.Inject;

/**
 * Every call the auth check refused, by method and reason ({@code trellis_router_auth_denied_total}).
 * Every status the router returns is counted by the standard gRPC instrumentation
 * ({@code grpc_server_call_duration_seconds_count{grpc_method, grpc_status}}). Thread-safe.
 */
public final class CallMetrics {
    private static final AttributeKey<String> METHOD = AttributeKey.stringKey("rpc.method");
    private static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");

    private final LongCounter denied;

    @Inject
    public CallMetrics(OpenTelemetry openTelemetry) {
        Meter meter = requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.router");
        this.denied = meter.counterBuilder("trellis.router.auth.denied")
                .setDescription("calls refused for a missing or wrong bearer token, by method and reason")
                .setUnit("{call}")
                .build();
    }

    public void denied(MethodDescriptor<?, ?> method, BearerAuthInterceptor.Denial denial) {
        denied.add(1, Attributes.of(METHOD, method.getFullMethodName(), REASON, denial.name()));
    }
}
