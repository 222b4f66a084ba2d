package dev.trellis.ensemble.bundle;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.InvalidBundleException;
import dev.trellis.ensemble.api.LoadedBundle;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.api.TargetRange;
import dev.trellis.ensemble.data.MlpEncoder;
import dev.trellis.ensemble.data.MlpScaling;
import dev.trellis.ensemble.data.TargetScaling;
import dev.trellis.ensemble.model.LightgbmModel;
import dev.trellis.ensemble.model.MlpModel;
import dev.trellis.ensemble.model.ModelException;
import dev.trellis.ensemble.model.XgboostModel;
import dev.trellis.ensemble.stacking.EnsembleParts;
import dev.trellis.ensemble.stacking.LabelThresholds;
import dev.trellis.ensemble.stacking.LinearMetaLearner;
import dev.trellis.ensemble.stacking.MetaLearner;
import dev.trellis.ensemble.stacking.MetaModel;
import dev.trellis.ensemble.stacking.StackedEnsemble;
import dev.trellis.ensemble.training.TrainingResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and verifies {@code <repo>/<model>/<version>/}: bundle.json parses and has a known format
 * version (1, or 2 for continuous targets and ensembles without the MLP), model and version match
 * the folder, the schema is valid, every model file is present with the recorded sha256, the models
 * load, and the MLP's Java forward pass matches DL4J. Anything else
 * is an {@link InvalidBundleException} naming the reason. Thread-safe (stateless).
 */
public final class BundleLoader {
    private BundleLoader() {}

    public static LoadedBundle load(Path versionDir) {
        BundleManifest manifest = readManifest(versionDir);
        Path dir = versionDir.toAbsolutePath().normalize();
        int version = folderVersion(versionDir);
        String model =
                dir.getParent() == null ? "" : dir.getParent().getFileName().toString();
        if (!model.equals(manifest.model())) {
            throw new InvalidBundleException(
                    versionDir, "bundle.json names model '" + manifest.model() + "' but the folder is '" + model + "'");
        }
        if (manifest.version() != version) {
            throw new InvalidBundleException(
                    versionDir, "bundle.json names version " + manifest.version() + " but the folder is " + version);
        }
        return new LoadedBundle(model, version, versionDir, build(versionDir, manifest), testMetrics(manifest));
    }

    /** Parses and checks the format version of {@code bundle.json}, without loading models. */
    public static BundleManifest readManifest(Path versionDir) {
        if (!Files.isDirectory(versionDir)) {
            throw new InvalidBundleException(versionDir, "not a directory");
        }
        Path json = versionDir.resolve(BundleManifest.FILE_NAME);
        if (!Files.isRegularFile(json)) {
            throw new InvalidBundleException(versionDir, "missing file " + BundleManifest.FILE_NAME);
        }
        BundleManifest manifest;
        try {
            String text = Files.readString(json, StandardCharsets.UTF_8);
            manifest = Json.mapper().readValue(text, BundleManifest.class);
        } catch (JsonProcessingException e) {
            throw new InvalidBundleException(
                    versionDir, "unparseable " + BundleManifest.FILE_NAME + ": " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new InvalidBundleException(
                    versionDir, "cannot read " + BundleManifest.FILE_NAME + ": " + e.getMessage(), e);
        }
        if (manifest == null) {
            throw new InvalidBundleException(versionDir, "unparseable " + BundleManifest.FILE_NAME + ": empty");
        }
        if (manifest.formatVersion() != BundleManifest.FORMAT_VERSION
                && manifest.formatVersion() != BundleManifest.FORMAT_VERSION_2) {
            throw new InvalidBundleException(
                    versionDir,
                    "unknown format version " + manifest.formatVersion() + " (this build reads "
                            + BundleManifest.FORMAT_VERSION + " and " + BundleManifest.FORMAT_VERSION_2 + ")");
        }
        if (manifest.model() == null
                || manifest.schema() == null
                || manifest.files() == null
                || manifest.metaLearner() == null
                || manifest.labelThresholds() == null) {
            throw new InvalidBundleException(
                    versionDir,
                    BundleManifest.FILE_NAME
                            + " lacks a required field (model, schema, files, meta_learner, label_thresholds)");
        }
        if (baseModels(manifest).contains(BundleManifest.MLP) && manifest.mlp() == null) {
            throw new InvalidBundleException(
                    versionDir, BundleManifest.FILE_NAME + " lists the mlp base model but has no mlp section");
        }
        return manifest;
    }

    /** The base models a manifest lists; all three when it predates the field. */
    static List<String> baseModels(BundleManifest manifest) {
        return manifest.baseModels() == null ? StackedEnsemble.BASE_MODELS : manifest.baseModels();
    }

    /** The target kind a manifest declares; binary when it predates the field. */
    public static TargetKind targetKind(BundleManifest manifest) {
        return manifest.target() == null || manifest.target().kind() == null
                ? TargetKind.BINARY
                : TargetKind.fromWireName(manifest.target().kind());
    }

    private static int folderVersion(Path versionDir) {
        String name = versionDir.toAbsolutePath().normalize().getFileName().toString();
        if (!name.matches("[0-9]{1,9}")) {
            throw new InvalidBundleException(versionDir, "folder name '" + name + "' is not an integer version");
        }
        return Integer.parseInt(name);
    }

    private static byte[] verifiedFile(Path versionDir, BundleManifest manifest, String key) {
        BundleManifest.FileEntry entry = manifest.files().get(key);
        String expectedName = BundleManifest.MODEL_FILES.get(key);
        if (entry == null || entry.file() == null || entry.sha256() == null) {
            throw new InvalidBundleException(
                    versionDir, BundleManifest.FILE_NAME + " lists no " + key + " model file with sha256");
        }
        if (!entry.file().equals(expectedName)) {
            throw new InvalidBundleException(
                    versionDir, key + " model file must be " + expectedName + ", not " + entry.file());
        }
        Path file = versionDir.resolve(entry.file());
        if (!Files.isRegularFile(file)) {
            throw new InvalidBundleException(versionDir, "missing file " + entry.file());
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new InvalidBundleException(versionDir, "cannot read " + entry.file() + ": " + e.getMessage(), e);
        }
        String actual = Checksums.sha256(bytes);
        if (!actual.equalsIgnoreCase(entry.sha256())) {
            throw new InvalidBundleException(
                    versionDir,
                    "sha256 mismatch for " + entry.file() + ": expected " + entry.sha256() + ", found " + actual);
        }
        return bytes;
    }

    private static Ensemble build(Path versionDir, BundleManifest manifest) {
        FeatureSchema schema;
        try {
            schema = manifest.schema().toSchema();
        } catch (RuntimeException e) {
            throw new InvalidBundleException(versionDir, "schema invalid: " + e.getMessage(), e);
        }
        List<String> baseModels = baseModels(manifest);
        boolean withMlp = baseModels.contains(BundleManifest.MLP);
        byte[] xgbBytes = verifiedFile(versionDir, manifest, BundleManifest.XGBOOST);
        byte[] lgbBytes = verifiedFile(versionDir, manifest, BundleManifest.LIGHTGBM);
        byte[] mlpBytes = withMlp ? verifiedFile(versionDir, manifest, BundleManifest.MLP) : null;

        BundleManifest.MetaJson metaJson = manifest.metaLearner();
        TargetKind kind;
        TargetRange range;
        MetaModel meta;
        LabelThresholds thresholds;
        MlpEncoder encoder;
        TargetScaling mlpTarget = TargetScaling.IDENTITY;
        try {
            kind = targetKind(manifest);
            List<String> expected = withMlp ? StackedEnsemble.BASE_MODELS : StackedEnsemble.BASE_MODELS.subList(0, 2);
            if (!expected.equals(baseModels)) {
                throw new IllegalArgumentException("base models must be " + StackedEnsemble.BASE_MODELS + " or "
                        + StackedEnsemble.BASE_MODELS.subList(0, 2) + ", not " + baseModels);
            }
            if (!baseModels.equals(metaJson.baseModels())) {
                throw new IllegalArgumentException(
                        "meta-learner base models must be " + baseModels + ", not " + metaJson.baseModels());
            }
            if (manifest.formatVersion() == BundleManifest.FORMAT_VERSION && (kind != TargetKind.BINARY || !withMlp)) {
                throw new IllegalArgumentException(
                        "format version 1 holds only binary targets with all three base" + " models");
            }
            if (kind == TargetKind.BINARY) {
                if (metaJson.kind() != null && !metaJson.kind().equals(BundleWriter.LOGISTIC)) {
                    throw new IllegalArgumentException("a binary target needs the logistic meta-learner");
                }
                meta = new MetaLearner(metaJson.intercept(), metaJson.weights(), metaJson.covariance());
                range = TargetRange.PROBABILITY;
            } else {
                if (!BundleWriter.LINEAR.equals(metaJson.kind()) || metaJson.halfWidth() == null) {
                    throw new IllegalArgumentException(
                            "a continuous target needs the linear meta-learner with its half_width");
                }
                meta = new LinearMetaLearner(metaJson.intercept(), metaJson.weights(), metaJson.halfWidth());
                range = new TargetRange(
                        manifest.target().min(), manifest.target().max());
            }
            BundleManifest.ThresholdsJson t = manifest.labelThresholds();
            thresholds = new LabelThresholds(t.hot(), t.warm(), t.lukewarm());
            encoder = null;
            if (withMlp) {
                BundleManifest.MlpJson mlp = manifest.mlp();
                encoder = new MlpEncoder(
                        schema,
                        new MlpScaling(mlp.means(), mlp.stds()),
                        mlp.ordinalLevels() == null ? Map.of() : mlp.ordinalLevels());
                if (encoder.width() != mlp.inputs()) {
                    throw new IllegalArgumentException("MLP inputs " + mlp.inputs()
                            + " do not match the schema's encoded width " + encoder.width());
                }
                if (kind == TargetKind.REGRESSION) {
                    if (mlp.targetMean() == null || mlp.targetStd() == null) {
                        throw new IllegalArgumentException(
                                "the MLP of a continuous target needs target_mean and" + " target_std");
                    }
                    mlpTarget = new TargetScaling(mlp.targetMean(), mlp.targetStd());
                }
            }
        } catch (RuntimeException e) {
            throw new InvalidBundleException(
                    versionDir, "invalid " + BundleManifest.FILE_NAME + ": " + e.getMessage(), e);
        }

        XgboostModel xgboost = null;
        LightgbmModel lightgbm = null;
        try {
            xgboost = load(versionDir, "xgboost.ubj", () -> XgboostModel.load(xgbBytes, schema.size()));
            lightgbm = load(
                    versionDir,
                    "lightgbm.txt",
                    () -> LightgbmModel.load(new String(lgbBytes, StandardCharsets.UTF_8), schema.size()));
            MlpEncoder mlpEncoder = encoder;
            MlpModel mlp =
                    withMlp ? load(versionDir, "mlp.zip", () -> MlpModel.load(mlpBytes, mlpEncoder.width())) : null;
            return new EnsembleParts(kind, schema, range, xgboost, lightgbm, mlp, encoder, mlpTarget, meta, thresholds)
                    .toEnsemble();
        } catch (RuntimeException e) {
            if (xgboost != null) {
                xgboost.close();
            }
            if (lightgbm != null) {
                lightgbm.close();
            }
            if (e instanceof InvalidBundleException) {
                throw e;
            }
            throw new InvalidBundleException(versionDir, "inconsistent bundle: " + e.getMessage(), e);
        }
    }

    private static <T> T load(Path versionDir, String file, java.util.function.Supplier<T> loader) {
        try {
            return loader.get();
        } catch (ModelException e) {
            throw new InvalidBundleException(versionDir, "cannot load " + file + ": " + e.getMessage(), e);
        }
    }

    /** The ensemble's test metrics (AUC, Brier… or RMSE, MAE…); empty without a test split. */
    public static Map<String, Double> testMetrics(BundleManifest manifest) {
        Map<String, Double> out = new HashMap<>();
        if (manifest.metrics() != null) {
            Map<String, Map<String, Double>> test = manifest.metrics().get(TrainingResult.TEST);
            if (test != null && test.get(TrainingResult.ENSEMBLE) != null) {
                test.get(TrainingResult.ENSEMBLE).forEach((k, v) -> {
                    if (v != null) {
                        out.put(k, v);
                    }
                });
            }
        }
        return out;
    }
}
