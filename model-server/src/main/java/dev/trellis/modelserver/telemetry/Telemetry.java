package dev.trellis.modelserver.telemetry;

import static java.util.Objects.requireNonNull;

import dev.trellis.modelserver.config.ModelServerConfig;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.logging.LoggingSpanExporter;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import jakarta.inject.Inject;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the OpenTelemetry SDK of one server: metrics exposed for Prometheus scraping on the metrics
 * port, spans exported to the log when asked. Never registered as the global instance, so several
 * servers (e.g. in tests) can live in one JVM. Thread-safe.
 */
public final class Telemetry implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Telemetry.class);

    private final OpenTelemetrySdk sdk;
    private final AtomicBoolean closed = new AtomicBoolean();

    @Inject
    public Telemetry(ModelServerConfig config) {
        requireNonNull(config, "config is null");
        SdkMeterProviderBuilder meters = SdkMeterProvider.builder();
        if (config.metricsPort() != 0) {
            meters.registerMetricReader(PrometheusHttpServer.builder()
                    .setHost(config.host())
                    .setPort(config.metricsPort())
                    .build());
            log.info("metrics exposed for Prometheus on {}:{}/metrics", config.host(), config.metricsPort());
        }
        SdkTracerProviderBuilder tracers = SdkTracerProvider.builder();
        if (config.traceLog()) {
            tracers.addSpanProcessor(
                    BatchSpanProcessor.builder(LoggingSpanExporter.create()).build());
        }
        this.sdk = OpenTelemetrySdk.builder()
                .setMeterProvider(meters.build())
                .setTracerProvider(tracers.build())
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build();
    }

    public OpenTelemetry openTelemetry() {
        return sdk;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            sdk.close();
        }
    }
}
