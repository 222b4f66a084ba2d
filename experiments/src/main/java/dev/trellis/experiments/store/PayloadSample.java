package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * One scored row the router logged for monitoring and retraining.
 *
 * @param featuresJson the row's features as a JSON object (name → number, string or null)
 * @param experiment the experiment that routed the row, or null
 * @param variant its variant, or null
 */
public record PayloadSample(
        String model,
        String version,
        String unitId,
        Instant time,
        String featuresJson,
        double score,
        String label,
        String experiment,
        String variant) {
    public PayloadSample {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(unitId, "unitId is null");
        requireNonNull(time, "time is null");
        requireNonNull(featuresJson, "featuresJson is null");
        requireNonNull(label, "label is null");
    }
}
