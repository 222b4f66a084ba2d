package dev.trellis.ensemble.api;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/** A bundle that cannot be served: corrupted, inconsistent, or of an unknown format. */
public final class InvalidBundleException extends RuntimeException {
    private final Path directory;

    public InvalidBundleException(Path directory, String reason) {
        super(directory + ": " + reason);
        this.directory = requireNonNull(directory, "directory is null");
    }

    public InvalidBundleException(Path directory, String reason, Throwable cause) {
        super(directory + ": " + reason, cause);
        this.directory = requireNonNull(directory, "directory is null");
    }

    public Path directory() {
        return directory;
    }
}
