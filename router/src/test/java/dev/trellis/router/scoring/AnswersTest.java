package dev.trellis.router.scoring;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.trellis.api.v1.BaseScore;
import dev.trellis.api.v1.Explanation;
import dev.trellis.api.v1.FeatureContribution;
import dev.trellis.api.v1.Interval;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.Served;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The router's own ScoreResponse encoding against protobuf-java's: the same model-server answers
 * turned into messages field by field with the generated builders (the mapping the router had
 * before it wrote the wire form itself) must serialize to exactly the bytes {@link
 * Answers#encodeBatch} writes, for both tensor forms, proto3 defaults (+0.0 left out, -0.0 kept),
 * empty and non-ASCII strings, regression answers and rows without their explanation.
 */
class AnswersTest {
    private static final List<String> BASE = List.of("xgboost", "lightgbm", "mlp");
    private static final List<String> COLUMNS = List.of("tenure", "contract", "région", "mlp", "bias");

    /** Binary target, typed contents (FP32), labels as bytes_contents. */
    private static ModelInferResponse binaryContents() {
        return ModelInferResponse.newBuilder()
                .addOutputs(fp32("score", 0.25f, 0.0f, -0.0f))
                .addOutputs(ModelInferResponse.InferOutputTensor.newBuilder()
                        .setName("label")
                        .setDatatype("BYTES")
                        .setContents(InferTensorContents.newBuilder()
                                .addBytesContents(ByteString.copyFromUtf8("hot"))
                                .addBytesContents(ByteString.EMPTY)
                                .addBytesContents(ByteString.copyFromUtf8("tiède"))))
                .addOutputs(fp32("interval", 0.2f, 0.3f, 0f, 0f, -0.5f, 1e-30f))
                .addOutputs(fp32("agreement", 0.9f, 0f, 1f))
                .addOutputs(columns(fp32("base_scores", 0.1f, 0.2f, 0.3f, 0f, 0f, 0f, 0.7f, 0.8f, 0.9f), BASE))
                .addOutputs(columns(
                        fp32(
                                "contributions",
                                0.5f,
                                0.25f,
                                -0.125f,
                                0.0625f,
                                -1f, //
                                0f,
                                0f,
                                0f,
                                0f,
                                0f, //
                                -0.0f,
                                3f,
                                1e-7f,
                                0f,
                                2f),
                        COLUMNS))
                .build();
    }

    /** Regression target, everything in raw_output_contents, contributions as FP64, repeated labels. */
    private static ModelInferResponse regressionRaw() {
        ModelInferResponse.Builder response = ModelInferResponse.newBuilder()
                .putParameters(
                        "target_kind",
                        InferParameter.newBuilder().setStringParam("regression").build());
        response.addOutputs(tensor("score", "FP32")).addRawOutputContents(rawFloats(41.5f, 118f));
        response.addOutputs(tensor("label", "BYTES")).addRawOutputContents(rawStrings("A", "A"));
        response.addOutputs(tensor("interval", "FP32")).addRawOutputContents(rawFloats(30f, 52f, 100f, 130f));
        response.addOutputs(tensor("agreement", "FP32")).addRawOutputContents(rawFloats(0.5f, 0.25f));
        response.addOutputs(columns(tensor("base_scores", "FP32"), List.of("xgboost", "lightgbm")))
                .addRawOutputContents(rawFloats(40f, 43f, 117f, 119f));
        response.addOutputs(columns(tensor("contributions", "FP64"), List.of("age", "bias")))
                .addRawOutputContents(rawDoubles(1.5, 40, -2.25, 120.25));
        return response.build();
    }

    @Test
    void encodeAndEncodeBatch_areTheBytesProtobufWritesForTheSameMessages() {
        ModelInferResponse first = binaryContents();
        ModelInferResponse second = regressionRaw();
        ScoredColumns a = InferenceCodec.decode(first, 3);
        ScoredColumns b = InferenceCodec.decode(second, 2);
        List<ScoreRequest> requests = List.of(
                ScoreRequest.newBuilder().setRequestId("r-0").build(),
                ScoreRequest.newBuilder().build(),
                ScoreRequest.newBuilder().setRequestId("ünï-2").build(),
                ScoreRequest.newBuilder().setRequestId("r-3").build(),
                ScoreRequest.newBuilder().setRequestId("r-4").build());
        Served experiment = Served.newBuilder()
                .setModel("churn")
                .setVersion("2")
                .setExperiment("exp")
                .setVariant("treatment")
                .setReason(RoutingReason.EXPERIMENT)
                .setReplica("127.0.0.1:8081")
                .build();
        Served fallback = Served.newBuilder()
                .setModel("churn")
                .setVersion("1")
                .setReason(RoutingReason.FALLBACK)
                .build();
        Answers answers = new Answers(RequestRows.of("churn", requests, true));
        // request row -> (answer, position, served, explanation): answers interleave as an experiment's do
        answers.set(0, a, 2, experiment, experiment.toByteString(), true);
        answers.set(1, b, 1, fallback, fallback.toByteString(), true);
        answers.set(2, a, 0, experiment, experiment.toByteString(), false);
        answers.set(3, b, 0, fallback, fallback.toByteString(), false);
        answers.set(4, a, 1, Served.getDefaultInstance(), ByteString.EMPTY, true);

        List<ScoreResponse> expected = List.of(
                reference(first, 3, 2, experiment, "r-0", true),
                reference(second, 2, 1, fallback, "", true),
                reference(first, 3, 0, experiment, "ünï-2", false),
                reference(second, 2, 0, fallback, "r-3", false),
                reference(first, 3, 1, Served.getDefaultInstance(), "r-4", true));
        byte[] protobuf =
                ScoreBatchResponse.newBuilder().addAllResults(expected).build().toByteArray();

        assertThat(answers.encodeBatch().toByteArray()).isEqualTo(protobuf);
        for (int row = 0; row < expected.size(); row++) {
            // Score and ScoreStream send a row's encoding as it is
            assertThat(answers.encode(row).toByteArray())
                    .as("row %d", row)
                    .isEqualTo(expected.get(row).toByteArray());
        }
        assertThat(answers.responses()).isEqualTo(expected);
        // the cases the test is about are really in it
        assertThat(expected.get(0).getScore()).isEqualTo(-0.0);
        assertThat(expected.get(4).getExplanation().getContributionsList())
                .extracting(FeatureContribution::getValue)
                .containsOnly(0.0);
        assertThat(expected.get(1).getTargetKind()).isEqualTo(TargetKind.TARGET_KIND_REGRESSION);
        assertThat(expected.get(2).hasExplanation()).isFalse();
        assertThat(expected.get(1).getExplanation().getContributionsCount()).isEqualTo(1);
    }

    @Test
    void encodeBatch_noRows_isTheEmptyMessage() {
        Answers answers = new Answers(RequestRows.of("churn", List.of(), true));

        assertThat(answers.encodeBatch().toByteArray()).isEmpty();
        assertThat(answers.responses()).isEmpty();
    }

    /**
     * Row {@code row} of a model-server answer built with the generated builders, the way the router
     * mapped outputs to fields before it encoded them itself.
     */
    private static ScoreResponse reference(
            ModelInferResponse response, int rows, int row, Served served, String requestId, boolean explain) {
        boolean regression = response.getParametersMap().containsKey("target_kind");
        ScoreResponse.Builder r = ScoreResponse.newBuilder()
                .setScore(values(response, "score", rows)[row])
                .setTargetKind(regression ? TargetKind.TARGET_KIND_REGRESSION : TargetKind.TARGET_KIND_BINARY)
                .setLabel(labels(response, rows).get(row))
                .setAgreement(values(response, "agreement", rows)[row])
                .setServed(served)
                .setRequestId(requestId);
        float[] interval = values(response, "interval", rows);
        r.setInterval(Interval.newBuilder()
                .setLower(interval[2 * row])
                .setUpper(interval[2 * row + 1])
                .setLevel(0.95));
        List<String> baseNames = names(response, "base_scores");
        float[] base = values(response, "base_scores", rows);
        for (int j = 0; j < baseNames.size(); j++) {
            r.addBaseScores(
                    BaseScore.newBuilder().setModel(baseNames.get(j)).setScore(base[row * baseNames.size() + j]));
        }
        if (explain) {
            List<String> names = names(response, "contributions");
            float[] values = values(response, "contributions", rows);
            Explanation.Builder e = Explanation.newBuilder();
            double logit = 0;
            for (int j = 0; j < names.size(); j++) {
                double v = values[row * names.size() + j];
                logit += v;
                switch (names.get(j)) {
                    case "mlp" -> e.setMlpTerm(v);
                    case "bias" -> e.setBaseValue(v);
                    default ->
                        e.addContributions(FeatureContribution.newBuilder()
                                .setFeature(names.get(j))
                                .setValue(v));
                }
            }
            r.setExplanation(e.setLogit(logit));
        }
        return r.build();
    }

    private static int index(ModelInferResponse response, String name) {
        for (int i = 0; i < response.getOutputsCount(); i++) {
            if (response.getOutputs(i).getName().equals(name)) {
                return i;
            }
        }
        throw new AssertionError("no output " + name);
    }

    private static List<String> names(ModelInferResponse response, String output) {
        return List.of(response.getOutputs(index(response, output))
                .getParametersMap()
                .get("columns")
                .getStringParam()
                .split(","));
    }

    /** An output's values as the router carries them (FP32; FP64 narrowed). */
    private static float[] values(ModelInferResponse response, String name, int rows) {
        int i = index(response, name);
        ModelInferResponse.InferOutputTensor t = response.getOutputs(i);
        List<Float> out = new ArrayList<>();
        if (response.getRawOutputContentsCount() > i) {
            ByteBuffer raw =
                    response.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            while (raw.hasRemaining()) {
                out.add(t.getDatatype().equals("FP64") ? (float) raw.getDouble() : raw.getFloat());
            }
        } else {
            out.addAll(t.getContents().getFp32ContentsList());
        }
        float[] values = new float[out.size()];
        for (int j = 0; j < values.length; j++) {
            values[j] = out.get(j);
        }
        return values;
    }

    private static List<String> labels(ModelInferResponse response, int rows) {
        int i = index(response, "label");
        List<String> out = new ArrayList<>();
        if (response.getRawOutputContentsCount() > i) {
            ByteBuffer raw =
                    response.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            while (raw.hasRemaining()) {
                byte[] bytes = new byte[raw.getInt()];
                raw.get(bytes);
                out.add(new String(bytes, StandardCharsets.UTF_8));
            }
        } else {
            response.getOutputs(i).getContents().getBytesContentsList().forEach(b -> out.add(b.toStringUtf8()));
        }
        assertThat(out).hasSize(rows);
        return out;
    }

    private static ModelInferResponse.InferOutputTensor tensor(String name, String datatype) {
        return ModelInferResponse.InferOutputTensor.newBuilder()
                .setName(name)
                .setDatatype(datatype)
                .build();
    }

    private static ModelInferResponse.InferOutputTensor fp32(String name, float... values) {
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (float v : values) {
            contents.addFp32Contents(v);
        }
        return tensor(name, "FP32").toBuilder().setContents(contents).build();
    }

    private static ModelInferResponse.InferOutputTensor columns(
            ModelInferResponse.InferOutputTensor tensor, List<String> names) {
        return tensor.toBuilder()
                .putParameters(
                        "columns",
                        InferParameter.newBuilder()
                                .setStringParam(String.join(",", names))
                                .build())
                .build();
    }

    private static ByteString rawFloats(float... values) {
        ByteBuffer out = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            out.putFloat(v);
        }
        return ByteString.copyFrom(out.array());
    }

    private static ByteString rawDoubles(double... values) {
        ByteBuffer out = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            out.putDouble(v);
        }
        return ByteString.copyFrom(out.array());
    }

    private static ByteString rawStrings(String... values) {
        List<byte[]> encoded = new ArrayList<>();
        int size = 0;
        for (String v : values) {
            byte[] bytes = v.getBytes(StandardCharsets.UTF_8);
            encoded.add(bytes);
            size += 4 + bytes.length;
        }
        ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        for (byte[] bytes : encoded) {
            out.putInt(bytes.length).put(bytes);
        }
        return ByteString.copyFrom(out.array());
    }
}
