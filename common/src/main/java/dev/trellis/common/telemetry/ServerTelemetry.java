package dev.trellis.common.telemetry;

import static java.util.Objects.requireNonNull;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.logging.LoggingSpanExporter;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.prometheus.PrometheusMetricReader;
import io.opentelemetry.instrumentation.runtimemetrics.java17.RuntimeMetrics;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.InstrumentSelector;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.View;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one telemetry setup of both servers: an OpenTelemetry SDK with the service's name, W3C
 * trace-context propagation, JVM runtime metrics (memory, GC, threads, classes, CPU), metrics for
 * Prometheus on {@code /metrics} of the metrics port, and optionally OTLP (traces and metrics, over
 * HTTP/protobuf) and a span log. Never registered as the global instance, so several servers can
 * live in one JVM (tests). This is bootstrap code: everything else receives {@link OpenTelemetry}
 * by injection. Thread-safe; {@link #close} is idempotent.
 */
public final class ServerTelemetry implements AutoCloseable {
    /** The metrics port value that turns the Prometheus endpoint off. */
    public static final int METRICS_DISABLED = -1;

    private static final Logger log = LoggerFactory.getLogger(ServerTelemetry.class);
    private static final Duration OTLP_METRICS_INTERVAL = Duration.ofSeconds(10);

    private final OpenTelemetrySdk sdk;
    private final RuntimeMetrics runtimeMetrics;
    private final Optional<HTTPServer> prometheus;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param serviceName {@code service.name} of the resource, e.g. "trellis-router"
     * @param host address the metrics endpoint binds
     * @param metricsPort the metrics endpoint's port: 0 = an ephemeral one ({@link #metricsPort()}),
     *     {@link #METRICS_DISABLED} = none
     * @param traceLog also log every finished span
     * @param otlpEndpoint an OTLP/HTTP collector, e.g. {@code http://collector:4318}
     */
    public ServerTelemetry(
            String serviceName, String host, int metricsPort, boolean traceLog, Optional<URI> otlpEndpoint) {
        requireNonNull(serviceName, "serviceName is null");
        requireNonNull(host, "host is null");
        requireNonNull(otlpEndpoint, "otlpEndpoint is null");
        Resource resource = Resource.getDefault()
                .merge(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), serviceName)));

        SdkTracerProviderBuilder tracers = SdkTracerProvider.builder().setResource(resource);
        if (traceLog) {
            tracers.addSpanProcessor(
                    BatchSpanProcessor.builder(LoggingSpanExporter.create()).build());
        }
        otlpEndpoint.ifPresent(endpoint ->
                tracers.addSpanProcessor(BatchSpanProcessor.builder(OtlpHttpSpanExporter.builder()
                                .setEndpoint(resolve(endpoint, "v1/traces"))
                                .build())
                        .build()));
        if (!traceLog && otlpEndpoint.isEmpty()) {
            // nothing exports spans: record none, but keep creating span contexts so that trace ids
            // still propagate downstream (traceparent with the sampled flag off)
            tracers.setSampler(Sampler.alwaysOff());
        }

        SdkMeterProviderBuilder meters = SdkMeterProvider.builder().setResource(resource);
        renameJvmCounts(meters);
        HTTPServer server = null;
        if (metricsPort != METRICS_DISABLED) {
            PrometheusMetricReader reader = new PrometheusMetricReader(/* otelScopeEnabled= */ false, null);
            meters.registerMetricReader(reader);
            PrometheusRegistry registry = new PrometheusRegistry();
            registry.register(withTargetInfoHelp(reader));
            try {
                server = HTTPServer.builder()
                        .hostname(host)
                        .port(metricsPort)
                        .registry(registry)
                        .buildAndStart();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot serve metrics on " + host + ":" + metricsPort, e);
            }
            log.info("Prometheus metrics on http://{}:{}/metrics", host, server.getPort());
        }
        this.prometheus = Optional.ofNullable(server);
        otlpEndpoint.ifPresent(endpoint -> {
            meters.registerMetricReader(PeriodicMetricReader.builder(OtlpHttpMetricExporter.builder()
                            .setEndpoint(resolve(endpoint, "v1/metrics"))
                            .build())
                    .setInterval(OTLP_METRICS_INTERVAL)
                    .build());
            log.info("OTLP traces and metrics to {}", endpoint);
        });

        this.sdk = OpenTelemetrySdk.builder()
                .setTracerProvider(tracers.build())
                .setMeterProvider(meters.build())
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build();
        // JMX-based JVM metrics only: the JFR-based ones cost a recording thread
        this.runtimeMetrics = RuntimeMetrics.builder(sdk).disableAllFeatures().build();
    }

    /**
     * The exporter writes {@code target_info} (the resource's attributes) without a HELP line,
     * which {@code promtool check metrics} flags; this gives it one.
     */
    private static MultiCollector withTargetInfoHelp(PrometheusMetricReader reader) {
        return () -> new MetricSnapshots(reader.collect().stream()
                .map(snapshot -> snapshot instanceof InfoSnapshot info
                                && info.getMetadata().getName().equals("target")
                                && info.getMetadata().getHelp() == null
                        ? new InfoSnapshot(
                                new MetricMetadata("target", "Attributes of the service that exports these metrics"),
                                info.getDataPoints())
                        : snapshot)
                .toList());
    }

    /**
     * Standard JVM metric names that end in {@code .count} become Prometheus names ending in
     * {@code _count}, which promtool reserves for histograms and summaries: these get the names
     * Prometheus' own Java client gives the same values.
     */
    private static void renameJvmCounts(SdkMeterProviderBuilder meters) {
        rename(meters, "jvm.class.count", "jvm.classes.currently_loaded");
        rename(meters, "jvm.thread.count", "jvm.threads.current");
        rename(meters, "jvm.cpu.count", "jvm.available_processors");
    }

    private static void rename(SdkMeterProviderBuilder meters, String from, String to) {
        meters.registerView(
                InstrumentSelector.builder().setName(from).build(),
                View.builder().setName(to).build());
    }

    private static String resolve(URI endpoint, String path) {
        String base = endpoint.toString();
        return base.endsWith("/") ? base + path : base + "/" + path;
    }

    public OpenTelemetry openTelemetry() {
        return sdk;
    }

    /** The bound port of the metrics endpoint, or {@link #METRICS_DISABLED} when there is none. */
    public int metricsPort() {
        return prometheus.map(HTTPServer::getPort).orElse(METRICS_DISABLED);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            runtimeMetrics.close();
            prometheus.ifPresent(HTTPServer::close);
            sdk.close();
        }
    }
}
