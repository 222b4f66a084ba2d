package dev.trellis.router.telemetry;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.logging.LoggingSpanExporter;
import io.opentelemetry.exporter.prometheus.PrometheusHttpServer;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.io.Closeable;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds and owns the OpenTelemetry SDK of a router: W3C trace-context propagation, an optional
 * span log (--trace-log), and the Prometheus scrape endpoint on --metrics-port (0 disables it).
 * This is the bootstrap: the rest of the router receives {@link OpenTelemetry} by injection.
 */
public final class Telemetry implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(Telemetry.class);

    private final OpenTelemetrySdk sdk;
    private final Optional<PrometheusHttpServer> prometheus;

    public Telemetry(String host, int metricsPort, boolean traceLog) {
        Resource resource = Resource.getDefault()
                .merge(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), "trellis-router")));
        SdkTracerProviderBuilder tracer = SdkTracerProvider.builder().setResource(resource);
        if (traceLog) {
            tracer.addSpanProcessor(SimpleSpanProcessor.create(LoggingSpanExporter.create()));
        } else {
            // Nothing exports spans: record none, but keep creating span contexts so that trace ids
            // still propagate to the model-servers (traceparent with the sampled flag off).
            tracer.setSampler(Sampler.alwaysOff());
        }
        SdkMeterProviderBuilder meter = SdkMeterProvider.builder().setResource(resource);
        if (metricsPort > 0) {
            PrometheusHttpServer server = PrometheusHttpServer.builder()
                    .setHost(host)
                    .setPort(metricsPort)
                    .build();
            meter.registerMetricReader(server);
            this.prometheus = Optional.of(server);
            log.info("Prometheus metrics on http://{}:{}/metrics", host, metricsPort);
        } else {
            this.prometheus = Optional.empty();
        }
        this.sdk = OpenTelemetrySdk.builder()
                .setTracerProvider(tracer.build())
                .setMeterProvider(meter.build())
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build();
    }

    public OpenTelemetry openTelemetry() {
        return sdk;
    }

    @Override
    public void close() {
        sdk.close(); // idempotent; also shuts down the Prometheus reader (and its HTTP server)
    }
}
