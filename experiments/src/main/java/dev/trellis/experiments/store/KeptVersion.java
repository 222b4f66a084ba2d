package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * A version an operator keeps loaded ({@code trellis models keep}), whatever definitions name it.
 *
 * @param actor who kept it
 * @param since when
 */
public record KeptVersion(String model, String version, String actor, Instant since) {
    public KeptVersion {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(actor, "actor is null");
        requireNonNull(since, "since is null");
    }
}
