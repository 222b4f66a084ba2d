package dev.trellis.ensemble.bundle;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.training.TrainingOptions;
import java.util.List;
import java.util.Map;

/**
 * The content of {@code bundle.json} (JSON, snake_case keys). Format version {@value #FORMAT_VERSION}.
 *
 * @param metrics split ("out_of_fold", "test") → model ("xgboost", "lightgbm", "mlp", "ensemble") → metric → value
 * @param metricThresholds model → score threshold of its accuracy/precision/recall/F1
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
        TrainingOptions trainingOptions) {
    public static final int FORMAT_VERSION = 1;
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
                trainingOptions);
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

    /** Meta-learner: logit = intercept + Σ weights[m]·logit_m; covariance ordered (intercept, weights in base_models order). */
    public record MetaJson(List<String> baseModels, double intercept, double[] weights, double[][] covariance) {}

    /** MLP input standardization per schema feature (0/1 for categorical features). */
    public record MlpJson(int inputs, double[] means, double[] stds) {}

    public record ThresholdsJson(double hot, double warm, double lukewarm) {}

    public record DataFingerprint(String file, String sha256, int rows, int positives, int trainRows, int testRows) {}
}
