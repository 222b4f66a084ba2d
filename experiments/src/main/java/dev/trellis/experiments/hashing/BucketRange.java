package dev.trellis.experiments.hashing;

/**
 * A variant's half-open bucket range {@code [start, end)} on the unit interval.
 */
public record BucketRange(double start, double end) {
    public BucketRange {
        if (!(start <= end)) {
            throw new IllegalArgumentException("start " + start + " after end " + end);
        }
    }

    public boolean contains(double n) {
        return GrowthBookHash.inRange(n, start, end);
    }
}
