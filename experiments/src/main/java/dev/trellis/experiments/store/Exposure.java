package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/** A unit was served a variant of an experiment. May be recorded per request; analysis keeps the first per unit. */
public record Exposure(String experiment, String variant, String version, String unitId, Instant time) {
    public Exposure {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(variant, "variant is null");
        requireNonNull(version, "version is null");
        requireNonNull(unitId, "unitId is null");
        requireNonNull(time, "time is null");
    }
}
