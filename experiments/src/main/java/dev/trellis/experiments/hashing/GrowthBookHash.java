package dev.trellis.experiments.hashing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalDouble;

/**
 * GrowthBook-compatible hashing and bucketing (DESIGN §5), so any GrowthBook SDK computes the
 * same assignment as the router. Stateless and thread-safe.
 *
 * <p>Strings are hashed as UTF-16 code units ({@code charAt}), as GrowthBook's JavaScript SDK does;
 * for ASCII that equals FNV-1a over the bytes.
 */
public final class GrowthBookHash {
    static final long FNV_OFFSET_BASIS = 2166136261L;
    static final long FNV_PRIME = 16777619L;
    /** Weights must sum to 1 within this tolerance (GrowthBook's own bounds 0.99..1.01). */
    public static final double WEIGHT_SUM_TOLERANCE = 0.01;

    private GrowthBookHash() {}

    /** 32-bit FNV-1a over UTF-16 code units, returned unsigned in {@code [0, 2^32)}. */
    public static long fnv1a32(String s) {
        int hash = (int) FNV_OFFSET_BASIS;
        for (int i = 0; i < s.length(); i++) {
            hash ^= s.charAt(i);
            hash *= (int) FNV_PRIME; // int overflow is arithmetic modulo 2^32
        }
        return Integer.toUnsignedLong(hash);
    }

    /** GrowthBook hash v1 (namespaces only): {@code fnv1a32(value + seed) mod 1000 / 1000}. */
    public static double hashV1(String seed, String value) {
        return (fnv1a32(value + seed) % 1000) / 1000.0;
    }

    /** GrowthBook hash v2: {@code fnv1a32(decimal(fnv1a32(seed + value))) mod 10000 / 10000}. */
    public static double hashV2(String seed, String value) {
        return (fnv1a32(Long.toString(fnv1a32(seed + value))) % 10000) / 10000.0;
    }

    /**
     * GrowthBook's {@code hash(seed, value, version)}: {@link #hashV1} for version 1, {@link #hashV2}
     * for version 2, and empty for any other version (where GrowthBook returns null and puts nobody
     * in the experiment).
     */
    public static OptionalDouble hash(String seed, String value, int version) {
        return switch (version) {
            case 1 -> OptionalDouble.of(hashV1(seed, value));
            case 2 -> OptionalDouble.of(hashV2(seed, value));
            default -> OptionalDouble.empty();
        };
    }

    /** Whether n lies in the half-open range {@code [start, end)}. */
    public static boolean inRange(double n, double start, double end) {
        return n >= start && n < end;
    }

    /** Equal weights {@code 1/n}; empty for n ≤ 0. */
    public static double[] equalWeights(int variants) {
        if (variants <= 0) {
            return new double[0];
        }
        double[] weights = new double[variants];
        Arrays.fill(weights, 1.0 / variants);
        return weights;
    }

    /**
     * Bucket ranges: variant i covers {@code [c_i, c_i + coverage * w_i)} where c_i is the sum of
     * the earlier (unscaled) weights, so raising coverage never moves an assigned unit. Coverage is
     * clamped to [0, 1]; {@code weights == null} means equal weights.
     *
     * <p>Unlike GrowthBook, which silently falls back to equal weights, weights that do not match
     * the variant count or do not sum to 1 ± 0.01 are rejected.
     *
     * @throws IllegalArgumentException for such weights
     */
    public static List<BucketRange> bucketRanges(int variants, double coverage, double[] weights) {
        if (variants < 0) {
            throw new IllegalArgumentException("variants is negative: " + variants);
        }
        double[] w = weights == null ? equalWeights(variants) : weights;
        if (w.length != variants) {
            throw new IllegalArgumentException("expected " + variants + " weights, got " + w.length);
        }
        double sum = 0;
        for (double x : w) {
            if (!(x >= 0 && x <= 1)) {
                throw new IllegalArgumentException("weight " + x + " outside [0, 1]");
            }
            sum += x;
        }
        if (variants > 0 && Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) {
            throw new IllegalArgumentException("weights sum to " + sum + ", not 1 ± " + WEIGHT_SUM_TOLERANCE);
        }
        double c = Double.isNaN(coverage) ? 0 : Math.max(0, Math.min(1, coverage));
        List<BucketRange> ranges = new ArrayList<>(variants);
        double cumulative = 0;
        for (double x : w) {
            double start = cumulative;
            cumulative += x;
            ranges.add(new BucketRange(start, start + c * x));
        }
        return List.copyOf(ranges);
    }

    /** Index of the first range containing n, or -1 when none does. */
    public static int chooseVariation(double n, List<BucketRange> ranges) {
        for (int i = 0; i < ranges.size(); i++) {
            if (ranges.get(i).contains(n)) {
                return i;
            }
        }
        return -1;
    }

    /** The hash a legacy namespace judges: v1 with seed {@code "__" + namespaceId}. */
    public static double namespaceHash(String value, String namespaceId) {
        return hashV1("__" + namespaceId, value);
    }

    /** Whether the value is in namespace {@code (id, [start, end))}: its {@link #namespaceHash} is in the range. */
    public static boolean inNamespace(String value, String namespaceId, double start, double end) {
        return inRange(namespaceHash(value, namespaceId), start, end);
    }
}
