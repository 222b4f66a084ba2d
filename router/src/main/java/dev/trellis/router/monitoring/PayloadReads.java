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
import dev.trellis.api.v1.VersionPerformance;
import dev.trellis.common.monitoring.LivePerformance;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.experiments.store.PayloadQuery;
import dev.trellis.experiments.store.PayloadSample;
import dev.trellis.experiments.store.StoredPayload;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

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
    private final BundleMetrics bundleMetrics;

    @Inject
    public PayloadReads(
            ExperimentStore store,
            ModelCatalog catalog,
            Clock clock,
            PerformanceGauges gauges,
            BundleMetrics bundleMetrics) {
        this.gauges = requireNonNull(gauges, "gauges is null");
        this.bundleMetrics = requireNonNull(bundleMetrics, "bundleMetrics is null");
        this.store = requireNonNull(store, "store is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** Every sample with an outcome of the metric, oldest first, handed to {@code sink} one at a time. */
    public void export(ExportPayloadsRequest request, Consumer<PayloadRow> sink) {
        DriftService.knownModel(catalog, request.getModel());
        requireMetric(request.getMetric());
        PayloadQuery query = new PayloadQuery(
                request.getModel(),
                request.getVersion(),
                request.getMetric(),
                since(request.hasSince(), request.getSince()),
                until(request.hasUntil(), request.getUntil()),
                true);
        forEach(query, stored -> sink.accept(toRow(stored)));
    }

    public GetPerformanceResponse performance(GetPerformanceRequest request) {
        CatalogSnapshot.Model model = DriftService.knownModel(catalog, request.getModel());
        requireMetric(request.getMetric());
        PayloadQuery query = new PayloadQuery(
                request.getModel(),
                request.getVersion(),
                request.getMetric(),
                since(request.hasSince(), request.getSince()),
                until(request.hasUntil(), request.getUntil()),
                false);
        Map<String, Rows> byVersion = new TreeMap<>(CatalogSnapshot.VERSION_ORDER.reversed());
        forEach(
                query,
                stored -> byVersion
                        .computeIfAbsent(stored.sample().version(), v -> new Rows())
                        .add(stored));
        GetPerformanceResponse.Builder response = GetPerformanceResponse.newBuilder();
        byVersion.forEach((version, rows) -> {
            VersionPerformance performance = toProto(model, version, rows);
            gauges.update(request.getMetric(), performance);
            response.addVersions(performance);
        });
        return response.build();
    }

    private void forEach(PayloadQuery query, Consumer<StoredPayload> action) {
        long after = 0;
        while (true) {
            List<StoredPayload> page = store.payloadSamples(query, after, PAGE);
            page.forEach(action);
            if (page.size() < PAGE) {
                return;
            }
            after = page.get(page.size() - 1).id();
        }
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
                .build();
    }

    private VersionPerformance toProto(CatalogSnapshot.Model model, String version, Rows rows) {
        LivePerformance p = rows.performance();
        VersionPerformance.Builder out = VersionPerformance.newBuilder()
                .setModel(model.name())
                .setVersion(version)
                .setSamples(rows.samples)
                .setWithOutcome(p.rows())
                .setPositives(p.positives())
                .setSufficient(p.sufficient())
                .setAuc(p.sufficient() ? p.auc() : 0)
                .setBrier(p.sufficient() ? p.brier() : 0);
        Map<String, Double> bundle = bundleTestMetrics(model, version);
        out.putAllBundleTestMetrics(bundle);
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
        for (LivePerformance.LabelCount label : p.labels()) {
            out.addLabels(LabelMix.newBuilder()
                    .setLabel(label.label())
                    .setRows(label.rows())
                    .setPositives(label.positives())
                    .setObservedRate(label.observedRate()));
        }
        return out.build();
    }

    /** The bundle's test metrics from the first replica serving the version that answers; empty if none. */
    private Map<String, Double> bundleTestMetrics(CatalogSnapshot.Model model, String version) {
        return bundleMetrics.of(model, version);
    }

    /** One version's samples: all counted, those with an outcome kept for the figures. */
    private static final class Rows {
        long samples;
        final List<Double> scores = new ArrayList<>();
        final List<Integer> outcomes = new ArrayList<>();
        final List<String> labels = new ArrayList<>();

        void add(StoredPayload stored) {
            samples++;
            if (stored.outcome().isPresent()) {
                scores.add(stored.sample().score());
                outcomes.add(target(stored.outcome().getAsDouble()));
                labels.add(stored.sample().label());
            }
        }

        LivePerformance performance() {
            return LivePerformance.of(
                    scores.stream().mapToDouble(Double::doubleValue).toArray(),
                    outcomes.stream().mapToInt(Integer::intValue).toArray(),
                    labels.toArray(String[]::new));
        }
    }
}
