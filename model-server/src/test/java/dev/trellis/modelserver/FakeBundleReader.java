package dev.trellis.modelserver;

import dev.trellis.common.sched.BulkThreads;
import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.modelserver.repository.BundleReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads fake bundles: {@code bundle.json} holds the bias of a {@link FakeEnsemble}, or the word
 * {@code corrupt} for a bundle that fails verification. Thread-safe.
 */
public final class FakeBundleReader implements BundleReader {
    private final Map<Path, FakeEnsemble> loaded = new ConcurrentHashMap<>();
    private final Map<Path, Integer> loadNices = new ConcurrentHashMap<>();

    public static Path install(Path repository, String model, int version, String content) {
        Path directory = repository.resolve(model).resolve(String.valueOf(version));
        try {
            Files.createDirectories(directory);
            Files.writeString(directory.resolve("bundle.json"), content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return directory;
    }

    @Override
    public LoadedBundle load(Path versionDirectory) {
        loadNices.put(versionDirectory, BulkThreads.currentNice());
        String content;
        try {
            content = Files.readString(versionDirectory.resolve("bundle.json")).trim();
        } catch (IOException e) {
            throw new InvalidBundleException(versionDirectory, "cannot read bundle.json");
        }
        if (content.equals("corrupt")) {
            throw new InvalidBundleException(versionDirectory, "sha256 of xgboost.ubj does not match bundle.json");
        }
        FakeEnsemble ensemble = new FakeEnsemble(Double.parseDouble(content));
        loaded.put(versionDirectory, ensemble);
        return new LoadedBundle(
                versionDirectory.getParent().getFileName().toString(),
                Integer.parseInt(versionDirectory.getFileName().toString()),
                versionDirectory,
                ensemble,
                Map.of());
    }

    /** The nice value of the thread that read the bundle in {@code versionDirectory}. */
    public int loadNice(Path versionDirectory) {
        return loadNices.get(versionDirectory);
    }

    public FakeEnsemble ensemble(Path versionDirectory) {
        return loaded.get(versionDirectory);
    }
}
