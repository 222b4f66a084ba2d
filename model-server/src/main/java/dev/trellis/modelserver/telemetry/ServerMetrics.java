package dev.trellis.modelserver.telemetry;

import static java.util.Objects.requireNonNull;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.LongHistogram;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongGauge;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The server's instruments. Names follow OpenTelemetry conventions; Prometheus sees them as e.g.
 * {@code trellis_modelserver_requests_total} and {@code trellis_modelserver_request_duration_seconds}.
 * Thread-safe.
 */
public final class ServerMetrics implements AutoCloseable {
    public static final AttributeKey<String> METHOD = AttributeKey.stringKey("rpc.method");
    public static final AttributeKey<String> STATUS = AttributeKey.stringKey("rpc.grpc.status_code");
    public static final AttributeKey<String> MODEL = AttributeKey.stringKey("model");
    public static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");
    public static final AttributeKey<String> LANE = AttributeKey.stringKey("lane");
    public static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");

    private static final List<Double> SECONDS_BUCKETS = List.of(
            0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0);
    private static final List<Long> ROWS_BUCKETS =
            List.of(1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, 1024L, 4096L, 16384L);

    private final Meter meter;
    private final LongCounter requests;
    private final LongCounter errors;
    private final DoubleHistogram latency;
    private final LongHistogram batchRows;
    private final DoubleHistogram queueDelay;
    private final LongCounter queueRejected;
    private final LongCounter queueExpired;
    private final LongCounter authDenied;
    private volatile ObservableLongGauge loadedVersions;
    private volatile ObservableLongGauge staleVersions;

    @Inject
    public ServerMetrics(OpenTelemetry openTelemetry) {
        this.meter = requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.modelserver");
        this.requests = meter.counterBuilder("trellis.modelserver.requests")
                .setDescription("gRPC calls finished, by method and status code (every status the server returns)")
                .build();
        this.errors = meter.counterBuilder("trellis.modelserver.errors")
                .setDescription("gRPC calls finished with a status other than OK, by method and status code")
                .build();
        this.latency = meter.histogramBuilder("trellis.modelserver.request.duration")
                .setUnit("s")
                .setDescription("gRPC call latency, from call start to close")
                .setExplicitBucketBoundariesAdvice(SECONDS_BUCKETS)
                .build();
        this.batchRows = meter.histogramBuilder("trellis.modelserver.batch.size")
                .ofLongs()
                .setUnit("{row}")
                .setDescription("rows per ensemble call")
                .setExplicitBucketBoundariesAdvice(ROWS_BUCKETS)
                .build();
        this.queueDelay = meter.histogramBuilder("trellis.modelserver.queue.delay")
                .setUnit("s")
                .setDescription("time a request waited in the batch queue")
                .setExplicitBucketBoundariesAdvice(SECONDS_BUCKETS)
                .build();
        this.queueRejected = meter.counterBuilder("trellis.modelserver.queue.rejected")
                .setDescription("requests refused because their lane's queue was full, by lane")
                .build();
        this.queueExpired = meter.counterBuilder("trellis.modelserver.queue.expired")
                .setDescription("requests dropped unscored because their timeout passed in the queue, by lane")
                .build();
        this.authDenied = meter.counterBuilder("trellis.modelserver.auth.denied")
                .setDescription("calls refused for a missing or wrong bearer token, by method and reason")
                .build();
    }

    public void recordCall(String method, String statusCode, double seconds) {
        Attributes attributes = Attributes.of(METHOD, method, STATUS, statusCode);
        requests.add(1, attributes);
        if (!statusCode.equals("OK")) {
            errors.add(1, attributes);
        }
        latency.record(seconds, Attributes.of(METHOD, method));
    }

    public void recordBatch(Attributes version, int rows) {
        batchRows.record(rows, version);
    }

    public void recordQueueDelay(Attributes version, double seconds) {
        queueDelay.record(seconds, version);
    }

    public void recordQueueRejected(Attributes lane) {
        queueRejected.add(1, lane);
    }

    public void recordQueueExpired(Attributes lane) {
        queueExpired.add(1, lane);
    }

    public void recordAuthDenied(String method, String reason) {
        authDenied.add(1, Attributes.of(METHOD, method, REASON, reason));
    }

    /** Reports, at each collection, the number of serving (READY or STALE) versions per model. */
    public void observeLoadedVersions(Supplier<Map<String, Integer>> readyVersionsByModel) {
        loadedVersions = perModel(
                "trellis.modelserver.versions.loaded",
                "model versions loaded and serving (READY or STALE), by model",
                requireNonNull(readyVersionsByModel, "readyVersionsByModel is null"));
    }

    /**
     * Reports, at each collection, the number of STALE versions per model: loaded versions whose
     * files changed or disappeared on disk ({@code trellis_modelserver_versions_stale}).
     */
    public void observeStaleVersions(Supplier<Map<String, Integer>> staleVersionsByModel) {
        staleVersions = perModel(
                "trellis.modelserver.versions.stale",
                "loaded model versions whose files changed or disappeared on disk, by model",
                requireNonNull(staleVersionsByModel, "staleVersionsByModel is null"));
    }

    private ObservableLongGauge perModel(String name, String description, Supplier<Map<String, Integer>> counts) {
        return meter.gaugeBuilder(name)
                .ofLongs()
                .setDescription(description)
                .buildWithCallback(measurement ->
                        counts.get().forEach((model, count) -> measurement.record(count, Attributes.of(MODEL, model))));
    }

    public static Attributes versionAttributes(String model, int version) {
        return Attributes.of(MODEL, model, VERSION, String.valueOf(version));
    }

    @Override
    public void close() {
        for (ObservableLongGauge gauge : new ObservableLongGauge[] {loadedVersions, staleVersions}) {
            if (gauge != null) {
                gauge.close();
            }
        }
    }
}
