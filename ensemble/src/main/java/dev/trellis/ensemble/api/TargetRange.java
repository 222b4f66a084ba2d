package dev.trellis.ensemble.api;

/**
 * The range a model's scores are read against: [0, 1] for a binary target's probabilities, the
 * training target's [min, max] for a continuous one (drift histograms bin scores over it).
 */
public record TargetRange(double min, double max) {
    public static final TargetRange PROBABILITY = new TargetRange(0, 1);

    public TargetRange {
        if (!(Double.isFinite(min) && Double.isFinite(max) && min <= max)) {
            throw new IllegalArgumentException("range must be finite with min <= max: " + min + ", " + max);
        }
    }
}
