package dev.trellis.modelserver.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.trellis.modelserver.FakeEnsemble;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferRequest.InferInputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class InferRequestDecoderTest {
    private static InferInputTensor.Builder tensor(String name, String datatype, long... shape) {
        InferInputTensor.Builder tensor =
                InferInputTensor.newBuilder().setName(name).setDatatype(datatype);
        for (long dimension : shape) {
            tensor.addShape(dimension);
        }
        return tensor;
    }

    private static DecodedRequest decode(ModelInferRequest.Builder request) {
        return InferRequestDecoder.decode(request.setModelName("churn").build(), FakeEnsemble.SCHEMA, 100, 10);
    }

    @Test
    void decode_acceptsEveryNumericDatatypeAndShapeWithTrailingOne() {
        DecodedRequest decoded = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("tenure", "INT64", 2, 1)
                        .setContents(InferTensorContents.newBuilder()
                                .addInt64Contents(3)
                                .addInt64Contents(-4)))
                .addInputs(tensor("monthly_charges", "FP64", 2)
                        .setContents(InferTensorContents.newBuilder()
                                .addFp64Contents(1.25)
                                .addFp64Contents(Double.NaN)))
                .addInputs(tensor("plan", "BYTES", 2)
                        .setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFromUtf8("premium"))
                                .addBytesContents(ByteString.EMPTY))));

        assertThat(decoded.rows().rows()).isEqualTo(2);
        assertThat(decoded.rows().numeric(0)).containsExactly(3, -4);
        assertThat(decoded.rows().numeric(1)[0]).isEqualTo(1.25);
        assertThat(decoded.rows().numeric(1)[1]).isNaN();
        assertThat(decoded.rows().categorical(2)).containsExactly("premium", null);
        assertThat(decoded.explain()).isFalse();
        assertThat(decoded.outputs())
                .containsExactlyInAnyOrder("score", "label", "interval", "agreement", "base_scores");
    }

    @Test
    void decode_rawContentsLittleEndian() {
        ByteBuffer ints =
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(7).putInt(9);
        byte[] basic = "basic".getBytes(StandardCharsets.UTF_8);
        ByteBuffer strings = ByteBuffer.allocate(4 + basic.length + 4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(basic.length)
                .put(basic)
                .putInt(0);
        DecodedRequest decoded = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("tenure", "INT32", 2))
                .addInputs(tensor("plan", "BYTES", 2))
                .addRawInputContents(ByteString.copyFrom(ints.array()))
                .addRawInputContents(ByteString.copyFrom(strings.array())));

        assertThat(decoded.rows().numeric(0)).containsExactly(7, 9);
        assertThat(decoded.rows().numeric(1)[0]).isNaN();
        assertThat(decoded.rows().categorical(2)).containsExactly("basic", null);
    }

    @Test
    void decode_rawBytesWithBadLengthIsRefused() {
        ByteBuffer strings = ByteBuffer.allocate(6)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(100)
                .putShort((short) 1);
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("plan", "BYTES", 1))
                        .addRawInputContents(ByteString.copyFrom(strings.array()))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_TENSOR_CONTENTS))
                .hasMessageContaining("'plan'")
                .hasMessageContaining("declares 100 bytes");
    }

    @Test
    void decode_countNotMatchingShapeIsRefused() {
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("tenure", "FP32", 3)
                                .setContents(InferTensorContents.newBuilder().addFp32Contents(1)))))
                .isInstanceOfSatisfying(ModelServerException.class, e -> {
                    assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_TENSOR_CONTENTS);
                    assertThat(e.violations())
                            .singleElement()
                            .satisfies(v -> assertThat(v.field()).isEqualTo("inputs[0].contents.fp32_contents"));
                })
                .hasMessageContaining("has 1 values")
                .hasMessageContaining("needs 3");
    }

    @Test
    void decode_duplicateTensorAndBadParameters() {
        InferInputTensor.Builder tenure = tensor("tenure", "FP32", 1)
                .setContents(InferTensorContents.newBuilder().addFp32Contents(1));
        assertThatThrownBy(() ->
                        decode(ModelInferRequest.newBuilder().addInputs(tenure).addInputs(tenure)))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.DUPLICATE_TENSOR));
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tenure)
                        .putParameters(
                                "explain",
                                dev.trellis.proto.inference.InferParameter.newBuilder()
                                        .setInt64Param(1)
                                        .build())))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_PARAMETER));
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tenure)
                        .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                                .setName("probability"))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.UNKNOWN_OUTPUT))
                .hasMessageContaining("unknown output 'probability'");
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.EMPTY_REQUEST))
                .hasMessageContaining("tenure, monthly_charges, plan");
    }

    @Test
    void decode_requestingContributionsTurnsExplainOn() {
        DecodedRequest decoded = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("tenure", "FP32", 1)
                        .setContents(InferTensorContents.newBuilder().addFp32Contents(1)))
                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                        .setName("contributions"))
                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                        .setName("score")));

        assertThat(decoded.explain()).isTrue();
        assertThat(decoded.outputs()).containsExactlyInAnyOrder("contributions", "score");
    }

    @Test
    void decode_rawAndTypedContentsTogether_isRefused() {
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("tenure", "FP32", 1))
                        .addInputs(tensor("plan", "BYTES", 1)
                                .setContents(InferTensorContents.newBuilder()
                                        .addBytesContents(ByteString.copyFromUtf8("basic"))))
                        .addRawInputContents(ByteString.copyFrom(new byte[4]))
                        .addRawInputContents(ByteString.copyFrom(new byte[] {5, 0, 0, 0, 'b', 'a', 's', 'i', 'c'}))))
                .isInstanceOfSatisfying(ModelServerException.class, e -> {
                    assertThat(e.errorCode().statusCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
                    assertThat(e.violations())
                            .singleElement()
                            .satisfies(v -> assertThat(v.field()).isEqualTo("inputs[1].contents"));
                })
                .hasMessageContaining("'plan'")
                .hasMessageContaining("raw_input_contents");
    }

    @Test
    void decode_infinity_isRefusedInTypedAndRawContents_nanIsMissing() {
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("tenure", "FP32", 2)
                                .setContents(InferTensorContents.newBuilder()
                                        .addFp32Contents(Float.NaN)
                                        .addFp32Contents(Float.POSITIVE_INFINITY)))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.violations())
                                .singleElement()
                                .satisfies(v -> assertThat(v.field()).isEqualTo("inputs[0].contents.fp32_contents")))
                .hasMessageContaining("Infinity in row 1")
                .hasMessageContaining("NaN for missing");
        ByteBuffer raw = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(Double.NEGATIVE_INFINITY);
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("plan", "BYTES", 1))
                        .addInputs(tensor("monthly_charges", "FP64", 1))
                        .addRawInputContents(ByteString.copyFrom(new byte[] {0, 0, 0, 0}))
                        .addRawInputContents(ByteString.copyFrom(raw.array()))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.violations())
                                .singleElement()
                                .satisfies(v -> assertThat(v.field()).isEqualTo("raw_input_contents[1]")));
    }

    @Test
    void decode_priorityAndTimeoutParameters() {
        InferInputTensor.Builder tenure = tensor("tenure", "FP32", 1)
                .setContents(InferTensorContents.newBuilder().addFp32Contents(1));
        DecodedRequest low = decode(ModelInferRequest.newBuilder()
                .addInputs(tenure)
                .putParameters("priority", int64(2))
                .putParameters("timeout", int64(1500)));
        DecodedRequest plain = decode(ModelInferRequest.newBuilder().addInputs(tenure));

        assertThat(low.priority()).isEqualTo(dev.trellis.modelserver.batching.Priority.LOW);
        assertThat(low.timeout()).isEqualTo(java.time.Duration.ofNanos(1_500_000));
        assertThat(plain.priority()).isEqualTo(dev.trellis.modelserver.batching.Priority.DEFAULT);
        assertThat(plain.timeout()).isZero();
        assertThatThrownBy(() ->
                        decode(ModelInferRequest.newBuilder().addInputs(tenure).putParameters("priority", int64(7))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.violations())
                                .singleElement()
                                .satisfies(v -> assertThat(v.field()).isEqualTo("parameters[priority]")));
        assertThatThrownBy(() ->
                        decode(ModelInferRequest.newBuilder().addInputs(tenure).putParameters("timeout", int64(-1))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.violations())
                                .singleElement()
                                .satisfies(v -> assertThat(v.field()).isEqualTo("parameters[timeout]")));
    }

    @Test
    void decode_explainAboveTheRowLimit_isInvalidArgument() {
        InferTensorContents.Builder values = InferTensorContents.newBuilder();
        for (int i = 0; i < 11; i++) {
            values.addFp32Contents(i);
        }
        ModelInferRequest.Builder request = ModelInferRequest.newBuilder()
                .addInputs(tensor("tenure", "FP32", 11).setContents(values))
                .putParameters(
                        "explain",
                        dev.trellis.proto.inference.InferParameter.newBuilder()
                                .setBoolParam(true)
                                .build());

        assertThatThrownBy(() -> decode(request))
                .isInstanceOfSatisfying(ModelServerException.class, e -> {
                    assertThat(e.errorCode()).isEqualTo(ErrorCode.EXPLAIN_TOO_LARGE);
                    assertThat(e.errorCode().statusCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
                    assertThat(e.violations())
                            .singleElement()
                            .satisfies(v -> assertThat(v.field()).isEqualTo("parameters[explain]"));
                })
                .hasMessageContaining("limit is 10 rows");
        assertThat(decode(request.removeParameters("explain")).rows().rows()).isEqualTo(11);
    }

    @Test
    void decode_matrixLayout_schemaOrderWithVocabularyCodes() {
        // rows: (3, 20.5, premium), (NaN, 1, missing by -1), (0, 2, missing by NaN)
        DecodedRequest decoded = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("input__0", "FP32", 3, 3)
                        .setContents(InferTensorContents.newBuilder()
                                .addAllFp32Contents(
                                        java.util.List.of(3f, 20.5f, 1f, Float.NaN, 1f, -1f, 0f, 2f, Float.NaN)))));

        assertThat(decoded.rows().rows()).isEqualTo(3);
        assertThat(decoded.rows().numeric(0)[0]).isEqualTo(3);
        assertThat(decoded.rows().numeric(0)[1]).isNaN();
        assertThat(decoded.rows().numeric(1)).containsExactly(20.5, 1, 2);
        assertThat(decoded.rows().categorical(2)).containsExactly("premium", null, null);

        DecodedRequest fp64 = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("features", "FP64", 1, 3))
                .addRawInputContents(ByteString.copyFrom(ByteBuffer.allocate(24)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putDouble(7)
                        .putDouble(8.25)
                        .putDouble(0)
                        .array())));
        assertThat(fp64.rows().numeric(0)).containsExactly(7);
        assertThat(fp64.rows().numeric(1)).containsExactly(8.25);
        assertThat(fp64.rows().categorical(2)).containsExactly("basic");
    }

    @Test
    void decode_matrixLayout_wrongWidthOrCode_isRefusedNamingTheField() {
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("input__0", "FP32", 1, 2)
                                .setContents(InferTensorContents.newBuilder()
                                        .addFp32Contents(1)
                                        .addFp32Contents(2)))))
                .isInstanceOfSatisfying(ModelServerException.class, e -> {
                    assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_TENSOR_SHAPE);
                    assertThat(e.violations())
                            .singleElement()
                            .satisfies(v -> assertThat(v.field()).isEqualTo("inputs[0].shape"));
                })
                .hasMessageContaining("expected [batch, 3]")
                .hasMessageContaining("tenure, monthly_charges, plan");
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("input__0", "FP32", 1, 3)
                                .setContents(InferTensorContents.newBuilder()
                                        .addFp32Contents(1)
                                        .addFp32Contents(2)
                                        .addFp32Contents(2)))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.violations())
                                .singleElement()
                                .satisfies(v -> assertThat(v.field()).isEqualTo("inputs[0].contents.fp32_contents")))
                .hasMessageContaining("categorical feature 'plan' takes a vocabulary code 0..1");
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder().addInputs(tensor("input__0", "BYTES", 1, 3))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_TENSOR_DATATYPE));
    }

    @Test
    void decode_everyIntegerAndBoolDatatype_typedAndRaw() {
        DecodedRequest decoded = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("tenure", "UINT64", 2)
                        .setContents(InferTensorContents.newBuilder()
                                .addUint64Contents(5)
                                .addUint64Contents(-1L))) // 2^64 - 1, unsigned
                .addInputs(tensor("monthly_charges", "BOOL", 2)
                        .setContents(InferTensorContents.newBuilder()
                                .addBoolContents(true)
                                .addBoolContents(false))));
        assertThat(decoded.rows().numeric(0)).containsExactly(5, 18446744073709551615.0);
        assertThat(decoded.rows().numeric(1)).containsExactly(1, 0);

        DecodedRequest raw = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("tenure", "INT8", 2))
                .addInputs(tensor("monthly_charges", "UINT16", 2))
                .addRawInputContents(ByteString.copyFrom(new byte[] {-3, 4}))
                .addRawInputContents(ByteString.copyFrom(new byte[] {(byte) 0xff, (byte) 0xff, 2, 0})));
        assertThat(raw.rows().numeric(0)).containsExactly(-3, 4);
        assertThat(raw.rows().numeric(1)).containsExactly(65535, 2);

        DecodedRequest small = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("tenure", "INT16", 1)
                        .setContents(InferTensorContents.newBuilder().addIntContents(-7)))
                .addInputs(tensor("monthly_charges", "UINT32", 1)
                        .setContents(InferTensorContents.newBuilder().addUintContents(-1)))); // 2^32 - 1
        assertThat(small.rows().numeric(0)).containsExactly(-7);
        assertThat(small.rows().numeric(1)).containsExactly(4294967295.0);
    }

    @Test
    void decode_pandasCodec_contentTypesAndPdJsonWithNulls() {
        DecodedRequest decoded = decode(ModelInferRequest.newBuilder()
                .putParameters("content_type", string("pd"))
                .addInputs(tensor("tenure", "FP64", 3)
                        .putParameters("content_type", string("np"))
                        .setContents(InferTensorContents.newBuilder()
                                .addFp64Contents(1)
                                .addFp64Contents(2)
                                .addFp64Contents(3)))
                .addInputs(tensor("monthly_charges", "BYTES", 3)
                        .putParameters("content_type", string("pd_json"))
                        .setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFromUtf8("20.5"))
                                .addBytesContents(ByteString.copyFromUtf8("null"))
                                .addBytesContents(ByteString.copyFromUtf8("7"))))
                .addInputs(tensor("plan", "BYTES", 3)
                        .putParameters("content_type", string("pd_json"))
                        .setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFromUtf8("\"premium\""))
                                .addBytesContents(ByteString.copyFromUtf8("null"))
                                .addBytesContents(ByteString.copyFromUtf8("\"basic\"")))));
        assertThat(decoded.rows().numeric(0)).containsExactly(1, 2, 3);
        assertThat(decoded.rows().numeric(1)[0]).isEqualTo(20.5);
        assertThat(decoded.rows().numeric(1)[1]).isNaN();
        assertThat(decoded.rows().categorical(2)).containsExactly("premium", null, "basic");

        DecodedRequest str = decode(ModelInferRequest.newBuilder()
                .addInputs(tensor("plan", "BYTES", 1)
                        .putParameters("content_type", string("str"))
                        .setContents(
                                InferTensorContents.newBuilder().addBytesContents(ByteString.copyFromUtf8("basic")))));
        assertThat(str.rows().categorical(2)).containsExactly("basic");

        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("plan", "BYTES", 1)
                                .putParameters("content_type", string("datetime"))
                                .setContents(InferTensorContents.newBuilder()
                                        .addBytesContents(ByteString.copyFromUtf8("x"))))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.violations())
                                .singleElement()
                                .satisfies(v -> assertThat(v.field()).isEqualTo("inputs[0].parameters[content_type]")));
        assertThatThrownBy(() -> decode(ModelInferRequest.newBuilder()
                        .addInputs(tensor("tenure", "BYTES", 1)
                                .putParameters("content_type", string("pd_json"))
                                .setContents(InferTensorContents.newBuilder()
                                        .addBytesContents(ByteString.copyFromUtf8("{not json"))))))
                .isInstanceOfSatisfying(
                        ModelServerException.class,
                        e -> assertThat(e.violations())
                                .singleElement()
                                .satisfies(v -> assertThat(v.field()).isEqualTo("inputs[0].contents.bytes_contents")))
                .hasMessageContaining("not JSON");
    }

    @Test
    void decode_tritonclientParameters_uint64PriorityAndTimeout() {
        InferInputTensor.Builder tenure = tensor("tenure", "FP32", 1)
                .setContents(InferTensorContents.newBuilder().addFp32Contents(1));
        DecodedRequest decoded = decode(ModelInferRequest.newBuilder()
                .addInputs(tenure)
                .putParameters(
                        "priority",
                        dev.trellis.proto.inference.InferParameter.newBuilder()
                                .setUint64Param(2)
                                .build())
                .putParameters(
                        "timeout",
                        dev.trellis.proto.inference.InferParameter.newBuilder()
                                .setUint64Param(2000)
                                .build())
                .putParameters(
                        "custom",
                        dev.trellis.proto.inference.InferParameter.newBuilder()
                                .setDoubleParam(0.5)
                                .build()));
        assertThat(decoded.priority()).isEqualTo(dev.trellis.modelserver.batching.Priority.LOW);
        assertThat(decoded.timeout()).isEqualTo(java.time.Duration.ofMillis(2));
    }

    private static dev.trellis.proto.inference.InferParameter string(String value) {
        return dev.trellis.proto.inference.InferParameter.newBuilder()
                .setStringParam(value)
                .build();
    }

    private static dev.trellis.proto.inference.InferParameter int64(long value) {
        return dev.trellis.proto.inference.InferParameter.newBuilder()
                .setInt64Param(value)
                .build();
    }
}
