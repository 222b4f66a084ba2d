package dev.trellis.modelserver.telemetry;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.telemetry.ServerTelemetry;
import dev.trellis.modelserver.config.ModelServerConfig;
import io.opentelemetry.api.OpenTelemetry;
import jakarta.inject.Inject;

/**
 * The model-server's telemetry: the shared setup ({@link ServerTelemetry}) as service
 * "trellis-model-server", from the config's metrics port, span log and OTLP endpoint. Thread-safe.
 */
public final class Telemetry implements AutoCloseable {
    public static final String SERVICE_NAME = "trellis-model-server";

    private final ServerTelemetry telemetry;

    @Inject
    public Telemetry(ModelServerConfig config) {
        requireNonNull(config, "config is null");
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
        telemetry.close();
    }
}
