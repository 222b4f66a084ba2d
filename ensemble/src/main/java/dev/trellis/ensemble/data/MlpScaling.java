package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;

/**
 * Standardization of numeric features for the MLP, fit on training rows: one mean and standard
 * deviation per schema feature (0 and 1 for categorical features, which are one-hot encoded).
 */
public record MlpScaling(double[] means, double[] stds) {
    public MlpScaling {
        requireNonNull(means, "means is null");
        requireNonNull(stds, "stds is null");
        if (means.length != stds.length) {
            throw new IllegalArgumentException("means and stds differ in length");
        }
        for (double std : stds) {
            if (!(std > 0) || !Double.isFinite(std)) {
                throw new IllegalArgumentException("standard deviation must be positive and finite");
            }
        }
    }

    /** Mean and (population) standard deviation of the non-missing values; std 1 for constant columns. */
    public static MlpScaling fit(dev.trellis.ensemble.api.FeatureBatch batch) {
        FeatureSchema schema = batch.schema();
        double[] means = new double[schema.size()];
        double[] stds = new double[schema.size()];
        for (int f = 0; f < schema.size(); f++) {
            stds[f] = 1;
            if (schema.features().get(f).type() != FeatureType.NUMERIC) {
                continue;
            }
            double sum = 0;
            double sumSquares = 0;
            int count = 0;
            for (double value : batch.numeric(f)) {
                if (Double.isFinite(value)) {
                    sum += value;
                    count++;
                }
            }
            double mean = count == 0 ? 0 : sum / count;
            for (double value : batch.numeric(f)) {
                if (Double.isFinite(value)) {
                    sumSquares += (value - mean) * (value - mean);
                }
            }
            double std = count == 0 ? 0 : Math.sqrt(sumSquares / count);
            means[f] = mean;
            stds[f] = std > 1e-12 ? std : 1;
        }
        return new MlpScaling(means, stds);
    }
}
