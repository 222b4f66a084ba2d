package dev.trellis.modelserver.repository;

import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.api.LoadedBundle;
import java.nio.file.Path;

/** Reads and verifies one version folder. Implementations are thread-safe. */
public interface BundleReader {
    /**
     * @throws InvalidBundleException when the bundle is corrupted or inconsistent, with the reason
     */
    LoadedBundle load(Path versionDirectory);
}
