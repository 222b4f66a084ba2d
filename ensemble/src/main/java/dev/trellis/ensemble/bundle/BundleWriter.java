package dev.trellis.ensemble.bundle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.stacking.EnsembleParts;
import dev.trellis.ensemble.stacking.LabelThresholds;
import dev.trellis.ensemble.stacking.LinearMetaLearner;
import dev.trellis.ensemble.stacking.MetaLearner;
import dev.trellis.ensemble.stacking.MetaModel;
import dev.trellis.ensemble.stacking.MetaSelection;
import dev.trellis.ensemble.training.TrainingOptions;
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
            EnsembleParts parts = result.parts();
            Map<String, BundleManifest.FileEntry> files = new LinkedHashMap<>();
            Path xgb = temp.resolve(BundleManifest.MODEL_FILES.get(BundleManifest.XGBOOST));
            parts.xgboost().save(xgb);
            files.put(BundleManifest.XGBOOST, entry(xgb));
            Path lgb = temp.resolve(BundleManifest.MODEL_FILES.get(BundleManifest.LIGHTGBM));
            Files.writeString(lgb, parts.lightgbm().modelText());
            files.put(BundleManifest.LIGHTGBM, entry(lgb));
            BundleManifest.MlpJson mlpJson = null;
            if (parts.mlp() != null) {
                Path mlp = temp.resolve(BundleManifest.MODEL_FILES.get(BundleManifest.MLP));
                parts.mlp().save(mlp);
                files.put(BundleManifest.MLP, entry(mlp));
                boolean regression = parts.kind() == TargetKind.REGRESSION;
                Map<String, double[]> levels = parts.mlpEncoder().levels();
                mlpJson = new BundleManifest.MlpJson(
                        parts.mlp().inputs(),
                        parts.mlpEncoder().scaling().means(),
                        parts.mlpEncoder().scaling().stds(),
                        levels.isEmpty() ? null : levels,
                        regression ? parts.mlpTarget().mean() : null,
                        regression ? parts.mlpTarget().std() : null);
            }
            files.put(BaselineFile.KEY, BaselineFile.write(temp, result.baseline()));
            MetaModel meta = parts.meta();
            LabelThresholds thresholds = parts.thresholds();
            Map<String, Map<String, Map<String, Double>>> metrics = new LinkedHashMap<>();
            result.metrics().forEach((split, byModel) -> {
                Map<String, Map<String, Double>> maps = new LinkedHashMap<>();
                byModel.forEach((name, set) -> maps.put(name, set.toMap()));
                metrics.put(split, maps);
            });
            result.regressionMetrics().forEach((split, byModel) -> {
                Map<String, Map<String, Double>> maps = new LinkedHashMap<>();
                byModel.forEach((name, set) -> maps.put(name, set.toMap()));
                metrics.put(split, maps);
            });
            MetaSelection.Choice choice = result.metaChoice();
            BundleManifest.MetaJson metaJson = meta instanceof MetaLearner logistic
                    ? new BundleManifest.MetaJson(
                            parts.baseModels(),
                            logistic.intercept(),
                            logistic.weights(),
                            logistic.covariance(),
                            LOGISTIC,
                            null,
                            choice(choice))
                    : new BundleManifest.MetaJson(
                            parts.baseModels(),
                            meta.intercept(),
                            meta.weights(),
                            null,
                            LINEAR,
                            ((LinearMetaLearner) meta).halfWidth(),
                            choice(choice));
            boolean classic = parts.kind() == TargetKind.BINARY && parts.mlp() != null;
            BundleManifest manifest = new BundleManifest(
                    classic ? BundleManifest.FORMAT_VERSION : BundleManifest.FORMAT_VERSION_2,
                    model,
                    0,
                    Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(),
                    BundleManifest.SchemaJson.of(parts.schema()),
                    files,
                    metaJson,
                    mlpJson,
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
                    trainingOptions(result),
                    new BundleManifest.TargetJson(
                            parts.kind().wireName(),
                            parts.range().min(),
                            parts.range().max(),
                            parts.kind() == TargetKind.REGRESSION ? result.targetMean() : null),
                    parts.baseModels(),
                    Json.mapper().valueToTree(result.params()),
                    result.tuning()
                            .map(t -> (JsonNode) Json.mapper().valueToTree(t))
                            .orElse(null),
                    result.warnings().isEmpty() ? null : result.warnings());
            return publish(modelDir, temp, manifest);
        } catch (IOException | RuntimeException e) {
            deleteRecursively(temp);
            throw e;
        }
    }

    static final String LOGISTIC = "logistic";
    static final String LINEAR = "linear";

    private static BundleManifest.FileEntry entry(Path file) throws IOException {
        return new BundleManifest.FileEntry(file.getFileName().toString(), Checksums.sha256(file));
    }

    private static BundleManifest.ChoiceJson choice(MetaSelection.Choice choice) {
        return new BundleManifest.ChoiceJson(
                choice.kind(), choice.base().isEmpty() ? null : choice.base(), choice.reason());
    }

    /** The options as given (the settings used are under hyperparameters), plus the folds used. */
    private static JsonNode trainingOptions(TrainingResult result) {
        TrainingOptions options = result.options();
        ObjectNode node = Json.mapper().createObjectNode();
        node.put("folds", options.folds());
        node.put("folds_used", result.folds());
        node.put("seed", options.seed());
        node.put("test_fraction", options.testFraction());
        node.put("threads", options.threads());
        node.put("tune", options.tune());
        if (options.tune()) {
            node.put("tune_budget_seconds", options.tuneBudget().toSeconds());
        }
        result.mlpSkipped().ifPresent(reason -> node.put("mlp_skipped", reason));
        return node;
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
