package dev.trellis.router.telemetry;

import dev.trellis.common.telemetry.ServerTelemetry;
import dev.trellis.router.config.RouterConfig;
import io.opentelemetry.api.OpenTelemetry;
import java.io.Closeable;

/**
 * The router's telemetry: the shared setup ({@link ServerTelemetry}) as service "trellis-router",
 * from --metrics-port, --trace-log and --otlp-endpoint. This is the bootstrap: the rest of the
 * router receives {@link OpenTelemetry} by injection. Thread-safe.
 */
public final class Telemetry implements Closeable {
    public static final String SERVICE_NAME = "trellis-router";

    private final ServerTelemetry telemetry;

    public Telemetry(RouterConfig config) {
        this.telemetry = new ServerTelemetry(
                SERVICE_NAME, config.host(), config.metricsPort(), config.traceLog(), config.otlpEndpoint());
    }

    public OpenTelemetry openTelemetry() {
        return telemetry.openTelemetry();
    }

    /** The bound metrics port; -1 when the endpoint is disabled. */
    public int metricsPort() {
        return telemetry.metricsPort();
    }

    @Override
    public void close() {
        telemetry.close(); // idempotent; also stops the metrics endpoint
    }
}
