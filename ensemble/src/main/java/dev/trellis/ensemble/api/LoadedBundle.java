package dev.trellis.ensemble.api;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Map;

/**
 * A bundle read from {@code <repo>/<model>/<version>/}, verified and ready to score.
 *
 * @param model logical model name
 * @param version integer version (the folder name)
 * @param directory the version folder
 * @param ensemble the scoring ensemble
 * @param testMetrics the ensemble's held-out test metrics from bundle.json (e.g. "auc_roc", "brier")
 */
public record LoadedBundle(
        String model, int version, Path directory, Ensemble ensemble, Map<String, Double> testMetrics)
        implements AutoCloseable {
    public LoadedBundle {
        requireNonNull(model, "model is null");
        requireNonNull(directory, "directory is null");
        requireNonNull(ensemble, "ensemble is null");
        testMetrics = Map.copyOf(requireNonNull(testMetrics, "testMetrics is null"));
    }

    @Override
    public void close() {
        ensemble.close();
    }
}
