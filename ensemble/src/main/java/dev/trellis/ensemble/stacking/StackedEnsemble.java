package dev.trellis.ensemble.stacking;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.MlpEncoder;
import dev.trellis.ensemble.data.TreeEncoder;
import dev.trellis.ensemble.model.LightgbmModel;
import dev.trellis.ensemble.model.MlpModel;
import dev.trellis.ensemble.model.XgboostModel;
import java.util.List;
import java.util.Optional;

/**
 * The stacked ensemble: XGBoost, LightGBM and the MLP combined by a logistic meta-learner on their
 * logits. {@code score = sigmoid(b + Σ wₘ·zₘ)}, where zₘ is the XGBoost margin, the LightGBM raw
 * score and the MLP's pre-sigmoid output. One native call per tree model per batch.
 *
 * <ul>
 * <li>Interval: 95% Wald interval on the logit scale, {@code logit ± 1.96·sqrt(xᵀΣx)} with
 * x = (1, z₁, z₂, z₃) and Σ the meta-learner's coefficient covariance, mapped through the sigmoid;
 * it always contains the score.</li>
 * <li>Agreement: {@code 1 − (max − min)} of the three base probabilities, in [0, 1].</li>
 * <li>Contributions (explain): per feature {@code w_xgb·φ_xgb + w_lgb·φ_lgb} (TreeSHAP, log-odds);
 * base value {@code b + w_xgb·bias_xgb + w_lgb·bias_lgb}; MLP term {@code w_mlp·z_mlp}. Their sum equals
 * the ensemble logit up to float rounding (the tree libraries return float32 contributions).</li>
 * </ul>
 * Thread-safe: all state is immutable after construction and the base models are thread-safe.
 */
public final class StackedEnsemble implements Ensemble {
    public static final List<String> BASE_MODELS = List.of("xgboost", "lightgbm", "mlp");
    /** Two-sided 95% normal quantile. */
    public static final double Z_95 = 1.959963984540054;

    private final FeatureSchema schema;
    private final TreeEncoder treeEncoder;
    private final MlpEncoder mlpEncoder;
    private final XgboostModel xgboost;
    private final LightgbmModel lightgbm;
    private final MlpModel mlp;
    private final MetaLearner meta;
    private final LabelThresholds thresholds;
    private final Object closeLock = new Object();

    @GuardedBy("closeLock")
    private boolean closed;

    public StackedEnsemble(
            FeatureSchema schema,
            MlpEncoder mlpEncoder,
            XgboostModel xgboost,
            LightgbmModel lightgbm,
            MlpModel mlp,
            MetaLearner meta,
            LabelThresholds thresholds) {
        this.schema = requireNonNull(schema, "schema is null");
        this.treeEncoder = new TreeEncoder(schema);
        this.mlpEncoder = requireNonNull(mlpEncoder, "mlpEncoder is null");
        this.xgboost = requireNonNull(xgboost, "xgboost is null");
        this.lightgbm = requireNonNull(lightgbm, "lightgbm is null");
        this.mlp = requireNonNull(mlp, "mlp is null");
        this.meta = requireNonNull(meta, "meta is null");
        this.thresholds = requireNonNull(thresholds, "thresholds is null");
        if (meta.weights().length != BASE_MODELS.size()) {
            throw new IllegalArgumentException(
                    "meta-learner has " + meta.weights().length + " weights, expected " + BASE_MODELS.size());
        }
        if (mlp.inputs() != mlpEncoder.width()) {
            throw new IllegalArgumentException(
                    "MLP takes " + mlp.inputs() + " inputs, encoder yields " + mlpEncoder.width());
        }
    }

    @Override
    public FeatureSchema schema() {
        return schema;
    }

    @Override
    public List<String> baseModels() {
        return BASE_MODELS;
    }

    public MetaLearner metaLearner() {
        return meta;
    }

    public LabelThresholds thresholds() {
        return thresholds;
    }

    public MlpEncoder mlpEncoder() {
        return mlpEncoder;
    }

    public XgboostModel xgboost() {
        return xgboost;
    }

    public LightgbmModel lightgbm() {
        return lightgbm;
    }

    public MlpModel mlp() {
        return mlp;
    }

    /** Per row, the base models' logits in {@link #BASE_MODELS} order. */
    public double[][] baseLogits(FeatureBatch batch) {
        double[][] columns = baseLogits(treeEncoder.encode(batch), batch);
        double[][] out = new double[batch.rows()][];
        for (int r = 0; r < out.length; r++) {
            out[r] = new double[] {columns[0][r], columns[1][r], columns[2][r]};
        }
        return out;
    }

    /** The base models' logits, one array per model in {@link #BASE_MODELS} order. */
    private double[][] baseLogits(Matrix trees, FeatureBatch batch) {
        return new double[][] {
            xgboost.margins(trees), lightgbm.rawScores(trees), mlp.logits(mlpEncoder.encodeSparse(batch))
        };
    }

    @Override
    public Predictions predict(FeatureBatch batch, boolean explain) {
        requireNonNull(batch, "batch is null");
        if (batch.schema() != schema && !batch.schema().equals(schema)) {
            throw new IllegalArgumentException("batch schema differs from the model's schema");
        }
        int rows = batch.rows();
        if (rows == 0) {
            Optional<Predictions.Explanations> none = explain
                    ? Optional.of(
                            new Predictions.Explanations(new double[0][], new double[0], new double[0], new double[0]))
                    : Optional.empty();
            return new Predictions(
                    new double[0],
                    new String[0],
                    new double[0],
                    new double[0],
                    new double[0],
                    BASE_MODELS,
                    new double[0][],
                    none);
        }
        Matrix trees = treeEncoder.encode(batch);
        double[][] logits = baseLogits(trees, batch);
        double[] z = new double[BASE_MODELS.size()]; // one row's base logits, reused
        double[] score = new double[rows];
        String[] label = new String[rows];
        double[] lower = new double[rows];
        double[] upper = new double[rows];
        double[] agreement = new double[rows];
        double[][] baseScores = new double[rows][];
        double[] ensembleLogit = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int m = 0; m < z.length; m++) {
                z[m] = logits[m][r];
            }
            double eta = meta.logit(z);
            ensembleLogit[r] = eta;
            score[r] = MetaLearner.sigmoid(eta);
            label[r] = thresholds.label(score[r]);
            double halfWidth = Z_95 * Math.sqrt(meta.logitVariance(z));
            lower[r] = Math.min(score[r], MetaLearner.sigmoid(eta - halfWidth));
            upper[r] = Math.max(score[r], MetaLearner.sigmoid(eta + halfWidth));
            double[] probabilities = new double[z.length];
            double min = 1;
            double max = 0;
            for (int m = 0; m < probabilities.length; m++) {
                probabilities[m] = MetaLearner.sigmoid(z[m]);
                min = Math.min(min, probabilities[m]);
                max = Math.max(max, probabilities[m]);
            }
            baseScores[r] = probabilities;
            agreement[r] = Math.min(1, Math.max(0, 1 - (max - min)));
        }
        Optional<Predictions.Explanations> explanations = Optional.empty();
        if (explain) {
            explanations = Optional.of(explain(trees, logits[2], ensembleLogit));
        }
        return new Predictions(score, label, lower, upper, agreement, BASE_MODELS, baseScores, explanations);
    }

    private Predictions.Explanations explain(Matrix trees, double[] mlpLogits, double[] ensembleLogit) {
        double[] xgb = xgboost.contributions(trees);
        double[] lgb = lightgbm.contributions(trees);
        int rows = trees.rows();
        int features = schema.size();
        int width = features + 1;
        double wx = meta.weights()[0];
        double wl = meta.weights()[1];
        double wm = meta.weights()[2];
        double[][] contributions = new double[rows][features];
        double[] baseValue = new double[rows];
        double[] mlpTerm = new double[rows];
        for (int r = 0; r < rows; r++) {
            int base = r * width;
            for (int f = 0; f < features; f++) {
                contributions[r][f] = wx * xgb[base + f] + wl * lgb[base + f];
            }
            baseValue[r] = meta.intercept() + wx * xgb[base + features] + wl * lgb[base + features];
            mlpTerm[r] = wm * mlpLogits[r];
        }
        return new Predictions.Explanations(contributions, baseValue, mlpTerm, ensembleLogit.clone());
    }

    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            xgboost.close();
        } finally {
            lightgbm.close();
        }
    }
}
