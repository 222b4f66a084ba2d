package dev.trellis.router.scoring;

import com.google.protobuf.ByteString;
import com.google.protobuf.NullValue;
import com.google.protobuf.Value;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.upstream.FeatureSchema;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InferenceCodecTest
{
    private static final FeatureSchema SCHEMA = FeatureSchema.of(List.of(
            new FeatureSchema.Feature("tenure", false, 0),
            new FeatureSchema.Feature("contract", true, 1)));

    @Test
    void encode_missingValues_becomeNaNAndEmptyCategory()
    {
        ModelInferRequest request = InferenceCodec.encode("churn", "2", SCHEMA, List.of(
                Map.of("tenure", number(12), "contract", string("One year")),
                Map.of("tenure", Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build())), true);

        assertThat(request.getModelName()).isEqualTo("churn");
        assertThat(request.getModelVersion()).isEqualTo("2");
        assertThat(request.getParametersMap().get("explain").getBoolParam()).isTrue();
        ModelInferRequest.InferInputTensor tenure = request.getInputs(0);
        assertThat(tenure.getName()).isEqualTo("tenure");
        assertThat(tenure.getDatatype()).isEqualTo("FP32");
        assertThat(tenure.getShapeList()).containsExactly(2L);
        assertThat(tenure.getContents().getFp32ContentsList()).containsExactly(12f, Float.NaN);
        ModelInferRequest.InferInputTensor contract = request.getInputs(1);
        assertThat(contract.getDatatype()).isEqualTo("BYTES");
        assertThat(contract.getContents().getBytesContentsList()).containsExactly(ByteString.copyFromUtf8("One year"), ByteString.EMPTY);
    }

    @Test
    void validate_wrongTypesAndUnknownNames_areFieldViolations()
    {
        assertThatThrownBy(() -> InferenceCodec.validate(SCHEMA, List.of(
                Map.of("tenure", string("long"), "contract", number(1), "colour", string("red"))), List.of("rows[3]."), "churn", "2"))
                .isInstanceOfSatisfying(RouterException.class, e -> {
                    assertThat(e.code()).isEqualTo(RouterErrorCode.INVALID_REQUEST);
                    assertThat(e.violations()).extracting(RouterException.Violation::field)
                            .containsExactlyInAnyOrder("rows[3].features.tenure", "rows[3].features.contract", "rows[3].features.colour");
                    assertThat(e.violations()).filteredOn(v -> v.field().endsWith("tenure"))
                            .extracting(RouterException.Violation::description).containsExactly("expected a number, got string");
                });
    }

    @Test
    void decode_outputs_becomeResponsesPerRow()
    {
        ModelInferResponse response = ModelInferResponse.newBuilder()
                .addOutputs(fp32("score", 0.25f, 0.75f))
                .addOutputs(ModelInferResponse.InferOutputTensor.newBuilder().setName("label").setDatatype("BYTES")
                        .setContents(InferTensorContents.newBuilder().addBytesContents(ByteString.copyFromUtf8("cold")).addBytesContents(ByteString.copyFromUtf8("hot"))))
                .addOutputs(fp32("interval", 0.2f, 0.3f, 0.7f, 0.8f))
                .addOutputs(fp32("agreement", 0.9f, 0.8f))
                .addOutputs(fp32("base_scores", 0.1f, 0.2f, 0.7f, 0.8f).toBuilder()
                        .putParameters("columns", InferParameter.newBuilder().setStringParam("xgboost,lightgbm").build()))
                .addOutputs(fp32("contributions", 0.5f, 0.25f, 0.125f, -1f, 1f, 2f, 3f, 4f).toBuilder()
                        .putParameters("columns", InferParameter.newBuilder().setStringParam("tenure,contract,mlp,bias").build()))
                .build();

        List<ScoreResponse.Builder> rows = InferenceCodec.decode(response, 2);

        ScoreResponse first = rows.get(0).build();
        assertThat(first.getScore()).isEqualTo(0.25);
        assertThat(first.getLabel()).isEqualTo("cold");
        assertThat(first.getInterval().getLower()).isEqualTo(0.2f);
        assertThat(first.getInterval().getUpper()).isEqualTo(0.3f);
        assertThat(first.getAgreement()).isEqualTo(0.9f);
        assertThat(first.getBaseScoresList()).extracting(b -> b.getModel() + "=" + b.getScore()).containsExactly("xgboost=0.10000000149011612", "lightgbm=0.20000000298023224");
        assertThat(first.getExplanation().getContributionsList()).extracting(c -> c.getFeature()).containsExactly("tenure", "contract");
        assertThat(first.getExplanation().getMlpTerm()).isEqualTo(0.125);
        assertThat(first.getExplanation().getBaseValue()).isEqualTo(-1);
        assertThat(first.getExplanation().getLogit()).isEqualTo(0.5 + 0.25 + 0.125 - 1);
        assertThat(rows.get(1).build().getLabel()).isEqualTo("hot");
    }

    @Test
    void decode_missingScore_isUpstreamFailure()
    {
        assertThatThrownBy(() -> InferenceCodec.decode(ModelInferResponse.getDefaultInstance(), 1))
                .isInstanceOfSatisfying(RouterException.class, e -> assertThat(e.code()).isEqualTo(RouterErrorCode.UPSTREAM_FAILURE));
    }

    private static ModelInferResponse.InferOutputTensor fp32(String name, float... values)
    {
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (float v : values) {
            contents.addFp32Contents(v);
        }
        return ModelInferResponse.InferOutputTensor.newBuilder().setName(name).setDatatype("FP32").setContents(contents).build();
    }

    private static Value number(double v)
    {
        return Value.newBuilder().setNumberValue(v).build();
    }

    private static Value string(String v)
    {
        return Value.newBuilder().setStringValue(v).build();
    }
}
