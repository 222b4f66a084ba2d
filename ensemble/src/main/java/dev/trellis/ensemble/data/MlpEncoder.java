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
        int rows = batch.rows();
        float[] values = new float[rows * width];
        for (int f = 0; f < schema.size(); f++) {
            int offset = offsets[f];
            if (codes[f] != null) {
                String[] column = batch.categorical(f);
                Map<String, Integer> map = codes[f];
                for (int r = 0; r < rows; r++) {
                    Integer code = column[r] == null ? null : map.get(column[r]);
                    if (code != null) {
                        values[r * width + offset + code] = 1f;
                    }
                }
            } else {
                double[] column = batch.numeric(f);
                double mean = scaling.means()[f];
                double std = scaling.stds()[f];
                for (int r = 0; r < rows; r++) {
                    double value = column[r];
                    values[r * width + offset] = Double.isFinite(value) ? (float) ((value - mean) / std) : 0f;
                }
            }
        }
        return new Matrix(values, rows, width);
    }
}
