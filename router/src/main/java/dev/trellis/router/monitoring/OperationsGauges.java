package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.router.control.ControlPlane;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gauges the alert rules need beyond the call metrics: {@code trellis_experiment_srm_mismatch}
 * (1 when a RUNNING experiment's sample-ratio check fails, p &lt; 0.001; recomputed by
 * {@link PerformanceRefresh} every {@code --performance-refresh}, since results read the store:
 * a scrape only reads the last answer) and {@code trellis_control_replicas_missing_desired} (per
 * desired model version, the serving replicas on which it is not ready). Thread-safe.
 */
public final class OperationsGauges {
    private static final Logger log = LoggerFactory.getLogger(OperationsGauges.class);
    private static final AttributeKey<String> EXPERIMENT = AttributeKey.stringKey("experiment");
    private static final AttributeKey<String> MODEL = AttributeKey.stringKey("model");
    private static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");

    private final ExperimentManager experiments;
    private final AtomicReference<Map<String, Boolean>> srm = new AtomicReference<>(Map.of());

    @Inject
    public OperationsGauges(
            OpenTelemetry openTelemetry, ExperimentManager experiments, ControlPlane control, ModelCatalog catalog) {
        this.experiments = requireNonNull(experiments, "experiments is null");
        requireNonNull(control, "control is null");
        requireNonNull(catalog, "catalog is null");
        Meter meter = requireNonNull(openTelemetry, "openTelemetry is null").getMeter("dev.trellis.router.monitoring");
        meter.gaugeBuilder("trellis.experiment.srm_mismatch")
                .ofLongs()
                .setDescription("1 when a running experiment's sample-ratio check fails (p < 0.001)")
                .buildWithCallback(m -> srm.get()
                        .forEach((experiment, mismatch) ->
                                m.record(mismatch ? 1 : 0, Attributes.of(EXPERIMENT, experiment))));
        meter.gaugeBuilder("trellis.control.replicas_missing_desired")
                .ofLongs()
                .setDescription("serving replicas on which a desired model version is not ready")
                .buildWithCallback(m -> {
                    CatalogSnapshot snapshot = catalog.snapshot();
                    long serving = snapshot.replicas().stream()
                            .filter(CatalogSnapshot.Replica::serving)
                            .count();
                    control.desired()
                            .holders()
                            .forEach((model, versions) -> versions.keySet().forEach(version -> {
                                long ready = snapshot.model(model)
                                        .flatMap(mm -> mm.version(version))
                                        .map(v -> v.replicas().values().stream()
                                                .filter(CatalogSnapshot.ReplicaState::ready)
                                                .count())
                                        .orElse(0L);
                                m.record(Math.max(0, serving - ready), Attributes.of(MODEL, model, VERSION, version));
                            }));
                });
    }

    /** Recomputes the SRM check of every RUNNING experiment with a metric (reads the store). */
    void refreshSrm() {
        Map<String, Boolean> mismatch = new TreeMap<>();
        List<Experiment> running = experiments.list(null, ExperimentStatus.RUNNING);
        for (Experiment experiment : running) {
            if (experiment.getMetric().isEmpty()) {
                continue;
            }
            try {
                GetResultsResponse results = experiments.results(experiment.getKey(), "");
                mismatch.put(experiment.getKey(), results.getSrm().getMismatch());
            } catch (RuntimeException e) {
                log.debug("no SRM for {}: {}", experiment.getKey(), e.toString());
            }
        }
        srm.set(Map.copyOf(mismatch));
    }
}
