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

    private static float[] row(Matrix m, int r) {
        return java.util.Arrays.copyOfRange(m.values(), r * m.cols(), (r + 1) * m.cols());
    }
}
