package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Encodes rows for the MLP. Numeric features are standardized with the training mean and standard
 * deviation; a missing value becomes 0, i.e. the training mean. A numeric feature with ordinal
 * {@code levels} (a few integer codes, e.g. 0–9 bands) is also one-hot over those codes, right after
 * its standardized column; a missing or unseen code is all zeros there. Categorical features are
 * one-hot over the vocabulary; missing and unseen categories are all zeros. Column order: features
 * in schema order, a numeric feature taking one column (plus one per level), a categorical one a
 * column per vocabulary entry. Thread-safe (immutable).
 */
public final class MlpEncoder {
    /** Most distinct integer codes a numeric feature may have to get ordinal one-hot columns. */
    public static final int MAX_ORDINAL_LEVELS = 10;

    private final FeatureSchema schema;
    private final MlpScaling scaling;
    private final int[] offsets;
    private final Map<String, Integer>[] codes;
    private final double[][] levels; // per feature: sorted ordinal codes with one-hot columns, or null
    private final Map<String, double[]> levelsByName;
    private final int width;
    private final int[] slotOf; // per feature: its first (column, value) pair in a SparseRows row
    private final int slots;

    public MlpEncoder(FeatureSchema schema, MlpScaling scaling) {
        this(schema, scaling, Map.of());
    }

    /** @param levels numeric feature name → its ordinal codes (sorted, distinct) that get one-hot columns */
    @SuppressWarnings("unchecked")
    public MlpEncoder(FeatureSchema schema, MlpScaling scaling, Map<String, double[]> levels) {
        this.schema = requireNonNull(schema, "schema is null");
        this.scaling = requireNonNull(scaling, "scaling is null");
        requireNonNull(levels, "levels is null");
        if (scaling.means().length != schema.size()) {
            throw new IllegalArgumentException(
                    "scaling has " + scaling.means().length + " features, schema " + schema.size());
        }
        this.offsets = new int[schema.size()];
        this.codes = new Map[schema.size()];
        this.levels = new double[schema.size()][];
        Map<String, double[]> byName = new LinkedHashMap<>();
        int next = 0;
        for (int f = 0; f < schema.size(); f++) {
            Feature feature = schema.features().get(f);
            offsets[f] = next;
            if (feature.type() == FeatureType.CATEGORICAL) {
                Map<String, Integer> map = new HashMap<>();
                for (int i = 0; i < feature.vocabulary().size(); i++) {
                    map.put(feature.vocabulary().get(i), i);
                }
                codes[f] = map;
                next += feature.vocabulary().size();
            } else {
                next++;
                double[] own = levels.get(feature.name());
                if (own != null) {
                    double[] sorted = own.clone();
                    Arrays.sort(sorted);
                    if (sorted.length == 0 || Arrays.stream(sorted).distinct().count() != sorted.length) {
                        throw new IllegalArgumentException("levels of " + feature.name() + " must be distinct");
                    }
                    this.levels[f] = sorted;
                    byName.put(feature.name(), sorted.clone());
                    next += sorted.length;
                }
            }
        }
        for (String name : levels.keySet()) {
            if (!byName.containsKey(name)) {
                throw new IllegalArgumentException("levels name " + name + ", which is not a numeric feature");
            }
        }
        this.levelsByName = Map.copyOf(byName);
        this.width = next;
        this.slotOf = new int[schema.size()];
        int slot = 0;
        for (int f = 0; f < schema.size(); f++) {
            slotOf[f] = slot;
            slot += this.levels[f] == null ? 1 : 2;
        }
        this.slots = slot;
    }

    /**
     * The ordinal codes of every numeric feature whose non-missing values in {@code batch} are
     * integers with 3 to {@value #MAX_ORDINAL_LEVELS} distinct values.
     */
    public static Map<String, double[]> ordinalLevels(FeatureBatch batch) {
        Map<String, double[]> levels = new LinkedHashMap<>();
        FeatureSchema schema = batch.schema();
        for (int f = 0; f < schema.size(); f++) {
            if (schema.features().get(f).type() != FeatureType.NUMERIC) {
                continue;
            }
            TreeSet<Double> distinct = new TreeSet<>();
            boolean integers = true;
            for (double value : batch.numeric(f)) {
                if (Double.isFinite(value)) {
                    integers &= value == Math.rint(value);
                    distinct.add(value);
                    if (!integers || distinct.size() > MAX_ORDINAL_LEVELS) {
                        break;
                    }
                }
            }
            if (integers && distinct.size() >= 3 && distinct.size() <= MAX_ORDINAL_LEVELS) {
                levels.put(
                        schema.features().get(f).name(),
                        distinct.stream().mapToDouble(Double::doubleValue).toArray());
            }
        }
        return levels;
    }

    public int width() {
        return width;
    }

    public MlpScaling scaling() {
        return scaling;
    }

    /** Numeric feature name → its one-hot ordinal codes (empty without ordinal one-hot). */
    public Map<String, double[]> levels() {
        Map<String, double[]> copy = new LinkedHashMap<>();
        levelsByName.forEach((name, values) -> copy.put(name, values.clone()));
        return copy;
    }

    public Matrix encode(FeatureBatch batch) {
        SparseRows sparse = encodeSparse(batch);
        float[] values = new float[sparse.rows() * width];
        int slots = sparse.slots();
        for (int r = 0; r < sparse.rows(); r++) {
            for (int k = 0; k < slots; k++) {
                int index = sparse.index()[r * slots + k];
                if (index >= 0) {
                    values[r * width + index] = sparse.value()[r * slots + k];
                }
            }
        }
        return new Matrix(values, sparse.rows(), width);
    }

    /**
     * The same encoding, compact: a feature sets at most one input column of each kind (its own
     * column or one of its one-hot columns; a numeric feature with ordinal levels also one level
     * column), so each row holds one (column, value) pair per feature and one more per feature with
     * levels, in schema order and so in increasing column order; column -1 when the pair sets
     * nothing (a missing category, a missing or unseen level).
     *
     * @param rows rows encoded
     * @param slots the pairs per row
     * @param index per row and pair, the input column, or -1
     * @param value per row and pair, the input value
     */
    public record SparseRows(int rows, int slots, int[] index, float[] value) {}

    public SparseRows encodeSparse(FeatureBatch batch) {
        int rows = batch.rows();
        int features = schema.size();
        int[] index = new int[rows * slots];
        float[] value = new float[rows * slots];
        for (int f = 0; f < features; f++) {
            int offset = offsets[f];
            if (codes[f] != null) {
                String[] column = batch.categorical(f);
                Map<String, Integer> map = codes[f];
                for (int r = 0; r < rows; r++) {
                    Integer code = column[r] == null ? null : map.get(column[r]);
                    index[r * slots + slotOf[f]] = code == null ? -1 : offset + code;
                    value[r * slots + slotOf[f]] = code == null ? 0f : 1f;
                }
            } else {
                double[] column = batch.numeric(f);
                double mean = scaling.means()[f];
                double std = scaling.stds()[f];
                double[] own = levels[f];
                for (int r = 0; r < rows; r++) {
                    double v = column[r];
                    boolean finite = Double.isFinite(v);
                    int k = r * slots + slotOf[f];
                    index[k] = offset;
                    value[k] = finite ? (float) ((v - mean) / std) : 0f;
                    if (own != null) {
                        int level = finite ? Arrays.binarySearch(own, v) : -1;
                        index[k + 1] = level >= 0 ? offset + 1 + level : -1;
                        value[k + 1] = level >= 0 ? 1f : 0f;
                    }
                }
            }
        }
        return new SparseRows(rows, slots, index, value);
    }
}
