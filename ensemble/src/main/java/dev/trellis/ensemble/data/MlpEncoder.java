package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import java.util.HashMap;
import java.util.Map;

/**
 * Encodes rows for the MLP. Numeric features are standardized with the training mean and standard
 * deviation; a missing value becomes 0, i.e. the training mean. Categorical features are one-hot over
 * the vocabulary; missing and unseen categories are all zeros. Column order: features in schema order,
 * a numeric feature taking one column and a categorical one a column per vocabulary entry.
 * Thread-safe (immutable).
 */
public final class MlpEncoder {
    private final FeatureSchema schema;
    private final MlpScaling scaling;
    private final int[] offsets;
    private final Map<String, Integer>[] codes;
    private final int width;

    @SuppressWarnings("unchecked")
    public MlpEncoder(FeatureSchema schema, MlpScaling scaling) {
        this.schema = requireNonNull(schema, "schema is null");
        this.scaling = requireNonNull(scaling, "scaling is null");
        if (scaling.means().length != schema.size()) {
            throw new IllegalArgumentException(
                    "scaling has " + scaling.means().length + " features, schema " + schema.size());
        }
        this.offsets = new int[schema.size()];
        this.codes = new Map[schema.size()];
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
            }
        }
        this.width = next;
    }

    public int width() {
        return width;
    }

    public MlpScaling scaling() {
        return scaling;
    }

    public Matrix encode(FeatureBatch batch) {
        SparseRows sparse = encodeSparse(batch);
        float[] values = new float[sparse.rows() * width];
        int features = sparse.features();
        for (int r = 0; r < sparse.rows(); r++) {
            for (int f = 0; f < features; f++) {
                int index = sparse.index()[r * features + f];
                if (index >= 0) {
                    values[r * width + index] = sparse.value()[r * features + f];
                }
            }
        }
        return new Matrix(values, sparse.rows(), width);
    }

    /**
     * The same encoding, compact: a feature sets at most one input column (its own, or one of its
     * one-hot columns), so each row holds one (column, value) pair per feature, in schema order and
     * so in increasing column order; column -1 when the feature sets none (a missing category).
     *
     * @param rows rows encoded
     * @param features schema features, the pairs per row
     * @param index per row and feature, the input column, or -1
     * @param value per row and feature, the input value
     */
    public record SparseRows(int rows, int features, int[] index, float[] value) {}

    public SparseRows encodeSparse(FeatureBatch batch) {
        int rows = batch.rows();
        int features = schema.size();
        int[] index = new int[rows * features];
        float[] value = new float[rows * features];
        for (int f = 0; f < features; f++) {
            int offset = offsets[f];
            if (codes[f] != null) {
                String[] column = batch.categorical(f);
                Map<String, Integer> map = codes[f];
                for (int r = 0; r < rows; r++) {
                    Integer code = column[r] == null ? null : map.get(column[r]);
                    index[r * features + f] = code == null ? -1 : offset + code;
                    value[r * features + f] = code == null ? 0f : 1f;
                }
            } else {
                double[] column = batch.numeric(f);
                double mean = scaling.means()[f];
                double std = scaling.stds()[f];
                for (int r = 0; r < rows; r++) {
                    double v = column[r];
                    index[r * features + f] = offset;
                    value[r * features + f] = Double.isFinite(v) ? (float) ((v - mean) / std) : 0f;
                }
            }
        }
        return new SparseRows(rows, features, index, value);
    }
}
