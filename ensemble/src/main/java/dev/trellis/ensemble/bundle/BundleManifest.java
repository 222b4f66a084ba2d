package dev.trellis.ensemble.bundle;

import com.fasterxml.jackson.databind.JsonNode;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import java.util.List;
import java.util.Map;

/**
 * The content of {@code bundle.json} (JSON, snake_case keys). Format version 1 is a binary target
 * with all three base models, which every Trellis release reads; format version 2 adds continuous
 * targets ({@code target.kind = "regression"}) and ensembles without the MLP ({@code base_models}),
 * which a release that only knows version 1 must refuse rather than misread.
 *
 * @param metrics split ("out_of_fold", "test") → model ("xgboost", "lightgbm", "mlp", "ensemble") → metric → value
 * @param metricThresholds model → score threshold of its accuracy/precision/recall/F1
 * @param target what the model predicts; absent in bundles before it existed (binary)
 * @param baseModels the base models present, in order; absent means all three
 * @param hyperparameters the settings the models were trained with (after tuning)
 * @param tuning what {@code --tune} searched and chose, when it ran
 * @param warnings the training's warnings (small data)
 */
public record BundleManifest(
        int formatVersion,
        String model,
        int version,
        String created,
        SchemaJson schema,
        Map<String, FileEntry> files,
        MetaJson metaLearner,
        MlpJson mlp,
        ThresholdsJson labelThresholds,
        Map<String, Double> metricThresholds,
        Map<String, Map<String, Map<String, Double>>> metrics,
        DataFingerprint data,
        JsonNode trainingOptions,
        TargetJson target,
        List<String> baseModels,
        JsonNode hyperparameters,
        JsonNode tuning,
        List<String> warnings) {
    /** The format of a binary target with all three base models. */
    public static final int FORMAT_VERSION = 1;
    /** The format that adds continuous targets and ensembles without the MLP. */
    public static final int FORMAT_VERSION_2 = 2;

    public static final String FILE_NAME = "bundle.json";
    public static final String XGBOOST = "xgboost";
    public static final String LIGHTGBM = "lightgbm";
    public static final String MLP = "mlp";
    public static final Map<String, String> MODEL_FILES =
            Map.of(XGBOOST, "xgboost.ubj", LIGHTGBM, "lightgbm.txt", MLP, "mlp.zip");

    public BundleManifest withModelVersion(String model, int version) {
        return new BundleManifest(
                formatVersion,
                model,
                version,
                created,
                schema,
                files,
                metaLearner,
                mlp,
                labelThresholds,
                metricThresholds,
                metrics,
                data,
                trainingOptions,
                target,
                baseModels,
                hyperparameters,
                tuning,
                warnings);
    }

    public record FileEntry(String file, String sha256) {}

    public record FeatureJson(String name, String type, List<String> vocabulary) {}

    public record SchemaJson(List<FeatureJson> features, String target, List<String> idColumns) {
        public static SchemaJson of(FeatureSchema schema) {
            return new SchemaJson(
                    schema.features().stream()
                            .map(f -> new FeatureJson(
                                    f.name(), f.type().name().toLowerCase(java.util.Locale.ROOT), f.vocabulary()))
                            .toList(),
                    schema.target(),
                    schema.idColumns());
        }

        /** @throws IllegalArgumentException when the schema is invalid */
        public FeatureSchema toSchema() {
            if (features == null || target == null) {
                throw new IllegalArgumentException("features and target are required");
            }
            List<Feature> list = features.stream()
                    .map(f -> {
                        if (f == null || f.name() == null || f.type() == null) {
                            throw new IllegalArgumentException("a feature lacks name or type");
                        }
                        return new Feature(
                                f.name(),
                                FeatureType.valueOf(f.type().toUpperCase(java.util.Locale.ROOT)),
                                f.vocabulary() == null ? List.of() : f.vocabulary());
                    })
                    .toList();
            for (Feature feature : list) {
                if (feature.vocabulary().stream().distinct().count()
                        != feature.vocabulary().size()) {
                    throw new IllegalArgumentException("vocabulary of " + feature.name() + " has duplicates");
                }
            }
            return new FeatureSchema(list, target, idColumns == null ? List.of() : idColumns);
        }
    }

    /**
     * Meta-learner: {@code intercept + Σ weights[m]·z_m} over {@code base_models}.
     *
     * @param kind "logistic" (binary target; absent in older bundles) or "linear" (continuous)
     * @param covariance logistic: ordered (intercept, weights in base_models order)
     * @param halfWidth linear: the 95% conformal half-width
     * @param choice "stacked" or "single", with the base model kept alone and the reason
     */
    public record MetaJson(
            List<String> baseModels,
            double intercept,
            double[] weights,
            double[][] covariance,
            String kind,
            Double halfWidth,
            ChoiceJson choice) {}

    public record ChoiceJson(String kind, String base, String reason) {}

    /**
     * MLP input standardization per schema feature (0/1 for categorical features), the ordinal codes
     * that get one-hot columns, and for a continuous target the standardization of what it learns.
     */
    public record MlpJson(
            int inputs,
            double[] means,
            double[] stds,
            Map<String, double[]> ordinalLevels,
            Double targetMean,
            Double targetStd) {}

    public record ThresholdsJson(double hot, double warm, double lukewarm) {}

    /**
     * What the model predicts: "binary" or "regression", and for a continuous target its training
     * rows' range and mean (the baseline of {@code trellis evaluate}).
     */
    public record TargetJson(String kind, double min, double max, Double mean) {}

    public record DataFingerprint(String file, String sha256, int rows, int positives, int trainRows, int testRows) {}
}
