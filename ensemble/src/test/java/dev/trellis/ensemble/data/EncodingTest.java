package dev.trellis.ensemble.data;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import java.util.List;
import org.junit.jupiter.api.Test;

class EncodingTest {
    private final FeatureSchema schema = new FeatureSchema(
            List.of(Feature.numeric("x"), Feature.categorical("c", List.of("a", "b", "c"))), "y", List.of());

    private FeatureBatch batch() {
        FeatureBatch batch = new FeatureBatch(schema, 4);
        batch.setNumeric(0, 0, 1.0);
        batch.setNumeric(1, 0, 3.0);
        batch.setNumeric(2, 0, Double.NaN);
        // row 3: x never set (missing)
        batch.setCategorical(0, 1, "b");
        batch.setCategorical(1, 1, "zzz");
        batch.setCategorical(2, 1, null);
        batch.setCategorical(3, 1, "c");
        return batch;
    }

    @Test
    void treeEncoder_codesAndMissing() {
        Matrix m = new TreeEncoder(schema).encode(batch());
        assertThat(m.cols()).isEqualTo(2);
        assertThat(m.values()[0]).isEqualTo(1f);
        assertThat(m.values()[1]).isEqualTo(1f);
        assertThat(m.values()[3]).isNaN(); // unseen category
        assertThat(m.values()[4]).isNaN(); // NaN numeric
        assertThat(m.values()[5]).isNaN(); // missing category
        assertThat(m.values()[6]).isNaN(); // missing numeric
        assertThat(m.values()[7]).isEqualTo(2f);
        assertThat(new TreeEncoder(schema).categoricalColumns()).containsExactly(1);
    }

    @Test
    void mlpEncoder_standardizedAndOneHot() {
        FeatureBatch batch = batch();
        MlpScaling scaling = MlpScaling.fit(batch);
        assertThat(scaling.means()[0]).isEqualTo(2.0);
        assertThat(scaling.stds()[0]).isEqualTo(1.0);
        MlpEncoder encoder = new MlpEncoder(schema, scaling);
        assertThat(encoder.width()).isEqualTo(4);
        Matrix m = encoder.encode(batch);
        assertThat(row(m, 0)).containsExactly(-1f, 0f, 1f, 0f);
        assertThat(row(m, 1)).containsExactly(1f, 0f, 0f, 0f); // unseen category: all zeros
        assertThat(row(m, 2)).containsExactly(0f, 0f, 0f, 0f); // NaN → mean (0), missing category → zeros
        assertThat(row(m, 3)).containsExactly(0f, 0f, 0f, 1f);
    }

    @Test
    void mlpEncoder_ordinalOneHot_codesAfterTheStandardizedColumn() {
        FeatureSchema ordinal = new FeatureSchema(
                List.of(Feature.numeric("band"), Feature.numeric("amount"), Feature.categorical("c", List.of("a"))),
                "y",
                List.of());
        FeatureBatch batch = new FeatureBatch(ordinal, 5);
        double[] bands = {0, 1, 2, 1, Double.NaN};
        double[] amounts = {0.5, 1, 2, 3, 4}; // not integers: no one-hot
        for (int r = 0; r < 5; r++) {
            batch.setNumeric(r, 0, bands[r]);
            batch.setNumeric(r, 1, amounts[r]);
        }
        java.util.Map<String, double[]> levels = MlpEncoder.ordinalLevels(batch);
        assertThat(levels).containsOnlyKeys("band");
        assertThat(levels.get("band")).containsExactly(0, 1, 2);
        MlpEncoder encoder = new MlpEncoder(ordinal, MlpScaling.fit(batch), levels);
        assertThat(encoder.width()).isEqualTo(1 + 3 + 1 + 1);
        Matrix m = encoder.encode(batch);
        // band: mean 1, standard deviation sqrt(1/2)
        float z = (float) Math.sqrt(2);
        assertThat(row(m, 0)).startsWith(-z, 1f, 0f, 0f);
        assertThat(row(m, 2)).startsWith(z, 0f, 0f, 1f);
        assertThat(row(m, 4)).startsWith(0f, 0f, 0f, 0f); // missing: the mean, no code
        FeatureBatch unseen = new FeatureBatch(ordinal, 1);
        unseen.setNumeric(0, 0, 7);
        assertThat(row(encoder.encode(unseen), 0)).startsWith(6 * z, 0f, 0f, 0f); // unseen code: no one-hot
        assertThat(encoder.levels().get("band")).containsExactly(0, 1, 2);
    }

    private static float[] row(Matrix m, int r) {
        return java.util.Arrays.copyOfRange(m.values(), r * m.cols(), (r + 1) * m.cols());
    }
}
