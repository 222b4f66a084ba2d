package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.monitoring.LiveProfiles;
import dev.trellis.modelserver.monitoring.ProfileWindow;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import jakarta.inject.Inject;

/** Creates the batcher of each loaded model version with the configured options. Thread-safe. */
public final class BatcherFactory {
    private final BatchingOptions options;
    private final ServerMetrics metrics;

    private final LiveProfiles profiles;

    @Inject
    public BatcherFactory(ModelServerConfig config, ServerMetrics metrics, LiveProfiles profiles) {
        this(BatchingOptions.from(requireNonNull(config, "config is null")), metrics, profiles);
    }

    public BatcherFactory(BatchingOptions options, ServerMetrics metrics, LiveProfiles profiles) {
        this.options = requireNonNull(options, "options is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.profiles = requireNonNull(profiles, "profiles is null");
    }

    /** The batcher of a version being loaded, with its live profile (closed with the batcher). */
    public Batcher create(String model, int version, Ensemble ensemble) {
        ProfileWindow window = profiles.open(model, version, ensemble.schema());
        return new Batcher(
                model + "-v" + version,
                ensemble,
                options,
                metrics,
                ServerMetrics.versionAttributes(model, version),
                window,
                () -> profiles.close(window));
    }
}
