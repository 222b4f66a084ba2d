package dev.trellis.ensemble.stacking;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;

/**
 * Linear regression on the base models' predictions of a continuous target:
 * {@code value = intercept + Σ wₘ·zₘ}, fit by least squares with non-negative weights, and a 95%
 * split-conformal prediction interval {@code value ± halfWidth}, where {@code halfWidth} is the
 * ⌈0.95·(n + 1)⌉-th smallest absolute out-of-fold residual of the ensemble. Agreement is
 * {@code 1 − min(1, (max − min) / (2·halfWidth))} of the base predictions: 0 once the base models
 * disagree by the whole interval's width.
 */
public record LinearMetaLearner(double intercept, double[] weights, double halfWidth) implements MetaModel {
    /** Coverage of the prediction interval. */
    public static final double LEVEL = 0.95;

    public LinearMetaLearner {
        requireNonNull(weights, "weights is null");
        if (!(halfWidth >= 0) || !Double.isFinite(halfWidth) || !Double.isFinite(intercept)) {
            throw new IllegalArgumentException("intercept must be finite and halfWidth finite and non-negative");
        }
        weights = weights.clone();
    }

    @Override
    public double[] weights() {
        return weights.clone();
    }

    /**
     * Least squares with non-negative weights: the best of the unconstrained fits on every subset of
     * base models whose weights all come out non-negative (the constrained optimum is one of them),
     * else the mean. The interval is not set yet (half-width 0): see {@link #withResiduals}.
     */
    public static LinearMetaLearner fitNonNegative(double[][] predictions, double[] targets) {
        int k = predictions[0].length;
        LinearMetaLearner best = null;
        double bestSse = Double.POSITIVE_INFINITY;
        for (int mask = 1; mask < 1 << k; mask++) {
            int[] columns = MetaLearner.columns(mask, k);
            LinearMetaLearner fit;
            try {
                fit = fitColumns(predictions, targets, columns);
            } catch (ArithmeticException e) {
                continue;
            }
            if (Arrays.stream(fit.weights).anyMatch(w -> w < 0)) {
                continue;
            }
            double sse = sse(fit, predictions, targets);
            if (sse < bestSse) {
                bestSse = sse;
                best = fit;
            }
        }
        if (best == null) {
            return new LinearMetaLearner(Arrays.stream(targets).average().orElse(0), new double[k], 0);
        }
        return best;
    }

    /** Least squares on the listed base models only; the others get weight 0. */
    public static LinearMetaLearner fitColumns(double[][] predictions, double[] targets, int... columns) {
        int n = targets.length;
        int c = columns.length;
        double[] means = new double[c];
        double yMean = 0;
        for (int i = 0; i < n; i++) {
            yMean += targets[i];
            for (int j = 0; j < c; j++) {
                means[j] += predictions[i][columns[j]];
            }
        }
        yMean /= n;
        for (int j = 0; j < c; j++) {
            means[j] /= n;
        }
        double[][] gram = new double[c][c];
        double[] right = new double[c];
        for (int i = 0; i < n; i++) {
            for (int a = 0; a < c; a++) {
                double xa = predictions[i][columns[a]] - means[a];
                right[a] += xa * (targets[i] - yMean);
                for (int b = 0; b < c; b++) {
                    gram[a][b] += xa * (predictions[i][columns[b]] - means[b]);
                }
            }
        }
        // a ridge far below the data's scale, only so that near-identical base models stay solvable
        double trace = 0;
        for (int a = 0; a < c; a++) {
            trace += gram[a][a];
        }
        for (int a = 0; a < c; a++) {
            gram[a][a] += 1e-9 * trace / c + 1e-300;
        }
        double[] solved = LinearAlgebra.solve(gram, right);
        double[] weights = new double[predictions[0].length];
        double intercept = yMean;
        for (int j = 0; j < c; j++) {
            weights[columns[j]] = solved[j];
            intercept -= solved[j] * means[j];
        }
        return new LinearMetaLearner(intercept, weights, 0);
    }

    /** The same combination with the conformal half-width of these out-of-fold residuals. */
    public LinearMetaLearner withResiduals(double[][] predictions, double[] targets) {
        double[] residuals = new double[targets.length];
        for (int i = 0; i < targets.length; i++) {
            residuals[i] = Math.abs(targets[i] - link(predictions[i]));
        }
        Arrays.sort(residuals);
        int rank = (int) Math.ceil(LEVEL * (targets.length + 1));
        return new LinearMetaLearner(intercept, weights, residuals[Math.min(rank, targets.length) - 1]);
    }

    static double sse(MetaModel meta, double[][] predictions, double[] targets) {
        double sse = 0;
        for (int i = 0; i < targets.length; i++) {
            double error = meta.link(predictions[i]) - targets[i];
            sse += error * error;
        }
        return sse;
    }

    @Override
    public double link(double[] z) {
        double eta = intercept;
        for (int m = 0; m < weights.length; m++) {
            eta += weights[m] * z[m];
        }
        return eta;
    }

    @Override
    public double score(double link) {
        return link;
    }

    @Override
    public double baseScore(double z) {
        return z;
    }

    @Override
    public double[] interval(double[] z, double link) {
        return new double[] {link - halfWidth, link + halfWidth};
    }

    @Override
    public double agreement(double[] z) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double value : z) {
            min = Math.min(min, value);
            max = Math.max(max, value);
        }
        double spread = max - min;
        if (halfWidth == 0) {
            return spread == 0 ? 1 : 0;
        }
        return Math.max(0, 1 - Math.min(1, spread / (2 * halfWidth)));
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof LinearMetaLearner that
                && Double.compare(intercept, that.intercept) == 0
                && Arrays.equals(weights, that.weights)
                && Double.compare(halfWidth, that.halfWidth) == 0;
    }

    @Override
    public int hashCode() {
        return Double.hashCode(intercept) * 31 + Arrays.hashCode(weights);
    }

    @Override
    public String toString() {
        return "LinearMetaLearner[intercept=" + intercept + ", weights=" + Arrays.toString(weights) + ", halfWidth="
                + halfWidth + "]";
    }
}
