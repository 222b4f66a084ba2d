package dev.trellis.modelserver.repository;

import static java.util.Objects.requireNonNull;

/** A row of the repository index. */
public record VersionStatus(String model, int version, VersionState state, String reason) {
    public VersionStatus {
        requireNonNull(model, "model is null");
        requireNonNull(state, "state is null");
        requireNonNull(reason, "reason is null");
    }
}
