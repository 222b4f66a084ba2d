package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * Which payload samples to read, each joined with its unit's outcomes of {@code metric}.
 *
 * @param version one version, or empty for all
 * @param since samples logged at or after this time
 * @param until samples logged before this time
 * @param withOutcomeOnly only samples whose unit has an outcome of the metric
 */
public record PayloadQuery(
        String model, String version, String metric, Instant since, Instant until, boolean withOutcomeOnly) {
    public PayloadQuery {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(metric, "metric is null");
        requireNonNull(since, "since is null");
        requireNonNull(until, "until is null");
    }
}
