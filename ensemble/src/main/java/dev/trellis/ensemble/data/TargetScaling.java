package dev.trellis.ensemble.data;

/**
 * Standardization of a continuous target for the MLP, which learns {@code (y − mean) / std} (a
 * network's initial weights and learning rate suit values of order 1, not a target in the
 * thousands). {@link #IDENTITY} for binary targets.
 */
public record TargetScaling(double mean, double std) {
    public static final TargetScaling IDENTITY = new TargetScaling(0, 1);

    public TargetScaling {
        if (!(Double.isFinite(mean) && std > 0 && Double.isFinite(std))) {
            throw new IllegalArgumentException("target scaling needs a finite mean and a positive std");
        }
    }

    /** Mean and (population) standard deviation of {@code values}; std 1 when they are constant. */
    public static TargetScaling fit(double[] values) {
        double sum = 0;
        for (double value : values) {
            sum += value;
        }
        double mean = sum / values.length;
        double squares = 0;
        for (double value : values) {
            squares += (value - mean) * (value - mean);
        }
        double std = Math.sqrt(squares / values.length);
        return new TargetScaling(mean, std > 1e-12 ? std : 1);
    }

    public double standardize(double value) {
        return (value - mean) / std;
    }

    public double restore(double standardized) {
        return mean + std * standardized;
    }
}
