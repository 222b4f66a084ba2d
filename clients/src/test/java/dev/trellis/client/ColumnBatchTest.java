package dev.trellis.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.v1.AttributeColumn;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.StringValues;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The builder's own encoding against protobuf-java's, byte for byte. */
class ColumnBatchTest {
    @Test
    void encoding_isProtobufJavas_forAwkwardValues() throws Exception {
        List<String> ids = List.of("lead-1", "", "ünïcødé 🎯", "a\"b,c", "\uD800 unpaired");
        double[] numbers = {0.0, -0.0, Double.NaN, Double.MIN_VALUE, -Double.MAX_VALUE};
        String[] strings = {"Family with grown ups", "", null, "émoji 🎯", "\uDC00"};
        String[] plans = {"pro", null, "", "free", "pro"};

        ColumnBatch batch = ColumnBatch.builder(ids)
                .attribute("plan", plans)
                .numbers("PPERSAUT", numbers)
                .strings("MOSHOOFD", strings)
                .numbers("", numbers)
                .attribute("", plans)
                .build();

        FeatureColumns expected = FeatureColumns.newBuilder()
                .addAllUnitIds(ids)
                .addFeatures(numberColumn("PPERSAUT", numbers))
                .addFeatures(stringColumn("MOSHOOFD", strings))
                .addFeatures(numberColumn("", numbers))
                .addAttributes(attributeColumn("plan", plans))
                .addAttributes(attributeColumn("", plans))
                .build();
        assertThat(batch.wire()).isEqualTo(expected.toByteArray());
        // an unpaired surrogate goes out as '?' either way, so compare with what protobuf-java reads back
        assertThat(batch.asProto()).isEqualTo(FeatureColumns.parseFrom(expected.toByteArray()));
    }

    @Test
    void encoding_isProtobufJavas_forEmptyAndLargeBatches() {
        assertThat(ColumnBatch.builder(List.of())
                        .numbers("x", new double[0])
                        .strings("y", new String[0])
                        .build()
                        .wire())
                .isEqualTo(FeatureColumns.newBuilder()
                        .addFeatures(numberColumn("x", new double[0]))
                        .addFeatures(stringColumn("y", new String[0]))
                        .build()
                        .toByteArray());

        // lengths past one and two varint bytes
        Random random = new Random(7);
        int rows = 20_000;
        List<String> ids = IntStream.range(0, rows).mapToObj(i -> "id-" + i).toList();
        ColumnBatch.Builder builder = ColumnBatch.builder(ids);
        FeatureColumns.Builder expected = FeatureColumns.newBuilder().addAllUnitIds(ids);
        for (int k = 0; k < 3; k++) {
            double[] values = random.doubles(rows)
                    .map(v -> v < 0.1 ? Double.NaN : v * 1e6)
                    .toArray();
            String[] texts = random.ints(rows, 0, 500).mapToObj("x"::repeat).toArray(String[]::new);
            builder.numbers("n" + k, values).strings("s" + k, texts);
            expected.addFeatures(numberColumn("n" + k, values)).addFeatures(stringColumn("s" + k, texts));
        }
        assertThat(builder.build().wire()).isEqualTo(expected.build().toByteArray());
    }

    @Test
    void request_isTheScoreBatchRequestItStandsFor() throws Exception {
        ColumnBatch batch = ColumnBatch.builder(List.of("a", "b"))
                .numbers("tenure", new double[] {1, Double.NaN})
                .build();

        for (String version : Arrays.asList(null, "", "7")) {
            ScoreBatchRequest.Builder expected =
                    ScoreBatchRequest.newBuilder().setModel("churn").setColumns(batch.asProto());
            if (version != null) {
                expected.setVersion(version);
            }
            byte[] bytes = new ColumnsRequest("churn", batch, version).toByteArray();
            assertThat(bytes)
                    .as("version %s", version)
                    .isEqualTo(expected.build().toByteArray());
            assertThat(ScoreBatchRequest.parseFrom(ColumnsRequest.METHOD
                            .streamRequest(new ColumnsRequest("churn", batch, version))
                            .readAllBytes()))
                    .isEqualTo(expected.build());
        }
    }

    private static FeatureColumn numberColumn(String name, double[] values) {
        NumberValues.Builder numbers = NumberValues.newBuilder();
        for (double v : values) {
            numbers.addValues(v);
        }
        return FeatureColumn.newBuilder().setName(name).setNumbers(numbers).build();
    }

    private static FeatureColumn stringColumn(String name, String[] values) {
        return FeatureColumn.newBuilder()
                .setName(name)
                .setStrings(StringValues.newBuilder().addAllValues(orEmpty(values)))
                .build();
    }

    private static AttributeColumn attributeColumn(String name, String[] values) {
        return AttributeColumn.newBuilder()
                .setName(name)
                .addAllValues(orEmpty(values))
                .build();
    }

    private static List<String> orEmpty(String[] values) {
        List<String> list = new ArrayList<>();
        for (String v : values) {
            list.add(v == null ? "" : v);
        }
        return list;
    }
}
