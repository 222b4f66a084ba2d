package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * A unit was served a variant of an experiment. May be recorded per request, by any router: the
 * store keeps one row per (experiment, unit), the earliest, so repeats and retried calls store
 * nothing twice.
 */
public record Exposure(String experiment, String variant, String version, String unitId, Instant time) {
    public Exposure {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(variant, "variant is null");
        requireNonNull(version, "version is null");
        requireNonNull(unitId, "unitId is null");
        requireNonNull(time, "time is null");
    }
}
