package dev.trellis.common.monitoring;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * What drift needs to know about one feature (or the score), for a training baseline or a live
 * window. Immutable by convention: the arrays are never changed after construction.
 *
 * @param name the feature name, or {@link #SCORE} for the model's score
 * @param categorical categorical (category counts) or numeric (values, bins)
 * @param rows rows seen
 * @param missing rows where the feature was missing
 * @param values numeric: a baseline's quantile sketch or a window's values, non-missing, any order
 * @param edges numeric baseline: interior histogram bin edges, ascending; empty for a live window
 * @param binCounts numeric baseline: rows per bin ({@code edges.length + 1}); empty for a live window
 * @param categories categorical: non-missing rows per category
 */
public record FeatureProfile(
        String name,
        boolean categorical,
        long rows,
        long missing,
        double[] values,
        double[] edges,
        long[] binCounts,
        Map<String, Long> categories) {
    /** The name under which the score's distribution is profiled. */
    public static final String SCORE = "(score)";

    public FeatureProfile {
        requireNonNull(name, "name is null");
        requireNonNull(values, "values is null");
        requireNonNull(edges, "edges is null");
        requireNonNull(binCounts, "binCounts is null");
        categories = Map.copyOf(requireNonNull(categories, "categories is null"));
        if (rows < 0 || missing < 0 || missing > rows) {
            throw new IllegalArgumentException(name + ": rows " + rows + ", missing " + missing);
        }
        if (binCounts.length != 0 && binCounts.length != edges.length + 1) {
            throw new IllegalArgumentException(name + ": " + binCounts.length + " bin counts for " + edges.length
                    + " edges (expected one more than the edges)");
        }
    }

    public double missingRate() {
        return rows == 0 ? 0 : (double) missing / rows;
    }
}
