package dev.trellis.common.telemetry;

import static java.util.Objects.requireNonNull;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannelBuilder;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptor;
import io.grpc.opentelemetry.GrpcOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.TracerProvider;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.instrumentation.grpc.v1_6.GrpcTelemetry;

/**
 * Maintained gRPC instrumentation for both servers, instead of hand-written interceptors:
 *
 * <ul>
 *   <li>Metrics: grpc-java's own OpenTelemetry module (gRFC A66): {@code grpc.server.call.started},
 *       {@code grpc.server.call.duration} (seconds, by {@code grpc.method} and {@code grpc.status},
 *       every status the server returns, refusals by interceptors included) and the message sizes;
 *       Prometheus sees e.g. {@code grpc_server_call_duration_seconds_count}. On the client side
 *       (channels given to {@link #instrument(ManagedChannelBuilder)}): {@code
 *       grpc.client.attempt.started}, {@code grpc.client.attempt.duration} (per attempt, so each
 *       retry counts), {@code grpc.client.call.duration} (the whole call, retries included) and the
 *       message sizes, by {@code grpc.method}, {@code grpc.target} (the channel's target string, as
 *       built) and {@code grpc.status}.
 *   <li>Traces: OpenTelemetry's gRPC instrumentation library: a SERVER span per call that continues
 *       the caller's W3C {@code traceparent} and is current while the handler runs, and a CLIENT
 *       span per outgoing call that injects it. Its own metrics (in milliseconds) are left out:
 *       it gets the tracer and propagators only, the metrics come from grpc-java's module.
 * </ul>
 *
 * Thread-safe.
 */
public final class GrpcInstrumentation {
    private final GrpcOpenTelemetry metrics;
    private final GrpcTelemetry tracing;

    public GrpcInstrumentation(OpenTelemetry openTelemetry) {
        requireNonNull(openTelemetry, "openTelemetry is null");
        this.metrics = GrpcOpenTelemetry.newBuilder().sdk(openTelemetry).build();
        this.tracing = GrpcTelemetry.create(tracingOnly(openTelemetry));
    }

    private static OpenTelemetry tracingOnly(OpenTelemetry openTelemetry) {
        return new OpenTelemetry() {
            @Override
            public TracerProvider getTracerProvider() {
                return openTelemetry.getTracerProvider();
            }

            @Override
            public ContextPropagators getPropagators() {
                return openTelemetry.getPropagators();
            }
            // getMeterProvider(): the no-op default
        };
    }

    /**
     * Adds the call metrics to a server builder. Add {@link #serverInterceptor()} with the
     * builder's {@code intercept} last, so that its span covers every other interceptor.
     */
    public void instrument(ServerBuilder<?> server) {
        metrics.configureServerBuilder(server);
    }

    /**
     * Adds the client call metrics to a channel builder. Their {@code grpc.target} label is the
     * builder's target string, so a caller that wants a bounded label names its channels so.
     */
    public void instrument(ManagedChannelBuilder<?> channel) {
        metrics.configureChannelBuilder(channel);
    }

    /** The SERVER span of every call. */
    public ServerInterceptor serverInterceptor() {
        return tracing.newServerInterceptor();
    }

    /** A CLIENT span per outgoing call, with the trace context injected into its metadata. */
    public ClientInterceptor clientInterceptor() {
        return tracing.newClientInterceptor();
    }
}
