package dev.trellis.ensemble.model;

import io.github.metarank.lightgbm4j.LGBMBooster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads LightGBM's native library from a private folder. lightgbm4j extracts its .so files to
 * {@code java.io.tmpdir} under fixed names, so every JVM on the machine rewrites the same
 * {@code /tmp/lib_lightgbm.so} in place, and a process that has it mapped dies with SIGBUS. We point
 * {@code java.io.tmpdir} at a fresh per-process folder just while lightgbm4j loads (unless
 * {@code LIGHTGBM_NATIVE_LIB_PATH} is set, which lightgbm4j then uses instead).
 */
final class LightgbmNative {
    private static final Object LOCK = new Object();
    private static volatile boolean loaded;

    private LightgbmNative() {}

    static void ensureLoaded() {
        if (loaded) {
            return;
        }
        synchronized (LOCK) {
            if (loaded) {
                return;
            }
            // touching LGBMBooster runs its static initializer, which loads the library: set the folder first
            if (System.getenv("LIGHTGBM_NATIVE_LIB_PATH") != null) {
                initialize();
                loaded = true;
                return;
            }
            String previous = System.getProperty("java.io.tmpdir");
            try {
                Path dir = Files.createTempDirectory("trellis-lightgbm-");
                dir.toFile().deleteOnExit();
                System.setProperty("java.io.tmpdir", dir.toString());
                try {
                    initialize();
                } finally {
                    System.setProperty("java.io.tmpdir", previous);
                }
                try (var files = Files.list(dir)) {
                    files.forEach(file -> file.toFile().deleteOnExit());
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot prepare a folder for LightGBM's native library", e);
            }
            loaded = true;
        }
    }

    private static void initialize() {
        try {
            Class.forName(LGBMBooster.class.getName(), true, LightgbmNative.class.getClassLoader());
            LGBMBooster.loadNative();
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load LightGBM's native library", e);
        }
    }
}
