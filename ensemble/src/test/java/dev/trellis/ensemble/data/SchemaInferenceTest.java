package dev.trellis.ensemble.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.testing.TestBundles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SchemaInferenceTest {
    @TempDir
    Path dir;

    private Path csv(String content) throws Exception {
        Path file = dir.resolve("data.csv");
        Files.writeString(file, content);
        return file;
    }

    @Test
    void infer_churnDataset() throws Exception {
        Dataset churn = Dataset.load(TestBundles.churnCsv(), "churned", List.of("customer_id"), SchemaOverrides.none());
        FeatureSchema schema = churn.schema();
        assertThat(schema.size()).isEqualTo(19);
        assertThat(schema.indexOf("customer_id")).isEqualTo(-1);
        assertThat(schema.indexOf("churned")).isEqualTo(-1);
        assertThat(schema.feature("tenure").orElseThrow().type()).isEqualTo(FeatureType.NUMERIC);
        assertThat(schema.feature("total_charges").orElseThrow().type()).isEqualTo(FeatureType.NUMERIC);
        assertThat(schema.feature("contract").orElseThrow().vocabulary())
                .containsExactly("Month-to-month", "One year", "Two year");
        assertThat(churn.rows()).isEqualTo(5634);
        assertThat(churn.positives()).isEqualTo(1495);
        int totalCharges = schema.indexOf("total_charges");
        long missing = java.util.Arrays.stream(churn.features().numeric(totalCharges))
                .filter(Double::isNaN)
                .count();
        assertThat(missing).isEqualTo(10);
    }

    @Test
    void infer_mixedColumnAndQuotedCells() throws Exception {
        Path file = csv("id,a,b,c,y\n1,1.5,x,\"q, with comma\",1\n2,,y,\"multi\nline\",0\n3,2,7,z,true\n");
        Dataset data = Dataset.load(file, "y", List.of("id"), SchemaOverrides.none());
        FeatureSchema schema = data.schema();
        assertThat(schema.feature("a").orElseThrow().type()).isEqualTo(FeatureType.NUMERIC);
        assertThat(schema.feature("b").orElseThrow().vocabulary()).containsExactly("7", "x", "y");
        assertThat(schema.feature("c").orElseThrow().vocabulary()).containsExactly("multi\nline", "q, with comma", "z");
        assertThat(data.labels()).containsExactly(1, 0, 1);
        assertThat(data.features().numeric(0)[1]).isNaN();
    }

    @Test
    void infer_overrides() throws Exception {
        Path file = csv("a,b,c,y\n1,2,3,1\n4,5,6,0\n");
        Dataset data = Dataset.load(file, "y", List.of(), new SchemaOverrides(Set.of("a"), Set.of(), Set.of("c")));
        assertThat(data.schema().feature("a").orElseThrow().type()).isEqualTo(FeatureType.CATEGORICAL);
        assertThat(data.schema().feature("a").orElseThrow().vocabulary()).containsExactly("1", "4");
        assertThat(data.schema().feature("b").orElseThrow().type()).isEqualTo(FeatureType.NUMERIC);
        assertThat(data.schema().feature("c")).isEmpty();
    }

    @Test
    void load_missingTarget() throws Exception {
        Path file = csv("a,b\n1,2\n");
        assertThatThrownBy(() -> Dataset.load(file, "y", List.of(), SchemaOverrides.none()))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.MISSING_TARGET))
                .hasMessageContaining(file.toString())
                .hasMessageContaining("column 'y'");
    }

    @Test
    void load_nonBinaryTarget() throws Exception {
        Path file = csv("a,y\n1,0\n2,1\n3,2\n");
        assertThatThrownBy(() -> Dataset.load(file, "y", List.of(), SchemaOverrides.none()))
                .isInstanceOfSatisfying(DatasetException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.NON_BINARY_TARGET);
                    assertThat(e.line()).hasValue(4);
                })
                .hasMessageContaining(file.toString())
                .hasMessageContaining("line 4")
                .hasMessageContaining("column 'y'")
                .hasMessageContaining("'2'");
    }

    @Test
    void load_nonNumberInForcedNumericColumn() throws Exception {
        Path file = csv("a,b,y\n1,2,0\n2,abc,1\n");
        assertThatThrownBy(
                        () -> Dataset.load(file, "y", List.of(), new SchemaOverrides(Set.of(), Set.of("b"), Set.of())))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_A_NUMBER))
                .hasMessageContaining(file.toString())
                .hasMessageContaining("line 3")
                .hasMessageContaining("column 'b'")
                .hasMessageContaining("'abc'");
    }

    @Test
    void load_emptyFile() throws Exception {
        Path empty = csv("");
        assertThatThrownBy(() -> Dataset.load(empty, "y", List.of(), SchemaOverrides.none()))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.EMPTY_FILE))
                .hasMessageContaining(empty.toString())
                .hasMessageContaining("no header");
        Path headerOnly = csv("a,y\n");
        assertThatThrownBy(() -> Dataset.load(headerOnly, "y", List.of(), SchemaOverrides.none()))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.EMPTY_FILE))
                .hasMessageContaining("no data rows");
    }

    @Test
    void load_singleClassTarget() throws Exception {
        Path file = csv("a,y\n1,0\n2,false\n");
        assertThatThrownBy(() -> Dataset.load(file, "y", List.of(), SchemaOverrides.none()))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.SINGLE_CLASS_TARGET))
                .hasMessageContaining(file.toString())
                .hasMessageContaining("column 'y'")
                .hasMessageContaining("single class");
    }

    @Test
    void load_duplicateColumns() throws Exception {
        Path file = csv("a,b,a,y\n1,2,3,0\n");
        assertThatThrownBy(() -> Dataset.load(file, "y", List.of(), SchemaOverrides.none()))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.DUPLICATE_COLUMN))
                .hasMessageContaining(file.toString())
                .hasMessageContaining("line 1")
                .hasMessageContaining("column 'a'");
    }

    @Test
    void load_raggedRow() throws Exception {
        Path file = csv("a,b,y\n1,2,0\n1,1\n");
        assertThatThrownBy(() -> Dataset.load(file, "y", List.of(), SchemaOverrides.none()))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.MALFORMED_CSV))
                .hasMessageContaining("line 3");
    }

    @Test
    void load_againstSchema_missingFeatureColumn() throws Exception {
        Path train = csv("a,b,y\n1,x,0\n2,y,1\n");
        FeatureSchema schema =
                Dataset.load(train, "y", List.of(), SchemaOverrides.none()).schema();
        Path other = dir.resolve("other.csv");
        Files.writeString(other, "a,y\n1,0\n");
        assertThatThrownBy(() -> Dataset.load(other, schema))
                .isInstanceOfSatisfying(
                        DatasetException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.MISSING_COLUMN))
                .hasMessageContaining("column 'b'");
    }
}
