package dev.trellis.ensemble.stacking;

import static java.util.Objects.requireNonNull;

/**
 * Logistic regression on the base models' logits: {@code logit = intercept + Σ wₘ·zₘ}. Fit by
 * Newton's method (IRLS) with an L2 penalty on the weights (not the intercept); {@code covariance}
 * is the inverse of the penalized Hessian at the optimum, ordered (intercept, w₁, …, wₖ), and gives
 * the Wald interval of a row's logit by the delta method: var = xᵀ·Σ·x with x = (1, z₁, …, zₖ).
 * {@link #fitNonNegative} constrains the weights to be non-negative; a base model it drops has
 * weight 0 and zero rows and columns in the covariance.
 */
public record MetaLearner(double intercept, double[] weights, double[][] covariance) implements MetaModel {
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

    /**
     * The fit with non-negative weights maximizing the penalized likelihood. The optimum of this
     * concave problem is the unconstrained optimum on its support, so it is the best of the
     * unconstrained fits on every subset of base models whose weights all come out non-negative
     * (2ᵏ − 1 small fits for k base models). With no such subset, the intercept alone.
     */
    public static MetaLearner fitNonNegative(double[][] logits, int[] labels, double l2) {
        int k = logits[0].length;
        MetaLearner best = null;
        double bestObjective = Double.NEGATIVE_INFINITY;
        for (int mask = 1; mask < 1 << k; mask++) {
            int[] columns = columns(mask, k);
            MetaLearner fit;
            try {
                fit = fitColumns(logits, labels, l2, columns);
            } catch (ArithmeticException e) {
                continue; // collinear base models on this subset: another subset covers it
            }
            boolean feasible = true;
            double penalty = 0;
            for (double w : fit.weights()) {
                feasible &= w >= 0;
                penalty += 0.5 * l2 * w * w;
            }
            if (!feasible) {
                continue;
            }
            // the fit's objective: total (not mean) log-likelihood minus the L2 penalty
            double objective = logLikelihood(fit, logits, labels) * logits.length - penalty;
            if (objective > bestObjective) {
                bestObjective = objective;
                best = fit;
            }
        }
        return best != null ? best : interceptOnly(labels, k);
    }

    /** Logistic regression on the listed base models only; the others get weight 0. */
    public static MetaLearner fitColumns(double[][] logits, int[] labels, double l2, int... columns) {
        int k = logits[0].length;
        double[][] x = new double[logits.length][columns.length];
        for (int i = 0; i < logits.length; i++) {
            for (int j = 0; j < columns.length; j++) {
                x[i][j] = logits[i][columns[j]];
            }
        }
        MetaLearner fit = fit(x, labels, l2);
        double[] weights = new double[k];
        double[][] covariance = new double[k + 1][k + 1];
        int[] index = new int[columns.length + 1];
        for (int j = 0; j < columns.length; j++) {
            weights[columns[j]] = fit.weights()[j];
            index[j + 1] = columns[j] + 1;
        }
        for (int a = 0; a < index.length; a++) {
            for (int b = 0; b < index.length; b++) {
                covariance[index[a]][index[b]] = fit.covariance()[a][b];
            }
        }
        return new MetaLearner(fit.intercept(), weights, covariance);
    }

    private static MetaLearner interceptOnly(int[] labels, int k) {
        double positives = 0;
        for (int label : labels) {
            positives += label;
        }
        double p = Math.min(Math.max(positives / labels.length, 1e-6), 1 - 1e-6);
        double[][] covariance = new double[k + 1][k + 1];
        covariance[0][0] = 1 / (labels.length * p * (1 - p));
        return new MetaLearner(Math.log(p / (1 - p)), new double[k], covariance);
    }

    /** Mean log-likelihood of the labels under {@code meta} (higher is better). */
    static double logLikelihood(MetaModel meta, double[][] logits, int[] labels) {
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            double eta = meta.link(logits[i]);
            // log sigmoid(±eta), stable for large |eta|
            double signed = labels[i] == 1 ? eta : -eta;
            sum += signed >= 0 ? -Math.log1p(Math.exp(-signed)) : signed - Math.log1p(Math.exp(signed));
        }
        return sum / logits.length;
    }

    static int[] columns(int mask, int k) {
        int[] columns = new int[Integer.bitCount(mask)];
        int next = 0;
        for (int j = 0; j < k; j++) {
            if ((mask & (1 << j)) != 0) {
                columns[next++] = j;
            }
        }
        return columns;
    }

    @Override
    public double score(double link) {
        return sigmoid(link);
    }

    @Override
    public double baseScore(double z) {
        return sigmoid(z);
    }

    /** The Wald interval on the logit scale mapped through the sigmoid. */
    @Override
    public double[] interval(double[] z, double link) {
        double halfWidth = StackedEnsemble.Z_95 * Math.sqrt(logitVariance(z));
        double score = sigmoid(link);
        return new double[] {Math.min(score, sigmoid(link - halfWidth)), Math.max(score, sigmoid(link + halfWidth))};
    }

    /** {@code 1 − (max − min)} of the base probabilities. */
    @Override
    public double agreement(double[] z) {
        double min = 1;
        double max = 0;
        for (double logit : z) {
            double p = sigmoid(logit);
            min = Math.min(min, p);
            max = Math.max(max, p);
        }
        return Math.min(1, Math.max(0, 1 - (max - min)));
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
