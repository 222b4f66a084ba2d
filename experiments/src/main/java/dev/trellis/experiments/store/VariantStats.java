package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

/**
 * Unit-level aggregates of one variant for one metric: each exposed unit counts once (its first
 * exposure decides the variant), with its metric value = the sum of its outcomes (0 when none).
 *
 * @param units exposed units
 * @param positiveUnits units whose value is above 0 (conversions)
 * @param sum sum over units of the per-unit value
 * @param sumOfSquares sum over units of the squared per-unit value
 */
public record VariantStats(String variant, long units, long positiveUnits, double sum, double sumOfSquares) {
    public VariantStats {
        requireNonNull(variant, "variant is null");
    }

    public static VariantStats empty(String variant) {
        return new VariantStats(variant, 0, 0, 0, 0);
    }

    public double mean() {
        return units == 0 ? 0 : sum / units;
    }

    /** Sample variance (n - 1 denominator); 0 with fewer than 2 units. */
    public double variance() {
        if (units < 2) {
            return 0;
        }
        double mean = mean();
        return Math.max(0, (sumOfSquares - units * mean * mean) / (units - 1));
    }
}
