package dev.trellis.modelserver.repository;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.bundle.BundleLoader;
import java.nio.file.Path;

/** Reads bundles with the ensemble module's {@link BundleLoader}. Thread-safe. */
public final class EnsembleBundleReader implements BundleReader {
    @Override
    public LoadedBundle load(Path versionDirectory) {
        return BundleLoader.load(requireNonNull(versionDirectory, "versionDirectory is null"));
    }
}
