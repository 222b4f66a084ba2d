package dev.trellis.ensemble.stacking;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.api.TargetRange;
import dev.trellis.ensemble.data.MlpEncoder;
import dev.trellis.ensemble.data.TargetScaling;
import dev.trellis.ensemble.model.LightgbmModel;
import dev.trellis.ensemble.model.MlpModel;
import dev.trellis.ensemble.model.XgboostModel;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything a trained or loaded ensemble is made of, as the trainer produces it and bundle.json
 * records it. The MLP is optional (small data skips it); XGBoost and LightGBM are always there.
 *
 * @param range the scores' reference range: [0, 1], or the training target's [min, max]
 * @param mlp the MLP, or null when it was skipped
 * @param mlpEncoder the MLP's input encoding, or null when it was skipped
 * @param mlpTarget what the MLP learns for a continuous target ({@code (y − mean) / std});
 *     {@link TargetScaling#IDENTITY} for a binary one
 * @param meta logistic ({@link MetaLearner}) for a binary target, linear ({@link LinearMetaLearner})
 *     for a continuous one, one weight per entry of {@link #baseModels()}
 */
public record EnsembleParts(
        TargetKind kind,
        FeatureSchema schema,
        TargetRange range,
        XgboostModel xgboost,
        LightgbmModel lightgbm,
        MlpModel mlp,
        MlpEncoder mlpEncoder,
        TargetScaling mlpTarget,
        MetaModel meta,
        LabelThresholds thresholds) {
    public EnsembleParts {
        requireNonNull(kind, "kind is null");
        requireNonNull(schema, "schema is null");
        requireNonNull(range, "range is null");
        requireNonNull(xgboost, "xgboost is null");
        requireNonNull(lightgbm, "lightgbm is null");
        requireNonNull(mlpTarget, "mlpTarget is null");
        requireNonNull(meta, "meta is null");
        requireNonNull(thresholds, "thresholds is null");
        if ((mlp == null) != (mlpEncoder == null)) {
            throw new IllegalArgumentException("the MLP and its encoder come together");
        }
        if (mlp != null && mlp.inputs() != mlpEncoder.width()) {
            throw new IllegalArgumentException(
                    "MLP takes " + mlp.inputs() + " inputs, encoder yields " + mlpEncoder.width());
        }
        if ((kind == TargetKind.BINARY) != (meta instanceof MetaLearner)) {
            throw new IllegalArgumentException(
                    "a binary target needs the logistic meta-learner, a continuous one the" + " linear one");
        }
        int expected = mlp == null ? 2 : 3;
        if (meta.weights().length != expected) {
            throw new IllegalArgumentException(
                    "meta-learner has " + meta.weights().length + " weights, expected " + expected);
        }
    }

    /** The base models present, in {@link StackedEnsemble#BASE_MODELS} order. */
    public List<String> baseModels() {
        List<String> names = new ArrayList<>(StackedEnsemble.BASE_MODELS.subList(0, 2));
        if (mlp != null) {
            names.add(StackedEnsemble.BASE_MODELS.get(2));
        }
        return List.copyOf(names);
    }

    /**
     * The scoring ensemble: {@link StackedEnsemble} for the classic case (binary target, all three
     * base models), {@link StackedModel} otherwise. It owns the native models from now on.
     */
    public Ensemble toEnsemble() {
        if (kind == TargetKind.BINARY && mlp != null) {
            return new StackedEnsemble(schema, mlpEncoder, xgboost, lightgbm, mlp, (MetaLearner) meta, thresholds);
        }
        return new StackedModel(this);
    }

    /** Frees the native models (for a training or loading that fails before an ensemble owns them). */
    public void close() {
        try {
            xgboost.close();
        } finally {
            lightgbm.close();
        }
    }
}
