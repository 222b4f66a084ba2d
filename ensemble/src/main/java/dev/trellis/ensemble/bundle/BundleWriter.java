package dev.trellis.ensemble.bundle;

import dev.trellis.ensemble.metrics.MetricSet;
import dev.trellis.ensemble.stacking.LabelThresholds;
import dev.trellis.ensemble.stacking.MetaLearner;
import dev.trellis.ensemble.stacking.StackedEnsemble;
import dev.trellis.ensemble.training.TrainingResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes a trained ensemble as the next integer version of {@code <repo>/<model>/}. Files go to a
 * hidden temporary folder inside {@code <repo>/<model>/} first and the folder is renamed into place
 * (atomically where the file system allows), so a half-written version is never visible.
 */
public final class BundleWriter {
    public static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private BundleWriter() {}

    public static Path write(Path repository, String model, TrainingResult result) throws IOException {
        if (!MODEL_NAME.matcher(model).matches()) {
            throw new IllegalArgumentException("model name '" + model + "' must match " + MODEL_NAME.pattern());
        }
        Path modelDir = repository.resolve(model);
        Files.createDirectories(modelDir);
        Path temp = modelDir.resolve(".tmp-" + UUID.randomUUID());
        Files.createDirectory(temp);
        try {
            StackedEnsemble ensemble = result.ensemble();
            Map<String, BundleManifest.FileEntry> files = new LinkedHashMap<>();
            Path xgb = temp.resolve(BundleManifest.MODEL_FILES.get(BundleManifest.XGBOOST));
            ensemble.xgboost().save(xgb);
            Path lgb = temp.resolve(BundleManifest.MODEL_FILES.get(BundleManifest.LIGHTGBM));
            Files.writeString(lgb, ensemble.lightgbm().modelText());
            Path mlp = temp.resolve(BundleManifest.MODEL_FILES.get(BundleManifest.MLP));
            ensemble.mlp().save(mlp);
            for (Path file : new Path[] {xgb, lgb, mlp}) {
                String key = BundleManifest.MODEL_FILES.entrySet().stream()
                        .filter(e -> e.getValue().equals(file.getFileName().toString()))
                        .findFirst()
                        .orElseThrow()
                        .getKey();
                files.put(key, new BundleManifest.FileEntry(file.getFileName().toString(), Checksums.sha256(file)));
            }
            files.put(BaselineFile.KEY, BaselineFile.write(temp, result.baseline()));
            MetaLearner meta = ensemble.metaLearner();
            LabelThresholds thresholds = ensemble.thresholds();
            Map<String, Map<String, Map<String, Double>>> metrics = new LinkedHashMap<>();
            for (Map.Entry<String, Map<String, MetricSet>> split :
                    result.metrics().entrySet()) {
                Map<String, Map<String, Double>> byModel = new LinkedHashMap<>();
                split.getValue().forEach((name, set) -> byModel.put(name, set.toMap()));
                metrics.put(split.getKey(), byModel);
            }
            BundleManifest manifest = new BundleManifest(
                    BundleManifest.FORMAT_VERSION,
                    model,
                    0,
                    Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(),
                    BundleManifest.SchemaJson.of(ensemble.schema()),
                    files,
                    new BundleManifest.MetaJson(
                            StackedEnsemble.BASE_MODELS, meta.intercept(), meta.weights(), meta.covariance()),
                    new BundleManifest.MlpJson(
                            ensemble.mlp().inputs(),
                            ensemble.mlpEncoder().scaling().means(),
                            ensemble.mlpEncoder().scaling().stds()),
                    new BundleManifest.ThresholdsJson(thresholds.hot(), thresholds.warm(), thresholds.lukewarm()),
                    result.metricThresholds(),
                    metrics,
                    new BundleManifest.DataFingerprint(
                            result.dataFile(),
                            result.dataSha256(),
                            result.rows(),
                            result.positives(),
                            result.trainRows(),
                            result.testRows()),
                    result.options());
            return publish(modelDir, temp, manifest);
        } catch (IOException | RuntimeException e) {
            deleteRecursively(temp);
            throw e;
        }
    }

    /** Writes bundle.json for the next free version into {@code temp} and renames {@code temp} to it. */
    static Path publish(Path modelDir, Path temp, BundleManifest manifest) throws IOException {
        for (int attempt = 0; attempt < 100; attempt++) {
            int version = nextVersion(modelDir);
            Json.mapper()
                    .writeValue(
                            temp.resolve(BundleManifest.FILE_NAME).toFile(),
                            manifest.withModelVersion(manifest.model(), version));
            Path target = modelDir.resolve(Integer.toString(version));
            try {
                try {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temp, target);
                }
                return target;
            } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                // another writer took this version: take the next one
            }
        }
        throw new IOException("cannot find a free version in " + modelDir);
    }

    /** One more than the largest integer folder name, or 1. */
    public static int nextVersion(Path modelDir) throws IOException {
        int max = 0;
        if (Files.isDirectory(modelDir)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(modelDir)) {
                for (Path entry : entries) {
                    String name = entry.getFileName().toString();
                    if (name.matches("[0-9]{1,9}") && Files.isDirectory(entry)) {
                        max = Math.max(max, Integer.parseInt(name));
                    }
                }
            }
        }
        return max + 1;
    }

    static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // best effort: a leftover hidden temp folder is never mistaken for a version
        }
    }
}
