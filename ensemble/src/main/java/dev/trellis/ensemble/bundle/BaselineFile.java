package dev.trellis.ensemble.bundle;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.trellis.common.monitoring.Baseline;
import dev.trellis.ensemble.api.InvalidBundleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code baseline.json} of a bundle: the drift baseline ({@link Baseline}, snake_case keys),
 * listed in bundle.json's files as {@value #KEY} with its sha256. Bundles trained before baselines
 * existed have no such file and still load; drift then reports "no baseline". Stateless.
 */
public final class BaselineFile {
    public static final String FILE_NAME = "baseline.json";
    public static final String KEY = "baseline";

    private BaselineFile() {}

    /** Writes {@code dir/baseline.json} (compact: the sketches are long) and returns its file entry. */
    static BundleManifest.FileEntry write(Path dir, Baseline baseline) throws IOException {
        Path file = dir.resolve(FILE_NAME);
        Json.mapper().writer().without(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), baseline);
        return new BundleManifest.FileEntry(FILE_NAME, Checksums.sha256(file));
    }

    /**
     * The baseline of a version folder, empty when its bundle has none.
     *
     * @throws InvalidBundleException when bundle.json lists a baseline that is missing, changed or
     *     unreadable
     */
    public static Optional<Baseline> read(Path versionDir) {
        BundleManifest manifest = BundleLoader.readManifest(versionDir);
        BundleManifest.FileEntry entry = manifest.files().get(KEY);
        if (entry == null) {
            return Optional.empty();
        }
        Path file = versionDir.resolve(FILE_NAME);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new InvalidBundleException(versionDir, "cannot read " + FILE_NAME + ": " + e.getMessage(), e);
        }
        String actual = Checksums.sha256(bytes);
        if (!actual.equalsIgnoreCase(entry.sha256())) {
            throw new InvalidBundleException(
                    versionDir,
                    "sha256 mismatch for " + FILE_NAME + ": expected " + entry.sha256() + ", found " + actual);
        }
        try {
            return Optional.of(Json.mapper().readValue(bytes, Baseline.class));
        } catch (JsonProcessingException e) {
            throw new InvalidBundleException(versionDir, "unparseable " + FILE_NAME + ": " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new InvalidBundleException(versionDir, "cannot read " + FILE_NAME + ": " + e.getMessage(), e);
        }
    }
}
