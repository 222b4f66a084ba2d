package dev.trellis.ensemble.stacking;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.api.TargetRange;
import dev.trellis.ensemble.data.Matrix;
import dev.trellis.ensemble.data.TreeEncoder;
import java.util.List;
import java.util.Optional;

/**
 * A stacked ensemble for what {@link StackedEnsemble} does not cover: a continuous target (the base
 * models are regressors, the meta-learner is {@link LinearMetaLearner}) and ensembles without the MLP
 * (small data), for either kind of target. The meta-learner decides score, interval and agreement
 * ({@link MetaModel}); labels are hot / warm / lukewarm / cold for a binary target and tiers A–D for
 * a continuous one.
 *
 * <p>Contributions (explain): per feature {@code w_xgb·φ_xgb + w_lgb·φ_lgb} (TreeSHAP, in log-odds or
 * the target's units), base value {@code b + w_xgb·bias_xgb + w_lgb·bias_lgb}, MLP term
 * {@code w_mlp·z_mlp} (0 without the MLP); they add up to the ensemble's logit or predicted value up
 * to float rounding. Thread-safe: immutable after construction, base models thread-safe.
 */
public final class StackedModel implements Ensemble {
    private final EnsembleParts parts;
    private final TreeEncoder treeEncoder;
    private final List<String> baseModels;
    private final Object closeLock = new Object();

    @GuardedBy("closeLock")
    private boolean closed;

    public StackedModel(EnsembleParts parts) {
        this.parts = requireNonNull(parts, "parts is null");
        this.treeEncoder = new TreeEncoder(parts.schema());
        this.baseModels = parts.baseModels();
    }

    public EnsembleParts parts() {
        return parts;
    }

    @Override
    public FeatureSchema schema() {
        return parts.schema();
    }

    @Override
    public TargetKind targetKind() {
        return parts.kind();
    }

    @Override
    public TargetRange targetRange() {
        return parts.range();
    }

    @Override
    public List<String> baseModels() {
        return baseModels;
    }

    /** Per row, the base models' outputs (logits or predicted values) in {@link #baseModels()} order. */
    public double[][] baseOutputs(FeatureBatch batch) {
        return baseOutputs(treeEncoder.encode(batch), batch);
    }

    private double[][] baseOutputs(Matrix trees, FeatureBatch batch) {
        double[] x = parts.xgboost().margins(trees);
        double[] l = parts.lightgbm().rawScores(trees);
        double[] m = parts.mlp() == null
                ? null
                : parts.mlp().logits(parts.mlpEncoder().encodeSparse(batch));
        double[][] out = new double[trees.rows()][];
        for (int r = 0; r < out.length; r++) {
            out[r] = m == null
                    ? new double[] {x[r], l[r]}
                    : new double[] {x[r], l[r], parts.mlpTarget().restore(m[r])};
        }
        return out;
    }

    @Override
    public Predictions predict(FeatureBatch batch, boolean explain) {
        requireNonNull(batch, "batch is null");
        if (batch.schema() != parts.schema() && !batch.schema().equals(parts.schema())) {
            throw new IllegalArgumentException("batch schema differs from the model's schema");
        }
        int rows = batch.rows();
        MetaModel meta = parts.meta();
        Matrix trees = treeEncoder.encode(batch);
        double[][] z = rows == 0 ? new double[0][] : baseOutputs(trees, batch);
        double[] score = new double[rows];
        String[] label = new String[rows];
        double[] lower = new double[rows];
        double[] upper = new double[rows];
        double[] agreement = new double[rows];
        double[][] baseScores = new double[rows][];
        double[] link = new double[rows];
        boolean binary = parts.kind() == TargetKind.BINARY;
        for (int r = 0; r < rows; r++) {
            link[r] = meta.link(z[r]);
            score[r] = meta.score(link[r]);
            label[r] = binary
                    ? parts.thresholds().label(score[r])
                    : parts.thresholds().tier(score[r]);
            double[] interval = meta.interval(z[r], link[r]);
            lower[r] = interval[0];
            upper[r] = interval[1];
            agreement[r] = meta.agreement(z[r]);
            baseScores[r] = new double[z[r].length];
            for (int m = 0; m < z[r].length; m++) {
                baseScores[r][m] = meta.baseScore(z[r][m]);
            }
        }
        Optional<Predictions.Explanations> explanations =
                explain ? Optional.of(explain(trees, z, link)) : Optional.empty();
        return new Predictions(score, label, lower, upper, agreement, baseModels, baseScores, explanations);
    }

    private Predictions.Explanations explain(Matrix trees, double[][] z, double[] link) {
        int rows = trees.rows();
        int features = parts.schema().size();
        double[][] contributions = new double[rows][features];
        double[] baseValue = new double[rows];
        double[] mlpTerm = new double[rows];
        if (rows == 0) {
            return new Predictions.Explanations(contributions, baseValue, mlpTerm, link);
        }
        // row-major: per row one value per feature, then the bias
        double[] xgb = parts.xgboost().contributions(trees);
        double[] lgb = parts.lightgbm().contributions(trees);
        double[] w = parts.meta().weights();
        for (int r = 0; r < rows; r++) {
            int base = r * (features + 1);
            for (int f = 0; f < features; f++) {
                contributions[r][f] = w[0] * xgb[base + f] + w[1] * lgb[base + f];
            }
            baseValue[r] = parts.meta().intercept() + w[0] * xgb[base + features] + w[1] * lgb[base + features];
            mlpTerm[r] = w.length > 2 ? w[2] * z[r][2] : 0;
        }
        return new Predictions.Explanations(contributions, baseValue, mlpTerm, link.clone());
    }

    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        parts.close();
    }
}
