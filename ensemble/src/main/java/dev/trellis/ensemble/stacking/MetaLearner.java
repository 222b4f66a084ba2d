package dev.trellis.ensemble.stacking;

import static java.util.Objects.requireNonNull;

/**
 * Logistic regression on the base models' logits: {@code logit = intercept + Σ wₘ·zₘ}. Fit by
 * Newton's method (IRLS) with an L2 penalty on the weights (not the intercept); {@code covariance}
 * is the inverse of the penalized Hessian at the optimum, ordered (intercept, w₁, …, wₖ), and gives
 * the Wald interval of a row's logit by the delta method: var = xᵀ·Σ·x with x = (1, z₁, …, zₖ).
 */
public record MetaLearner(double intercept, double[] weights, double[][] covariance) {
    public MetaLearner {
        requireNonNull(weights, "weights is null");
        requireNonNull(covariance, "covariance is null");
        if (covariance.length != weights.length + 1) {
            throw new IllegalArgumentException("covariance must be " + (weights.length + 1) + " square");
        }
        for (double[] row : covariance) {
            if (row.length != weights.length + 1) {
                throw new IllegalArgumentException("covariance must be " + (weights.length + 1) + " square");
            }
        }
    }

    public static MetaLearner fit(double[][] logits, int[] labels, double l2) {
        int n = logits.length;
        int k = logits[0].length;
        int d = k + 1;
        double[] beta = new double[d];
        double prior = 0;
        for (int label : labels) {
            prior += label;
        }
        prior = Math.min(Math.max(prior / n, 1e-6), 1 - 1e-6);
        beta[0] = Math.log(prior / (1 - prior));
        double[][] hessian = new double[d][d];
        for (int iteration = 0; iteration < 100; iteration++) {
            double[] gradient = new double[d];
            hessian = new double[d][d];
            double[] x = new double[d];
            for (int i = 0; i < n; i++) {
                x[0] = 1;
                System.arraycopy(logits[i], 0, x, 1, k);
                double eta = 0;
                for (int j = 0; j < d; j++) {
                    eta += beta[j] * x[j];
                }
                double p = sigmoid(eta);
                double w = Math.max(p * (1 - p), 1e-12);
                for (int a = 0; a < d; a++) {
                    gradient[a] += (labels[i] - p) * x[a];
                    for (int b = 0; b <= a; b++) {
                        hessian[a][b] += w * x[a] * x[b];
                    }
                }
            }
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < a; b++) {
                    hessian[b][a] = hessian[a][b];
                }
            }
            for (int j = 1; j < d; j++) {
                gradient[j] -= l2 * beta[j];
                hessian[j][j] += l2;
            }
            double[] step = LinearAlgebra.solve(hessian, gradient);
            double change = 0;
            for (int j = 0; j < d; j++) {
                beta[j] += step[j];
                change = Math.max(change, Math.abs(step[j]));
            }
            if (change < 1e-10) {
                break;
            }
        }
        double[][] covariance = LinearAlgebra.inverse(hessian);
        double[] weights = new double[k];
        System.arraycopy(beta, 1, weights, 0, k);
        return new MetaLearner(beta[0], weights, covariance);
    }

    public double logit(double[] baseLogits) {
        double eta = intercept;
        for (int m = 0; m < weights.length; m++) {
            eta += weights[m] * baseLogits[m];
        }
        return eta;
    }

    /** Variance of the ensemble logit for these base logits (delta method). */
    public double logitVariance(double[] baseLogits) {
        int d = weights.length + 1;
        double variance = 0;
        for (int a = 0; a < d; a++) {
            double xa = a == 0 ? 1 : baseLogits[a - 1];
            for (int b = 0; b < d; b++) {
                double xb = b == 0 ? 1 : baseLogits[b - 1];
                variance += xa * covariance[a][b] * xb;
            }
        }
        return Math.max(variance, 0);
    }

    public static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
