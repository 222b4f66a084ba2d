package dev.trellis.common.monitoring;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How a version performs on the units whose outcome arrived: AUC (the Mann–Whitney statistic, ties
 * counted as half), Brier score (mean squared error of the score), calibration per score decile
 * (bins 0.0–0.1, …, 0.9–1.0: rows, mean score, observed positive rate) and the label mix.
 *
 * @param rows scored rows with an outcome
 * @param positives rows whose outcome is positive
 * @param sufficient false when there are fewer than 2 rows or only one class; then AUC and Brier are NaN
 */
public record LivePerformance(
        long rows,
        long positives,
        boolean sufficient,
        double auc,
        double brier,
        List<CalibrationBin> calibration,
        List<LabelCount> labels) {
    public static final int DECILES = 10;

    public LivePerformance {
        calibration = List.copyOf(requireNonNull(calibration, "calibration is null"));
        labels = List.copyOf(requireNonNull(labels, "labels is null"));
    }

    /** One score decile's rows. */
    public record CalibrationBin(int decile, long rows, double meanScore, double observedRate) {}

    /**
     * One label's rows: how many, how many positive (binary targets), their mean score and mean
     * observed value (for a binary target the positive rate).
     */
    public record LabelCount(String label, long rows, long positives, double meanScore, double meanObserved) {
        public double observedRate() {
            return rows == 0 ? 0 : (double) positives / rows;
        }
    }

    /**
     * Rows per label, sorted by label.
     *
     * @param positive per row whether it counts as a positive (binary targets), or null
     */
    static List<LabelCount> labelMix(double[] scores, double[] observed, boolean[] positive, String[] labels) {
        Map<String, double[]> byLabel = new TreeMap<>();
        for (int i = 0; i < scores.length; i++) {
            double[] sums = byLabel.computeIfAbsent(labels[i], k -> new double[4]);
            sums[0]++;
            sums[1] += positive != null && positive[i] ? 1 : 0;
            sums[2] += scores[i];
            sums[3] += observed[i];
        }
        List<LabelCount> out = new ArrayList<>();
        byLabel.forEach((label, sums) ->
                out.add(new LabelCount(label, (long) sums[0], (long) sums[1], sums[2] / sums[0], sums[3] / sums[0])));
        return out;
    }

    /**
     * @param scores the scores of the rows
     * @param outcomes 1 for a positive outcome, 0 for a negative one, row-aligned
     * @param labels the label of each row, row-aligned
     */
    public static LivePerformance of(double[] scores, int[] outcomes, String[] labels) {
        int n = scores.length;
        if (outcomes.length != n || labels.length != n) {
            throw new IllegalArgumentException("scores, outcomes and labels differ in length");
        }
        long positives = Arrays.stream(outcomes).filter(y -> y == 1).count();
        boolean sufficient = n >= 2 && positives > 0 && positives < n;
        double brier = Double.NaN;
        if (n > 0) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                double d = scores[i] - outcomes[i];
                sum += d * d;
            }
            brier = sum / n;
        }
        long[] binRows = new long[DECILES];
        double[] binScores = new double[DECILES];
        long[] binPositives = new long[DECILES];
        double[] observed = new double[n];
        boolean[] positive = new boolean[n];
        for (int i = 0; i < n; i++) {
            int bin = Math.min(DECILES - 1, Math.max(0, (int) Math.floor(scores[i] * DECILES)));
            binRows[bin]++;
            binScores[bin] += scores[i];
            binPositives[bin] += outcomes[i];
            observed[i] = outcomes[i];
            positive[i] = outcomes[i] == 1;
        }
        List<CalibrationBin> calibration = new ArrayList<>();
        for (int b = 0; b < DECILES; b++) {
            if (binRows[b] > 0) {
                calibration.add(new CalibrationBin(
                        b, binRows[b], binScores[b] / binRows[b], (double) binPositives[b] / binRows[b]));
            }
        }
        List<LabelCount> labelCounts = labelMix(scores, observed, positive, labels);
        return new LivePerformance(
                n,
                positives,
                sufficient,
                sufficient ? auc(scores, outcomes) : Double.NaN,
                sufficient ? brier : Double.NaN,
                calibration,
                labelCounts);
    }

    /** The probability that a random positive scores above a random negative (ties count half), from midranks. */
    static double auc(double[] scores, int[] outcomes) {
        int n = scores.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble(i -> scores[i]));
        double rankSumPositives = 0;
        long positives = 0;
        int i = 0;
        while (i < n) {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) {
                j++;
            }
            double midrank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) {
                if (outcomes[order[k]] == 1) {
                    rankSumPositives += midrank;
                    positives++;
                }
            }
            i = j + 1;
        }
        long negatives = n - positives;
        return (rankSumPositives - positives * (positives + 1) / 2.0) / ((double) positives * negatives);
    }
}
