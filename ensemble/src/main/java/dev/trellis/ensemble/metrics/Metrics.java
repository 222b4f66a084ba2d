package dev.trellis.ensemble.metrics;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** Binary classification metrics. Stateless. */
public final class Metrics {
    /** Probabilities are clipped to [EPSILON, 1 - EPSILON] for log loss. */
    public static final double EPSILON = 1e-15;

    private Metrics() {}

    public static MetricSet compute(double[] scores, int[] labels, double threshold, int topK) {
        if (scores.length != labels.length) {
            throw new IllegalArgumentException("scores and labels differ in length");
        }
        int n = scores.length;
        int positives = 0;
        double brier = 0;
        double logLoss = 0;
        int tp = 0;
        int fp = 0;
        int tn = 0;
        int fn = 0;
        for (int i = 0; i < n; i++) {
            positives += labels[i];
            double p = scores[i];
            brier += (p - labels[i]) * (p - labels[i]);
            double clipped = Math.min(1 - EPSILON, Math.max(EPSILON, p));
            logLoss -= labels[i] == 1 ? Math.log(clipped) : Math.log(1 - clipped);
            boolean predicted = p >= threshold;
            if (predicted && labels[i] == 1) {
                tp++;
            } else if (predicted) {
                fp++;
            } else if (labels[i] == 1) {
                fn++;
            } else {
                tn++;
            }
        }
        double precision = tp + fp == 0 ? 0 : (double) tp / (tp + fp);
        double recall = tp + fn == 0 ? 0 : (double) tp / (tp + fn);
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        int k = Math.min(topK, n);
        return new MetricSet(
                n,
                positives,
                aucRoc(scores, labels),
                averagePrecision(scores, labels),
                brier / n,
                logLoss / n,
                threshold,
                (double) (tp + tn) / n,
                precision,
                recall,
                f1,
                k,
                topKHits(scores, labels, k));
    }

    /** Area under the ROC curve (Mann-Whitney U with midranks for ties); NaN with a single class. */
    public static double aucRoc(double[] scores, int[] labels) {
        int n = scores.length;
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble(i -> scores[i]));
        double positiveRankSum = 0;
        long positives = 0;
        int i = 0;
        while (i < n) {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) {
                j++;
            }
            double midrank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) {
                if (labels[order[k]] == 1) {
                    positiveRankSum += midrank;
                    positives++;
                }
            }
            i = j + 1;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) {
            return Double.NaN;
        }
        return (positiveRankSum - positives * (positives + 1) / 2.0) / ((double) positives * negatives);
    }

    /**
     * Average precision (PR-AUC): Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct score thresholds, descending; tied
     * scores enter together (as scikit-learn's average_precision_score does).
     */
    public static double averagePrecision(double[] scores, int[] labels) {
        int n = scores.length;
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> scores[i]).reversed());
        int totalPositives = 0;
        for (int label : labels) {
            totalPositives += label;
        }
        if (totalPositives == 0) {
            return Double.NaN;
        }
        double ap = 0;
        int tp = 0;
        int seen = 0;
        double previousRecall = 0;
        int i = 0;
        while (i < n) {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) {
                j++;
            }
            for (int k = i; k <= j; k++) {
                tp += labels[order[k]];
                seen++;
            }
            double recall = (double) tp / totalPositives;
            ap += (recall - previousRecall) * ((double) tp / seen);
            previousRecall = recall;
            i = j + 1;
        }
        return ap;
    }

    /** Positives among the k highest scores (ties broken by row order, stable). */
    public static int topKHits(double[] scores, int[] labels, int k) {
        Integer[] order = IntStream.range(0, scores.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> scores[i]).reversed());
        int hits = 0;
        for (int i = 0; i < Math.min(k, order.length); i++) {
            hits += labels[order[i]];
        }
        return hits;
    }

    /** The q-quantile (0..1) of the values, linear interpolation between order statistics. */
    public static double quantile(double[] values, double q) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        double position = q * (sorted.length - 1);
        int lower = (int) Math.floor(position);
        int upper = Math.min(sorted.length - 1, lower + 1);
        return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
    }
}
