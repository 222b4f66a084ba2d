package dev.trellis.modelserver.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.monitoring.Baseline;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.bundle.BaselineFile;
import dev.trellis.ensemble.bundle.BundleLoader;
import dev.trellis.modelserver.config.ModelServerConfig;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live windows of the loaded model versions. A version's window opens with its batcher (when
 * the version loads, reading the bundle's baseline and test metrics once) and closes with it.
 * Thread-safe.
 */
public final class LiveProfiles {
    private static final Logger log = LoggerFactory.getLogger(LiveProfiles.class);

    private final Path repository;
    private final DriftWindow window;
    private final LongSupplier clockMillis;
    private final Map<String, ProfileWindow> windows = new ConcurrentHashMap<>();

    @Inject
    public LiveProfiles(ModelServerConfig config) {
        this(requireNonNull(config, "config is null").repository(), config.driftWindow(), System::currentTimeMillis);
    }

    public LiveProfiles(Path repository, DriftWindow window, LongSupplier clockMillis) {
        this.repository = requireNonNull(repository, "repository is null");
        this.window = requireNonNull(window, "window is null");
        this.clockMillis = requireNonNull(clockMillis, "clockMillis is null");
    }

    /** Opens (or replaces) the window of a version that is being loaded. */
    public ProfileWindow open(String model, int version, FeatureSchema schema) {
        Path dir = repository.resolve(model).resolve(Integer.toString(version));
        Optional<Baseline> baseline = Optional.empty();
        Map<String, Double> testMetrics = Map.of();
        try {
            baseline = BaselineFile.read(dir);
            testMetrics = BundleLoader.testMetrics(BundleLoader.readManifest(dir));
        } catch (InvalidBundleException e) {
            // the bundle itself loaded: serve it, and report drift as "no baseline"
            log.warn(
                    "{} version {}: drift baseline unusable, drift reports no baseline: {}",
                    model,
                    version,
                    e.getMessage());
        }
        ProfileWindow opened = new ProfileWindow(model, version, schema, window, clockMillis, baseline, testMetrics);
        windows.put(key(model, version), opened);
        return opened;
    }

    /** Closes a window opened by {@link #open}, unless a newer one replaced it. */
    public void close(ProfileWindow closing) {
        windows.remove(key(closing.model(), closing.version()), closing);
    }

    public Optional<ProfileWindow> window(String model, int version) {
        return Optional.ofNullable(windows.get(key(model, version)));
    }

    public Collection<ProfileWindow> windows() {
        return List.copyOf(windows.values());
    }

    private static String key(String model, int version) {
        return model + '\u0000' + version;
    }
}
