package dev.trellis.common.monitoring;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds and merges {@link FeatureProfile}s, the one place that decides bins and sketches, so a
 * baseline written by the trainer and a live window on a model-server are binned the same way.
 * Stateless.
 */
public final class Profiles {
    /** Points of a baseline's quantile sketch (every 0.1 percentile). */
    public static final int SKETCH_POINTS = 1001;

    /** Histogram bins of a numeric baseline before ties merge them: deciles. */
    public static final int BINS = 10;

    private Profiles() {}

    /** A numeric baseline: quantile sketch and decile histogram of the non-NaN {@code values}. */
    public static FeatureProfile numericBaseline(String name, double[] values) {
        double[] present = present(values);
        Arrays.sort(present);
        double[] edges = decileEdges(present);
        long[] counts = new long[edges.length + 1];
        for (double v : present) {
            counts[bin(edges, v)]++;
        }
        return new FeatureProfile(
                name, false, values.length, values.length - present.length, sketch(present), edges, counts, Map.of());
    }

    /** A numeric live window: the non-NaN {@code values} themselves. */
    public static FeatureProfile numericWindow(String name, double[] values) {
        double[] present = present(values);
        return new FeatureProfile(
                name,
                false,
                values.length,
                values.length - present.length,
                present,
                new double[0],
                new long[0],
                Map.of());
    }

    /** A categorical profile: counts per category of the non-null {@code values}. */
    public static FeatureProfile categorical(String name, String[] values) {
        Map<String, Long> counts = new HashMap<>();
        long missing = 0;
        for (String v : values) {
            if (v == null) {
                missing++;
            } else {
                counts.merge(v, 1L, Long::sum);
            }
        }
        return new FeatureProfile(
                name, true, values.length, missing, new double[0], new double[0], new long[0], counts);
    }

    /** The bin of {@code value}: the number of {@code edges} at or below it. */
    public static int bin(double[] edges, double value) {
        int lo = 0;
        int hi = edges.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (edges[mid] <= value) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /**
     * The windows of several replicas as one: rows, missing and category counts add, values
     * concatenate. Baseline fields (edges, bins) are not merged: windows have none.
     */
    public static FeatureProfile mergeWindows(String name, boolean categorical, List<FeatureProfile> windows) {
        long rows = 0;
        long missing = 0;
        int size = 0;
        Map<String, Long> categories = new LinkedHashMap<>();
        for (FeatureProfile w : windows) {
            rows += w.rows();
            missing += w.missing();
            size += w.values().length;
            w.categories().forEach((k, v) -> categories.merge(k, v, Long::sum));
        }
        double[] values = new double[size];
        int offset = 0;
        for (FeatureProfile w : windows) {
            System.arraycopy(w.values(), 0, values, offset, w.values().length);
            offset += w.values().length;
        }
        return new FeatureProfile(name, categorical, rows, missing, values, new double[0], new long[0], categories);
    }

    private static double[] present(double[] values) {
        int n = 0;
        double[] out = new double[values.length];
        for (double v : values) {
            if (!Double.isNaN(v)) {
                out[n++] = v;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** Distinct interior deciles of sorted values (ties collapse bins, e.g. of a 0/1 feature). */
    private static double[] decileEdges(double[] sorted) {
        List<Double> edges = new ArrayList<>();
        if (sorted.length > 0) {
            for (int i = 1; i < BINS; i++) {
                double q = sorted[(int) Math.floor((double) i * (sorted.length - 1) / BINS)];
                // an edge at the minimum would leave its bin empty; skip it and duplicates
                if (q > sorted[0] && (edges.isEmpty() || q > edges.get(edges.size() - 1))) {
                    edges.add(q);
                }
            }
        }
        return edges.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** Up to {@link #SKETCH_POINTS} evenly spaced order statistics of sorted values. */
    private static double[] sketch(double[] sorted) {
        if (sorted.length <= SKETCH_POINTS) {
            return sorted.clone();
        }
        double[] out = new double[SKETCH_POINTS];
        for (int i = 0; i < SKETCH_POINTS; i++) {
            out[i] = sorted[(int) Math.round((double) i * (sorted.length - 1) / (SKETCH_POINTS - 1))];
        }
        return out;
    }
}
