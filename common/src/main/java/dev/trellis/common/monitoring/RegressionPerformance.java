package dev.trellis.common.monitoring;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * How a version with a continuous target performs on the units whose observed value arrived: RMSE
 * and MAE of the predicted values, R² (1 − SSE / SST around the observed values' own mean, as the
 * bundle's test metric) and the mix per tier (rows, mean predicted, mean observed).
 *
 * @param rows predicted rows with an observed value
 * @param sufficient false with fewer than 2 rows or when every observed value is the same (no
 *     variance to explain); then RMSE, MAE and R² are NaN
 */
public record RegressionPerformance(
        long rows, boolean sufficient, double rmse, double mae, double r2, List<LivePerformance.LabelCount> labels) {
    public RegressionPerformance {
        labels = List.copyOf(requireNonNull(labels, "labels is null"));
    }

    /**
     * @param predictions the predicted values (the scores)
     * @param observed the observed values, row-aligned
     * @param labels the tier of each row, row-aligned
     */
    public static RegressionPerformance of(double[] predictions, double[] observed, String[] labels) {
        int n = predictions.length;
        if (observed.length != n || labels.length != n) {
            throw new IllegalArgumentException("predictions, observed values and labels differ in length");
        }
        double mean = 0;
        for (double y : observed) {
            mean += y;
        }
        mean = n == 0 ? 0 : mean / n;
        double sse = 0;
        double sae = 0;
        double sst = 0;
        for (int i = 0; i < n; i++) {
            double error = predictions[i] - observed[i];
            sse += error * error;
            sae += Math.abs(error);
            sst += (observed[i] - mean) * (observed[i] - mean);
        }
        boolean sufficient = n >= 2 && sst > 0;
        return new RegressionPerformance(
                n,
                sufficient,
                sufficient ? Math.sqrt(sse / n) : Double.NaN,
                sufficient ? sae / n : Double.NaN,
                sufficient ? 1 - sse / sst : Double.NaN,
                LivePerformance.labelMix(predictions, observed, null, labels));
    }
}
