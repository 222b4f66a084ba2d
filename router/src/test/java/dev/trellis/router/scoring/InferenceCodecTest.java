package dev.trellis.router.scoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.NullValue;
import com.google.protobuf.Value;
import dev.trellis.api.v1.AttributeColumn;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.NumberValues;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.StringValues;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.upstream.FeatureSchema;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InferenceCodecTest {
    private static final FeatureSchema SCHEMA = FeatureSchema.of(
            List.of(new FeatureSchema.Feature("tenure", false, 0), new FeatureSchema.Feature("contract", true, 1)));

    @Test
    void encode_missingValues_becomeNaNAndEmptyCategory() {
        RequestRows rows = RequestRows.of(
                "churn",
                List.of(
                        ScoreRequest.newBuilder()
                                .putFeatures("tenure", number(12))
                                .putFeatures("contract", string("One year"))
                                .build(),
                        ScoreRequest.newBuilder()
                                .putFeatures(
                                        "tenure",
                                        Value.newBuilder()
                                                .setNullValue(NullValue.NULL_VALUE)
                                                .build())
                                .build()),
                true);

        ModelInferRequest request = InferenceCodec.encode("churn", "2", SCHEMA, rows, List.of(0, 1), true, 0);

        assertThat(request.getModelName()).isEqualTo("churn");
        assertThat(request.getModelVersion()).isEqualTo("2");
        assertThat(request.getParametersMap().get("explain").getBoolParam()).isTrue();
        ModelInferRequest.InferInputTensor tenure = request.getInputs(0);
        assertThat(tenure.getName()).isEqualTo("tenure");
        assertThat(tenure.getDatatype()).isEqualTo("FP32");
        assertThat(tenure.getShapeList()).containsExactly(2L);
        assertThat(floats(request, 0)).containsExactly(12f, Float.NaN);
        ModelInferRequest.InferInputTensor contract = request.getInputs(1);
        assertThat(contract.getDatatype()).isEqualTo("BYTES");
        assertThat(strings(request, 1)).containsExactly("One year", "");
    }

    @Test
    void encode_columnsSlice_sameTensorsAsRowsInSliceOrder() {
        FeatureColumns columns = FeatureColumns.newBuilder()
                .addAllUnitIds(List.of("a", "b", "c"))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("tenure")
                        .setNumbers(NumberValues.newBuilder()
                                .addValues(1)
                                .addValues(Double.NaN)
                                .addValues(3)))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("contract")
                        .setStrings(StringValues.newBuilder()
                                .addValues("One year")
                                .addValues("")
                                .addValues("Two year")))
                .build();
        RequestRows rows = RequestRows.of(
                "churn",
                List.of(
                        ScoreRequest.newBuilder()
                                .putFeatures("tenure", number(3))
                                .putFeatures("contract", string("Two year"))
                                .build(),
                        ScoreRequest.newBuilder()
                                .putFeatures(
                                        "tenure",
                                        Value.newBuilder()
                                                .setNullValue(NullValue.NULL_VALUE)
                                                .build())
                                .build()),
                true);

        ModelInferRequest fromColumns =
                InferenceCodec.encode("churn", "2", SCHEMA, ColumnRows.of(columns), List.of(2, 1), false, 0);

        assertThat(fromColumns).isEqualTo(InferenceCodec.encode("churn", "2", SCHEMA, rows, List.of(0, 1), false, 0));
        assertThat(floats(fromColumns, 0)).containsExactly(3f, Float.NaN);
    }

    @Test
    void encode_columnAbsent_isMissingInEveryRow() {
        FeatureColumns columns =
                FeatureColumns.newBuilder().addAllUnitIds(List.of("a", "b")).build();

        ModelInferRequest request =
                InferenceCodec.encode("churn", "2", SCHEMA, ColumnRows.of(columns), List.of(0, 1), false, 0);

        assertThat(floats(request, 0)).containsExactly(Float.NaN, Float.NaN);
        assertThat(strings(request, 1)).containsExactly("", "");
    }

    @Test
    void validate_wrongTypesAndUnknownNames_areFieldViolations() {
        RequestRows rows = RequestRows.of(
                "churn",
                List.of(
                        ScoreRequest.getDefaultInstance(),
                        ScoreRequest.getDefaultInstance(),
                        ScoreRequest.getDefaultInstance(),
                        ScoreRequest.newBuilder()
                                .putFeatures("tenure", string("long"))
                                .putFeatures("contract", number(1))
                                .putFeatures("colour", string("red"))
                                .build()),
                true);
        List<RouterException.Violation> violations = new ArrayList<>();

        rows.validate(SCHEMA, List.of(0, 1, 2, 3), "churn", "2", violations);

        assertThat(violations)
                .extracting(RouterException.Violation::field)
                .containsExactlyInAnyOrder(
                        "rows[3].features.tenure", "rows[3].features.contract", "rows[3].features.colour");
        assertThat(violations)
                .filteredOn(v -> v.field().endsWith("tenure"))
                .extracting(RouterException.Violation::description)
                .containsExactly("expected a number, got string");
    }

    @Test
    void validate_columnsOfWrongTypeOrUnknownName_areViolationsNamingTheColumn() {
        ColumnRows rows = ColumnRows.of(FeatureColumns.newBuilder()
                .addAllUnitIds(List.of("a"))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("tenure")
                        .setStrings(StringValues.newBuilder().addValues("long")))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("contract")
                        .setNumbers(NumberValues.newBuilder().addValues(1)))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("colour")
                        .setStrings(StringValues.newBuilder().addValues("red")))
                .build());
        List<RouterException.Violation> violations = new ArrayList<>();

        rows.validate(SCHEMA, List.of(0), "churn", "2", violations);
        rows.validate(SCHEMA, List.of(0), "churn", "1", violations); // the same schema for another version adds nothing

        assertThat(violations)
                .extracting(RouterException.Violation::field)
                .containsExactly("columns.features[0]", "columns.features[1]", "columns.features[2]");
        assertThat(violations.get(0).description()).startsWith("tenure is a numeric feature");
        assertThat(violations.get(1).description()).startsWith("contract is a categorical feature");
        assertThat(violations.get(2).description()).startsWith("colour: unknown feature of model churn version 2");
    }

    @Test
    void columns_badShape_isInvalidRequestNamingEachColumn() {
        FeatureColumns columns = FeatureColumns.newBuilder()
                .addAllUnitIds(List.of("a", "b"))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("tenure")
                        .setNumbers(NumberValues.newBuilder().addValues(1)))
                .addFeatures(FeatureColumn.newBuilder().setName("contract"))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("tenure")
                        .setNumbers(NumberValues.newBuilder().addValues(1).addValues(2)))
                .addFeatures(FeatureColumn.newBuilder()
                        .setName("charges")
                        .setNumbers(NumberValues.newBuilder().addValues(1).addValues(Double.POSITIVE_INFINITY)))
                .addAttributes(AttributeColumn.newBuilder().setName("plan").addValues("pro"))
                .build();

        assertThatThrownBy(() -> ColumnRows.of(columns)).isInstanceOfSatisfying(RouterException.class, e -> {
            assertThat(e.code()).isEqualTo(RouterErrorCode.INVALID_REQUEST);
            assertThat(e.getMessage())
                    .startsWith("invalid columns: columns.features[0]: feature tenure: 1 values for 2 rows")
                    .endsWith("(and 4 more)");
            assertThat(e.violations())
                    .extracting(RouterException.Violation::field)
                    .containsExactly(
                            "columns.features[0]",
                            "columns.features[1]",
                            "columns.features[2]",
                            "columns.features[3]",
                            "columns.attributes[0]");
            assertThat(e.violations().get(2).description())
                    .isEqualTo("feature tenure is already given by columns.features[0]");
            assertThat(e.violations().get(3).description()).contains("numbers.values[1] is Infinity");
        });
    }

    @Test
    void columns_attributes_emptyValueIsAbsent() {
        ColumnRows rows = ColumnRows.of(FeatureColumns.newBuilder()
                .addAllUnitIds(List.of("a", ""))
                .addAttributes(AttributeColumn.newBuilder()
                        .setName("plan")
                        .addValues("pro")
                        .addValues(""))
                .build());

        assertThat(rows.size()).isEqualTo(2);
        assertThat(rows.attributes(0)).containsExactly(Map.entry("plan", "pro"));
        assertThat(rows.attributes(1)).isEmpty();
        assertThat(rows.unitId(1)).isEmpty();
    }

    @Test
    void decode_outputs_becomeResponsesPerRow() {
        ModelInferResponse response = ModelInferResponse.newBuilder()
                .addOutputs(fp32("score", 0.25f, 0.75f))
                .addOutputs(ModelInferResponse.InferOutputTensor.newBuilder()
                        .setName("label")
                        .setDatatype("BYTES")
                        .setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFromUtf8("cold"))
                                .addBytesContents(ByteString.copyFromUtf8("hot"))))
                .addOutputs(fp32("interval", 0.2f, 0.3f, 0.7f, 0.8f))
                .addOutputs(fp32("agreement", 0.9f, 0.8f))
                .addOutputs(fp32("base_scores", 0.1f, 0.2f, 0.7f, 0.8f).toBuilder()
                        .putParameters(
                                "columns",
                                InferParameter.newBuilder()
                                        .setStringParam("xgboost,lightgbm")
                                        .build()))
                .addOutputs(fp32("contributions", 0.5f, 0.25f, 0.125f, -1f, 1f, 2f, 3f, 4f).toBuilder()
                        .putParameters(
                                "columns",
                                InferParameter.newBuilder()
                                        .setStringParam("tenure,contract,mlp,bias")
                                        .build()))
                .build();

        ScoredColumns rows = InferenceCodec.decode(response, 2);

        ScoreResponse first = rows.response(0, true, ByteString.EMPTY, "");
        assertThat(first.getScore()).isEqualTo(0.25);
        assertThat(first.getLabel()).isEqualTo("cold");
        assertThat(first.getInterval().getLower()).isEqualTo(0.2f);
        assertThat(first.getInterval().getUpper()).isEqualTo(0.3f);
        assertThat(first.getAgreement()).isEqualTo(0.9f);
        assertThat(first.getBaseScoresList())
                .extracting(b -> b.getModel() + "=" + b.getScore())
                .containsExactly("xgboost=0.10000000149011612", "lightgbm=0.20000000298023224");
        assertThat(first.getExplanation().getContributionsList())
                .extracting(c -> c.getFeature())
                .containsExactly("tenure", "contract");
        assertThat(first.getExplanation().getMlpTerm()).isEqualTo(0.125);
        assertThat(first.getExplanation().getBaseValue()).isEqualTo(-1);
        assertThat(first.getExplanation().getLogit()).isEqualTo(0.5 + 0.25 + 0.125 - 1);
        assertThat(rows.response(1, true, ByteString.EMPTY, "").getLabel()).isEqualTo("hot");
        assertThat(rows.response(1, false, ByteString.EMPTY, "").hasExplanation())
                .isFalse();
    }

    @Test
    void decode_missingScore_isUpstreamFailure() {
        assertThatThrownBy(() -> InferenceCodec.decode(ModelInferResponse.getDefaultInstance(), 1))
                .isInstanceOfSatisfying(
                        RouterException.class, e -> assertThat(e.code()).isEqualTo(RouterErrorCode.UPSTREAM_FAILURE));
    }

    private static ModelInferResponse.InferOutputTensor fp32(String name, float... values) {
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (float v : values) {
            contents.addFp32Contents(v);
        }
        return ModelInferResponse.InferOutputTensor.newBuilder()
                .setName(name)
                .setDatatype("FP32")
                .setContents(contents)
                .build();
    }

    /** Input {@code i}'s FP32 values from raw_input_contents (little-endian). */
    private static List<Float> floats(ModelInferRequest request, int i) {
        ByteBuffer raw = request.getRawInputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        List<Float> values = new ArrayList<>();
        while (raw.hasRemaining()) {
            values.add(raw.getFloat());
        }
        return values;
    }

    /** Input {@code i}'s BYTES values from raw_input_contents (4-byte little-endian length, then the bytes). */
    private static List<String> strings(ModelInferRequest request, int i) {
        ByteBuffer raw = request.getRawInputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        List<String> values = new ArrayList<>();
        while (raw.hasRemaining()) {
            byte[] bytes = new byte[raw.getInt()];
            raw.get(bytes);
            values.add(new String(bytes, StandardCharsets.UTF_8));
        }
        return values;
    }

    private static Value number(double v) {
        return Value.newBuilder().setNumberValue(v).build();
    }

    private static Value string(String v) {
        return Value.newBuilder().setStringValue(v).build();
    }

    @Test
    void decode_regressionResponse_targetKindAndHistogramPositionOverTheTrainingRange() {
        ModelInferResponse.Builder response = ModelInferResponse.newBuilder()
                .addOutputs(ModelInferResponse.InferOutputTensor.newBuilder()
                        .setName("score")
                        .setDatatype("FP32")
                        .addShape(3)
                        .setContents(InferTensorContents.newBuilder()
                                .addFp32Contents(18)
                                .addFp32Contents(68)
                                .addFp32Contents(130)));
        ModelInferResponse binary = response.build();
        assertThat(InferenceCodec.decode(binary, 3).targetKind())
                .isEqualTo(dev.trellis.api.v1.TargetKind.TARGET_KIND_BINARY);
        assertThat(InferenceCodec.histogramPosition(binary).applyAsDouble(0.3)).isEqualTo(0.3);

        ModelInferResponse regression = response.putParameters(
                        "target_kind",
                        InferParameter.newBuilder().setStringParam("regression").build())
                .putParameters(
                        "score_range",
                        InferParameter.newBuilder().setStringParam("18.0,118.0").build())
                .build();
        assertThat(InferenceCodec.decode(regression, 3)
                        .response(2, false, ByteString.EMPTY, "")
                        .getTargetKind())
                .isEqualTo(dev.trellis.api.v1.TargetKind.TARGET_KIND_REGRESSION);
        var position = InferenceCodec.histogramPosition(regression);
        assertThat(position.applyAsDouble(18)).isEqualTo(0.0);
        assertThat(position.applyAsDouble(68)).isEqualTo(0.5);
        assertThat(position.applyAsDouble(130)).isEqualTo(1.0); // beyond the training range: the last bin
        assertThat(position.applyAsDouble(-5)).isEqualTo(0.0);

        ModelInferResponse noRange =
                regression.toBuilder().removeParameters("score_range").build();
        assertThatThrownBy(() -> InferenceCodec.histogramPosition(noRange))
                .isInstanceOfSatisfying(
                        RouterException.class, e -> assertThat(e.code()).isEqualTo(RouterErrorCode.UPSTREAM_FAILURE))
                .hasMessageContaining("score_range");
    }
}
