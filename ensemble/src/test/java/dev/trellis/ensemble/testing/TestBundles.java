package dev.trellis.ensemble.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.trellis.ensemble.bundle.BundleManifest;
import dev.trellis.ensemble.bundle.BundleWriter;
import dev.trellis.ensemble.bundle.Json;
import dev.trellis.ensemble.data.Dataset;
import dev.trellis.ensemble.data.DatasetException;
import dev.trellis.ensemble.data.SchemaOverrides;
import dev.trellis.ensemble.training.Trainer;
import dev.trellis.ensemble.training.TrainingOptions;
import dev.trellis.ensemble.training.TrainingResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Real bundles for tests of this and other modules. {@link #install} trains a small churn ensemble
 * (a stratified 1,500-row subset, {@link TrainingOptions#fast()}: 2 folds, 40 trees, 5 MLP epochs;
 * a few seconds) once per seed per JVM and copies it to {@code repository/model/version/}, with
 * model and version rewritten in bundle.json (model files and checksums unchanged). Thread-safe.
 */
public final class TestBundles {
    public static final int SUBSET_ROWS = 1500;

    /** The continuous target of {@link #installRegression}: the churn file's monthly charges. */
    public static final String REGRESSION_TARGET = "monthly_charges";

    private static final Map<Long, Path> TRAINED = new ConcurrentHashMap<>();
    private static final Map<Long, Path> TRAINED_REGRESSION = new ConcurrentHashMap<>();

    private TestBundles() {}

    private static void deleteRecursively(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder())
                    .forEach(path -> path.toFile().delete());
        } catch (IOException | RuntimeException e) {
            // best effort at JVM exit
        }
    }

    /**
     * Installs a trained churn bundle as {@code repository/model/version/} (which must not exist yet)
     * and returns that folder. The copy is written under a hidden temporary name and renamed into
     * place, like a real bundle.
     */
    public static Path install(Path repository, String model, int version, long seed) {
        return copy(TRAINED.computeIfAbsent(seed, TestBundles::train), repository, model, version);
    }

    /**
     * Installs a trained regression bundle: {@value #REGRESSION_TARGET} of a stratified 1,500-row
     * churn subset, predicted from the other columns except {@code total_charges} and
     * {@code churned} ({@link TrainingOptions#fast()}), as {@code repository/model/version/}.
     */
    public static Path installRegression(Path repository, String model, int version, long seed) {
        return copy(TRAINED_REGRESSION.computeIfAbsent(seed, TestBundles::trainRegression), repository, model, version);
    }

    private static Path copy(Path source, Path repository, String model, int version) {
        Path target = repository.resolve(model).resolve(Integer.toString(version));
        try {
            Files.createDirectories(target.getParent());
            Path temp = Files.createTempDirectory(target.getParent(), ".tmp-install-");
            try (DirectoryStream<Path> files = Files.newDirectoryStream(source)) {
                for (Path file : files) {
                    if (!file.getFileName().toString().equals(BundleManifest.FILE_NAME)) {
                        Files.copy(file, temp.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            ObjectNode manifest = (ObjectNode) Json.mapper()
                    .readTree(source.resolve(BundleManifest.FILE_NAME).toFile());
            manifest.put("model", model);
            manifest.put("version", version);
            Json.mapper().writeValue(temp.resolve(BundleManifest.FILE_NAME).toFile(), manifest);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot install test bundle into " + target, e);
        }
    }

    /** The shipped churn dataset (target {@code churned}, id {@code customer_id}). */
    public static Path churnCsv() {
        return datasets().resolve("churn_telco_train.csv");
    }

    /** The shipped leads dataset (target {@code converted}, id {@code lead_id}). */
    public static Path leadsCsv() {
        return datasets().resolve("leads_coil2000_train.csv");
    }

    /** The churn dataset as loaded by the trainer. */
    public static Dataset churn() {
        try {
            return Dataset.load(churnCsv(), "churned", List.of("customer_id"), SchemaOverrides.none());
        } catch (DatasetException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * The churn dataset with {@value #REGRESSION_TARGET} as a continuous target, without
     * {@code total_charges} (about monthly charges × tenure) and {@code churned}.
     */
    public static Dataset churnRegression() {
        try {
            return Dataset.load(
                    churnCsv(),
                    REGRESSION_TARGET,
                    List.of("customer_id"),
                    new SchemaOverrides(
                            java.util.Set.of(), java.util.Set.of(), java.util.Set.of("total_charges", "churned")),
                    java.util.Optional.of(dev.trellis.ensemble.api.TargetKind.REGRESSION));
        } catch (DatasetException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** A stratified subset of about {@code rows} rows, chosen by {@code seed}. */
    public static Dataset subset(Dataset data, int rows, long seed) {
        double fraction = Math.min(1.0, (double) rows / data.rows());
        int[][] split = dev.trellis.ensemble.training.Folds.split(
                dev.trellis.ensemble.training.Folds.strata(data), fraction, seed);
        return data.subset(split[1]);
    }

    public static Path datasets() {
        Path dir = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("datasets").resolve("churn_telco_train.csv");
            if (Files.isRegularFile(candidate)) {
                return candidate.getParent();
            }
            dir = dir.getParent();
        }
        Path fallback = Paths.get("/work/main/datasets");
        if (Files.isRegularFile(fallback.resolve("churn_telco_train.csv"))) {
            return fallback;
        }
        throw new IllegalStateException("cannot find datasets/ above " + System.getProperty("user.dir"));
    }

    private static Path train(long seed) {
        return train(subset(churn(), SUBSET_ROWS, seed), "churn", seed);
    }

    private static Path trainRegression(long seed) {
        return train(subset(churnRegression(), SUBSET_ROWS, seed), "charges", seed);
    }

    private static Path train(Dataset data, String model, long seed) {
        try {
            Path repository = Files.createTempDirectory("trellis-test-bundles-");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteRecursively(repository)));
            try (TrainingResult result =
                    new Trainer(TrainingOptions.fast().withSeed(seed), message -> {}).train(data)) {
                return BundleWriter.write(repository, model, result);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot train test bundle", e);
        }
    }
}
