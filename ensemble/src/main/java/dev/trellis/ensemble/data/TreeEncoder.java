package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Encodes rows for the tree models: one column per schema feature, in schema order. Numeric values
 * pass through as float (NaN = missing). A categorical value becomes its index in the feature's
 * vocabulary; missing and unseen categories become NaN, which both tree libraries route down each
 * split's learned default direction. LightGBM is told these columns are categorical
 * ({@code categorical_feature}); XGBoost splits on the codes as ordered numbers.
 * Thread-safe (immutable).
 */
public final class TreeEncoder {
    private final FeatureSchema schema;
    private final List<Map<String, Integer>> codes;
    private final boolean[] categorical;

    public TreeEncoder(FeatureSchema schema) {
        this.schema = requireNonNull(schema, "schema is null");
        this.categorical = new boolean[schema.size()];
        java.util.ArrayList<Map<String, Integer>> maps = new java.util.ArrayList<>();
        for (int f = 0; f < schema.size(); f++) {
            Feature feature = schema.features().get(f);
            Map<String, Integer> map = new HashMap<>();
            if (feature.type() == FeatureType.CATEGORICAL) {
                categorical[f] = true;
                for (int i = 0; i < feature.vocabulary().size(); i++) {
                    map.put(feature.vocabulary().get(i), i);
                }
            }
            maps.add(map);
        }
        this.codes = List.copyOf(maps);
    }

    public int width() {
        return schema.size();
    }

    /** Column indices of categorical features (for LightGBM's {@code categorical_feature}). */
    public int[] categoricalColumns() {
        int count = 0;
        for (boolean c : categorical) {
            count += c ? 1 : 0;
        }
        int[] columns = new int[count];
        int next = 0;
        for (int f = 0; f < categorical.length; f++) {
            if (categorical[f]) {
                columns[next++] = f;
            }
        }
        return columns;
    }

    public Matrix encode(FeatureBatch batch) {
        int rows = batch.rows();
        int cols = schema.size();
        float[] values = new float[rows * cols];
        for (int f = 0; f < cols; f++) {
            if (categorical[f]) {
                String[] column = batch.categorical(f);
                Map<String, Integer> map = codes.get(f);
                for (int r = 0; r < rows; r++) {
                    Integer code = column[r] == null ? null : map.get(column[r]);
                    values[r * cols + f] = code == null ? Float.NaN : code;
                }
            } else {
                double[] column = batch.numeric(f);
                for (int r = 0; r < rows; r++) {
                    double value = column[r];
                    values[r * cols + f] = Double.isFinite(value) ? (float) value : Float.NaN;
                }
            }
        }
        return new Matrix(values, rows, cols);
    }
}
