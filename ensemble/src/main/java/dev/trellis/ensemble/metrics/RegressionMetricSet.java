package dev.trellis.ensemble.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Quality of one model's predictions of a continuous target on one set of rows, against the
 * baseline that predicts the training mean for every row.
 *
 * @param r2 1 − SSE / SST, with SST around these rows' own mean
 * @param baselineRmse RMSE of predicting the training mean
 * @param baselineMae MAE of predicting the training mean
 * @param coverage share of rows whose value lies in the model's 95% interval (NaN when the model
 *     has none, e.g. a base model)
 */
public record RegressionMetricSet(
        int rows, double rmse, double mae, double r2, double baselineRmse, double baselineMae, double coverage) {
    public Map<String, Double> toMap() {
        Map<String, Double> map = new LinkedHashMap<>();
        map.put("rows", (double) rows);
        map.put("rmse", rmse);
        map.put("mae", mae);
        map.put("r2", r2);
        map.put("baseline_rmse", baselineRmse);
        map.put("baseline_mae", baselineMae);
        if (!Double.isNaN(coverage)) {
            map.put("interval_coverage", coverage);
        }
        return map;
    }

    /**
     * @param baseline the training mean
     * @param lower per row the interval's lower bound, or null
     * @param upper per row the interval's upper bound, or null
     */
    public static RegressionMetricSet compute(
            double[] predictions, double[] targets, double baseline, double[] lower, double[] upper) {
        if (predictions.length != targets.length || predictions.length == 0) {
            throw new IllegalArgumentException("predictions and targets must be non-empty and of one length");
        }
        int n = targets.length;
        double mean = 0;
        for (double y : targets) {
            mean += y;
        }
        mean /= n;
        double sse = 0;
        double sae = 0;
        double sst = 0;
        double baseSse = 0;
        double baseSae = 0;
        int covered = 0;
        for (int i = 0; i < n; i++) {
            double error = predictions[i] - targets[i];
            sse += error * error;
            sae += Math.abs(error);
            sst += (targets[i] - mean) * (targets[i] - mean);
            baseSse += (baseline - targets[i]) * (baseline - targets[i]);
            baseSae += Math.abs(baseline - targets[i]);
            if (lower != null && targets[i] >= lower[i] && targets[i] <= upper[i]) {
                covered++;
            }
        }
        return new RegressionMetricSet(
                n,
                Math.sqrt(sse / n),
                sae / n,
                sst == 0 ? Double.NaN : 1 - sse / sst,
                Math.sqrt(baseSse / n),
                baseSae / n,
                lower == null ? Double.NaN : (double) covered / n);
    }
}
