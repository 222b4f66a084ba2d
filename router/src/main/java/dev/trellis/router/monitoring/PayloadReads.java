package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import dev.trellis.api.v1.CalibrationBin;
import dev.trellis.api.v1.ExportPayloadsRequest;
import dev.trellis.api.v1.GetPerformanceRequest;
import dev.trellis.api.v1.GetPerformanceResponse;
import dev.trellis.api.v1.LabelMix;
import dev.trellis.api.v1.PayloadRow;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.api.v1.VersionPerformance;
import dev.trellis.common.monitoring.LivePerformance;
import dev.trellis.common.monitoring.RegressionPerformance;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.experiments.store.PayloadQuery;
import dev.trellis.experiments.store.PayloadSample;
import dev.trellis.experiments.store.StoredPayload;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.FeatureSchema;
import dev.trellis.router.upstream.ModelCatalog;
import io.opentelemetry.api.OpenTelemetry;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The logged payload samples joined with outcomes: exported row by row for retraining, and
 * summarized per version as live performance. Reads page through the store in id order, a page at a
 * time. Thread-safe.
 */
public final class PayloadReads {
    static final int PAGE = 1000;

    private final ExperimentStore store;
    private final ModelCatalog catalog;
    private final Clock clock;
    private final PerformanceGauges gauges;
    private final int page;
    private final LongAdder pagesRead = new LongAdder();
    private final BundleMetrics bundleMetrics;

    @Inject
    public PayloadReads(
            ExperimentStore store,
            ModelCatalog catalog,
            Clock clock,
            PerformanceGauges gauges,
            OpenTelemetry openTelemetry,
            BundleMetrics bundleMetrics) {
        this(store, catalog, clock, gauges, openTelemetry, bundleMetrics, PAGE);
    }

    /** With {@code page} rows per store read (tests use small pages). */
    PayloadReads(
            ExperimentStore store,
            ModelCatalog catalog,
            Clock clock,
            PerformanceGauges gauges,
            OpenTelemetry openTelemetry,
            BundleMetrics bundleMetrics,
            int page) {
        this.gauges = requireNonNull(gauges, "gauges is null");
        this.bundleMetrics = requireNonNull(bundleMetrics, "bundleMetrics is null");
        this.store = requireNonNull(store, "store is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.clock = requireNonNull(clock, "clock is null");
        if (page < 1) {
            throw new IllegalArgumentException("page must be positive, was " + page);
        }
        this.page = page;
        requireNonNull(openTelemetry, "openTelemetry is null")
                .getMeter("dev.trellis.router.monitoring")
                .counterBuilder("trellis.payload.export_pages_read")
                .setDescription("store pages of payload samples read by ExportPayloads")
                .buildWithCallback(m -> m.record(pagesRead.sum()));
    }

    /**
     * Opens an export of every sample with an outcome of the metric, oldest first, read from the
     * store one page at a time as the caller asks for them. Checks the request before anything is
     * read.
     */
    public ExportCursor openExport(ExportPayloadsRequest request) {
        DriftService.knownModel(catalog, request.getModel());
        requireMetric(request.getMetric());
        return new ExportCursor(new PayloadQuery(
                request.getModel(),
                request.getVersion(),
                request.getMetric(),
                since(request.hasSince(), request.getSince()),
                until(request.hasUntil(), request.getUntil()),
                true));
    }

    /**
     * An export's position in the store: each {@link #nextPage} reads one page (at most
     * {@code page} rows) after the last one. Not thread-safe: one call's callbacks use it in turn.
     */
    public final class ExportCursor {
        private final PayloadQuery query;
        private long after;
        private boolean done;

        private ExportCursor(PayloadQuery query) {
            this.query = query;
        }

        /** The next rows, empty once the export is complete. */
        public List<PayloadRow> nextPage() {
            if (done) {
                return List.of();
            }
            List<StoredPayload> stored = store.payloadSamples(query, after, page);
            pagesRead.increment();
            if (stored.size() < page) {
                done = true;
            }
            if (!stored.isEmpty()) {
                after = stored.get(stored.size() - 1).id();
            }
            return stored.stream().map(PayloadReads::toRow).toList();
        }
    }

    /** Store pages read by exports so far (the read-ahead of a slow client stays bounded). */
    long exportPagesRead() {
        return pagesRead.sum();
    }

    /**
     * Live performance per version over the request's window; when some sample has an outcome of
     * the metric, the (model, metric) pair is tracked from then on, so its gauges stay fresh (see
     * {@link PerformanceRefresh}).
     */
    public GetPerformanceResponse performance(GetPerformanceRequest request) {
        DriftService.knownModel(catalog, request.getModel());
        requireMetric(request.getMetric());
        List<VersionPerformance> versions = performance(
                request.getModel(),
                request.getVersion(),
                request.getMetric(),
                since(request.hasSince(), request.getSince()),
                until(request.hasUntil(), request.getUntil()));
        // only a metric that has outcomes: a caller's typo must not become a gauge label forever
        if (versions.stream().anyMatch(v -> v.getWithOutcome() > 0)) {
            gauges.track(new TrackedMetric(request.getModel(), request.getMetric()));
        }
        return GetPerformanceResponse.newBuilder().addAllVersions(versions).build();
    }

    /** Live performance of each version of {@code model} ({@code version} empty: all) with samples in [since, until). */
    List<VersionPerformance> performance(
            String modelName, String version, String metric, Instant since, Instant until) {
        CatalogSnapshot.Model model = DriftService.knownModel(catalog, modelName);
        PayloadQuery query = new PayloadQuery(modelName, version, metric, since, until, false);
        Map<String, Rows> byVersion = new TreeMap<>(CatalogSnapshot.VERSION_ORDER.reversed());
        long after = 0;
        while (true) {
            List<StoredPayload> stored = store.payloadSamples(query, after, page);
            for (StoredPayload row : stored) {
                byVersion
                        .computeIfAbsent(row.sample().version(), v -> new Rows())
                        .add(row);
            }
            if (stored.size() < page) {
                break;
            }
            after = stored.get(stored.size() - 1).id();
        }
        List<VersionPerformance> out = new ArrayList<>();
        byVersion.forEach((v, rows) -> out.add(toProto(model, v, rows)));
        return out;
    }

    private static void requireMetric(String metric) {
        if (metric.isEmpty()) {
            throw RouterException.invalidRequest(
                    "metric is required",
                    List.of(new RouterException.Violation(
                            "metric", "name the outcome metric that is the label, e.g. \"churned\"")));
        }
    }

    private static Instant since(boolean set, Timestamp t) {
        return set ? Instant.ofEpochSecond(t.getSeconds(), t.getNanos()) : Instant.EPOCH;
    }

    private Instant until(boolean set, Timestamp t) {
        return set
                ? Instant.ofEpochSecond(t.getSeconds(), t.getNanos())
                : clock.instant().plusSeconds(1);
    }

    /** 1 when the unit's outcomes of the metric sum above 0. */
    static int target(double outcomeSum) {
        return outcomeSum > 0 ? 1 : 0;
    }

    static PayloadRow toRow(StoredPayload stored) {
        PayloadSample s = stored.sample();
        Struct.Builder features = Struct.newBuilder();
        try {
            JsonFormat.parser().merge(s.featuresJson(), features);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("stored payload sample " + stored.id() + " has unreadable features", e);
        }
        return PayloadRow.newBuilder()
                .setUnitId(s.unitId())
                .setVersion(s.version())
                .setTime(Timestamps.fromMillis(s.time().toEpochMilli()))
                .putAllFeatures(features.getFieldsMap())
                .setScore(s.score())
                .setLabel(s.label())
                .setExperiment(s.experiment() == null ? "" : s.experiment())
                .setVariant(s.variant() == null ? "" : s.variant())
                .setTarget(target(stored.outcome().orElse(0)))
                .setValue(stored.outcome().orElse(0))
                .build();
    }

    private VersionPerformance toProto(CatalogSnapshot.Model model, String version, Rows rows) {
        TargetKind kind = targetKind(model, version);
        Map<String, Double> bundle = bundleTestMetrics(model, version);
        VersionPerformance.Builder out = VersionPerformance.newBuilder()
                .setModel(model.name())
                .setVersion(version)
                .setTargetKind(kind)
                .setSamples(rows.samples)
                .setWithOutcome(rows.scores.size())
                .putAllBundleTestMetrics(bundle);
        List<LivePerformance.LabelCount> labels;
        if (kind == TargetKind.TARGET_KIND_REGRESSION) {
            RegressionPerformance p = RegressionPerformance.of(rows.scores(), rows.observed(), rows.labels());
            out.setSufficient(p.sufficient());
            if (p.sufficient()) {
                out.setRmse(p.rmse()).setMae(p.mae()).setR2(p.r2());
                if (bundle.containsKey("rmse")) {
                    out.setRmseChange(p.rmse() - bundle.get("rmse"));
                }
            }
            labels = p.labels();
        } else {
            double[] observed = rows.observed();
            int[] outcomes = new int[observed.length];
            for (int i = 0; i < observed.length; i++) {
                outcomes[i] = target(observed[i]);
            }
            LivePerformance p = LivePerformance.of(rows.scores(), outcomes, rows.labels());
            out.setPositives(p.positives())
                    .setSufficient(p.sufficient())
                    .setAuc(p.sufficient() ? p.auc() : 0)
                    .setBrier(p.sufficient() ? p.brier() : 0);
            if (p.sufficient() && bundle.containsKey("auc_roc")) {
                out.setAucChange(p.auc() - bundle.get("auc_roc"));
            }
            for (LivePerformance.CalibrationBin bin : p.calibration()) {
                out.addCalibration(CalibrationBin.newBuilder()
                        .setDecile(bin.decile())
                        .setRows(bin.rows())
                        .setMeanScore(bin.meanScore())
                        .setObservedRate(bin.observedRate()));
            }
            labels = p.labels();
        }
        for (LivePerformance.LabelCount label : labels) {
            out.addLabels(LabelMix.newBuilder()
                    .setLabel(label.label())
                    .setRows(label.rows())
                    .setPositives(label.positives())
                    .setObservedRate(label.observedRate())
                    .setMeanScore(label.meanScore())
                    .setMeanObserved(label.meanObserved()));
        }
        return out.build();
    }

    /**
     * What the version predicts, from its ModelMetadata; for a version no replica serves any more,
     * what the model's other versions predict; binary when nothing is known.
     */
    private static TargetKind targetKind(CatalogSnapshot.Model model, String version) {
        return model.version(version)
                .flatMap(CatalogSnapshot.Version::schema)
                .or(() -> model.versions().values().stream()
                        .flatMap(v -> v.schema().stream())
                        .findFirst())
                .map(FeatureSchema::targetKind)
                .orElse(TargetKind.TARGET_KIND_BINARY);
    }

    /** The bundle's test metrics from the first replica serving the version that answers; empty if none. */
    private Map<String, Double> bundleTestMetrics(CatalogSnapshot.Model model, String version) {
        return bundleMetrics.of(model, version);
    }

    /** One version's samples: all counted, those with an outcome kept for the figures. */
    private static final class Rows {
        long samples;
        final List<Double> scores = new ArrayList<>();
        final List<Double> observed = new ArrayList<>();
        final List<String> labels = new ArrayList<>();

        void add(StoredPayload stored) {
            samples++;
            if (stored.outcome().isPresent()) {
                scores.add(stored.sample().score());
                observed.add(stored.outcome().getAsDouble());
                labels.add(stored.sample().label());
            }
        }

        double[] scores() {
            return scores.stream().mapToDouble(Double::doubleValue).toArray();
        }

        /** The sum of each unit's outcomes of the metric. */
        double[] observed() {
            return observed.stream().mapToDouble(Double::doubleValue).toArray();
        }

        String[] labels() {
            return labels.toArray(String[]::new);
        }
    }
}
