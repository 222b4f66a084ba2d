package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import jakarta.inject.Inject;

/** Creates the batcher of each loaded model version with the configured options. Thread-safe. */
public final class BatcherFactory {
    private final BatchingOptions options;
    private final ServerMetrics metrics;

    @Inject
    public BatcherFactory(ModelServerConfig config, ServerMetrics metrics) {
        this(BatchingOptions.from(requireNonNull(config, "config is null")), metrics);
    }

    public BatcherFactory(BatchingOptions options, ServerMetrics metrics) {
        this.options = requireNonNull(options, "options is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
    }

    public Batcher create(String model, int version, Ensemble ensemble) {
        return new Batcher(
                model + "-v" + version, ensemble, options, metrics, ServerMetrics.versionAttributes(model, version));
    }
}
