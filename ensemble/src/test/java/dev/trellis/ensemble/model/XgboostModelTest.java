package dev.trellis.ensemble.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ensemble.data.Matrix;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import ml.dmlc.xgboost4j.java.Booster;
import ml.dmlc.xgboost4j.java.DMatrix;
import ml.dmlc.xgboost4j.java.XGBoost;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class XgboostModelTest {
    private static final int ROWS = 400;
    private static final int FEATURES = 3;

    @TempDir
    Path dir;

    @Test
    void load_featureCountMismatch_namesBothCounts() throws Exception {
        byte[] bytes;
        try (XgboostModel model = XgboostModel.train(data(), labels(), params())) {
            Path file = dir.resolve("model.ubj");
            model.save(file);
            bytes = Files.readAllBytes(file);
        }
        // the count is read before the booster is freed, so the message is the intended one
        assertThatThrownBy(() -> XgboostModel.load(bytes, FEATURES + 1))
                .isInstanceOf(ModelException.class)
                .hasMessage("XGBoost model has 3 features, schema has 4");
        try (XgboostModel model = XgboostModel.load(bytes, FEATURES)) {
            assertThat(model.hasJavaPath()).isTrue();
        }
    }

    @Test
    void load_modelTheWalkerCannotRead_disabledWithOneLogLine() throws Exception {
        byte[] bytes = rawBooster("binary:logitraw");
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        XgboostModel model;
        double[] small;
        double[] large;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            model = XgboostModel.load(bytes, FEATURES);
            small = model.margins(data().selectRows(new int[] {0, 1, 2}));
            large = model.nativeMargins(data().selectRows(new int[] {0, 1, 2}));
        } finally {
            System.setErr(original);
        }
        try (model) {
            assertThat(model.hasJavaPath()).isFalse();
            assertThat(small).containsExactly(large);
            assertThat(captured.toString(StandardCharsets.UTF_8)
                            .lines()
                            .filter(line -> line.contains("no Java tree walker")))
                    .singleElement()
                    .asString()
                    .contains("unsupported objective binary:logitraw");
        }
    }

    private static byte[] rawBooster(String objective) throws Exception {
        Matrix x = data();
        DMatrix train = new DMatrix(x.values(), x.rows(), x.cols(), Float.NaN);
        try {
            train.setLabel(labels());
            Map<String, Object> config = new HashMap<>();
            config.put("objective", objective);
            config.put("max_depth", 2);
            config.put("nthread", 1);
            config.put("seed", 1);
            config.put("verbosity", 0);
            Booster booster = XGBoost.train(train, config, 5, new HashMap<>(), null, null);
            try {
                return booster.toByteArray("ubj");
            } finally {
                booster.dispose();
            }
        } finally {
            train.dispose();
        }
    }

    private static XgboostModel.Params params() {
        return new XgboostModel.Params(10, 2, 0.3, 1.0, 1.0, 1.0, 1.0, 1, 1);
    }

    private static Matrix data() {
        Random random = new Random(3);
        float[] values = new float[ROWS * FEATURES];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return new Matrix(values, ROWS, FEATURES);
    }

    private static float[] labels() {
        Matrix x = data();
        float[] labels = new float[ROWS];
        for (int r = 0; r < ROWS; r++) {
            labels[r] = x.values()[r * FEATURES] + 0.5f * x.values()[r * FEATURES + 1] > 0 ? 1 : 0;
        }
        return labels;
    }
}
