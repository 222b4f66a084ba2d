package dev.trellis.ensemble.training;

import static java.util.Objects.requireNonNull;

/**
 * The settings of the base models and the meta-learner: what {@code --tune} searches and what
 * bundle.json records under {@code hyperparameters}, so that a bundle says how it was trained and
 * {@code --params} can train with another bundle's settings.
 */
public record Hyperparameters(Xgboost xgboost, Lightgbm lightgbm, Mlp mlp, Meta meta) {
    /** MLP input encoding: numeric features standardized. */
    public static final String STANDARDIZE = "standardize";
    /**
     * MLP input encoding: numeric features standardized, and those with a few small integer codes
     * (3–{@value dev.trellis.ensemble.data.MlpEncoder#MAX_ORDINAL_LEVELS} distinct integers in training,
     * such as the lead data's 0–9 bands) also one-hot over those codes.
     */
    public static final String ORDINAL_ONE_HOT = "ordinal_one_hot";

    public Hyperparameters {
        requireNonNull(xgboost, "xgboost is null");
        requireNonNull(lightgbm, "lightgbm is null");
        requireNonNull(mlp, "mlp is null");
        requireNonNull(meta, "meta is null");
    }

    /** XGBoost (hist trees). {@code rounds} is fixed; tuning picks it by early stopping. */
    public record Xgboost(
            int rounds,
            int maxDepth,
            double eta,
            double subsample,
            double colsample,
            double minChildWeight,
            double lambda) {
        public Xgboost {
            if (rounds < 1 || maxDepth < 1 || !(eta > 0) || !(subsample > 0 && subsample <= 1)) {
                throw new IllegalArgumentException(
                        "xgboost: rounds, max_depth and eta must be positive, subsample in (0, 1]");
            }
            if (!(colsample > 0 && colsample <= 1) || minChildWeight < 0 || lambda < 0) {
                throw new IllegalArgumentException("xgboost: colsample in (0, 1], min_child_weight and lambda >= 0");
            }
        }

        public Xgboost withRounds(int rounds) {
            return new Xgboost(rounds, maxDepth, eta, subsample, colsample, minChildWeight, lambda);
        }
    }

    /** LightGBM (leaf-wise trees). */
    public record Lightgbm(
            int rounds,
            int numLeaves,
            double learningRate,
            int minDataInLeaf,
            double featureFraction,
            double baggingFraction,
            double lambdaL2) {
        public Lightgbm {
            if (rounds < 1 || numLeaves < 2 || !(learningRate > 0) || minDataInLeaf < 1) {
                throw new IllegalArgumentException(
                        "lightgbm: rounds, learning_rate and min_data_in_leaf must be positive, num_leaves at least 2");
            }
            if (!(featureFraction > 0 && featureFraction <= 1)
                    || !(baggingFraction > 0 && baggingFraction <= 1)
                    || lambdaL2 < 0) {
                throw new IllegalArgumentException("lightgbm: fractions in (0, 1], lambda_l2 >= 0");
            }
        }

        public Lightgbm withRounds(int rounds) {
            return new Lightgbm(
                    rounds, numLeaves, learningRate, minDataInLeaf, featureFraction, baggingFraction, lambdaL2);
        }
    }

    /** The MLP (64 → 32 → 16, ReLU, Adam). */
    public record Mlp(int epochs, int batchSize, double learningRate, double l2, double dropout, String inputs) {
        public Mlp {
            if (epochs < 1 || batchSize < 1 || !(learningRate > 0) || l2 < 0 || !(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException(
                        "mlp: epochs, batch_size and learning_rate must be positive, l2 >= 0, dropout in [0, 1)");
            }
            requireNonNull(inputs, "inputs is null");
            if (!inputs.equals(STANDARDIZE) && !inputs.equals(ORDINAL_ONE_HOT)) {
                throw new IllegalArgumentException(
                        "mlp: inputs must be " + STANDARDIZE + " or " + ORDINAL_ONE_HOT + ", not " + inputs);
            }
        }

        public Mlp withEpochs(int epochs) {
            return new Mlp(epochs, batchSize, learningRate, l2, dropout, inputs);
        }
    }

    /**
     * The meta-learner.
     *
     * @param l2 L2 penalty on the logistic meta-learner's weights (a continuous target's linear
     *     meta-learner is plain least squares)
     * @param nonNegative constrain the weights to be non-negative
     * @param fallback fall back to the single best base model when the stacked fit loses to it
     *     out of fold (see {@link dev.trellis.ensemble.stacking.MetaSelection})
     */
    public record Meta(double l2, boolean nonNegative, boolean fallback) {
        public Meta {
            if (l2 < 0) {
                throw new IllegalArgumentException("meta: l2 must not be negative");
            }
        }
    }

    /** Settings of {@code trellis train} without flags, chosen by cross-validation (see the README). */
    public static Hyperparameters defaults() {
        return new Hyperparameters(
                new Xgboost(300, 3, 0.03, 0.8, 0.6, 5.0, 1.0),
                new Lightgbm(300, 7, 0.03, 40, 0.6, 0.8, 1.0),
                new Mlp(20, 128, 1e-3, 1e-2, 0, STANDARDIZE),
                new Meta(1.0, true, true));
    }

    /**
     * The settings before this version's tuning work (unconstrained logistic meta-learner, no
     * fallback), kept so that {@code evaluate --cv} can compare against them.
     */
    public static Hyperparameters legacy() {
        return new Hyperparameters(
                new Xgboost(300, 3, 0.03, 0.8, 0.6, 5.0, 1.0),
                new Lightgbm(300, 7, 0.03, 40, 0.6, 0.8, 1.0),
                new Mlp(20, 128, 1e-3, 1e-2, 0, STANDARDIZE),
                new Meta(1.0, false, false));
    }

    /** Small and quick, for tests: few trees and epochs. */
    public static Hyperparameters fast() {
        return new Hyperparameters(
                new Xgboost(40, 3, 0.1, 0.8, 0.8, 1.0, 1.0),
                new Lightgbm(40, 7, 0.1, 20, 0.8, 0.8, 1.0),
                new Mlp(5, 128, 3e-3, 1e-3, 0, STANDARDIZE),
                new Meta(1.0, true, true));
    }

    public Hyperparameters withXgboost(Xgboost xgboost) {
        return new Hyperparameters(xgboost, lightgbm, mlp, meta);
    }

    public Hyperparameters withLightgbm(Lightgbm lightgbm) {
        return new Hyperparameters(xgboost, lightgbm, mlp, meta);
    }

    public Hyperparameters withMlp(Mlp mlp) {
        return new Hyperparameters(xgboost, lightgbm, mlp, meta);
    }

    public Hyperparameters withMeta(Meta meta) {
        return new Hyperparameters(xgboost, lightgbm, mlp, meta);
    }
}
