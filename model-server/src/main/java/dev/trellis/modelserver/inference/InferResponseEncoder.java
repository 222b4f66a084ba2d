package dev.trellis.modelserver.inference;

import com.google.protobuf.ByteString;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.ensemble.api.TargetRange;
import dev.trellis.modelserver.batching.ScoredRows;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelInferResponse.InferOutputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Writes one caller's slice of a batch's predictions as output tensors, in typed contents (FP32
 * and BYTES), each tagged with MLServer's {@code content_type} ({@code str} for label, {@code np}
 * for the others). Scores are computed in double and rounded to FP32 on the wire. A request that
 * sent {@code raw_input_contents} gets its outputs in {@code raw_output_contents} instead (as Triton
 * and MLServer answer it): tritonclient's {@code as_numpy} reads numeric outputs only from there.
 * Stateless and thread-safe.
 */
final class InferResponseEncoder {
    private InferResponseEncoder() {}

    static ModelInferResponse encode(
            String model,
            int version,
            String id,
            Ensemble ensemble,
            ScoredRows scored,
            Set<String> outputs,
            boolean raw) {
        FeatureSchema schema = ensemble.schema();
        Predictions predictions = scored.predictions();
        int from = scored.offset();
        int rows = scored.rows();
        ModelInferResponse.Builder response = ModelInferResponse.newBuilder()
                .setModelName(model)
                .setModelVersion(String.valueOf(version))
                .setId(id);
        if (ensemble.targetKind() == TargetKind.REGRESSION) {
            // binary responses stay as they were: absent parameters mean probabilities in [0, 1]
            TargetRange range = ensemble.targetRange();
            response.putParameters(
                    Outputs.TARGET_KIND_PARAMETER, string(ensemble.targetKind().wireName()));
            response.putParameters(
                    Outputs.SCORE_RANGE_PARAMETER, string(Double.toString(range.min()) + "," + range.max()));
        }
        if (outputs.contains(Outputs.SCORE)) {
            response.addOutputs(
                    fp32(Outputs.SCORE, predictions.score(), from, rows).addShape(rows));
        }
        if (outputs.contains(Outputs.LABEL)) {
            InferTensorContents.Builder labels = InferTensorContents.newBuilder();
            for (int row = from; row < from + rows; row++) {
                labels.addBytesContents(ByteString.copyFromUtf8(predictions.label()[row]));
            }
            response.addOutputs(InferOutputTensor.newBuilder()
                    .setName(Outputs.LABEL)
                    .setDatatype("BYTES")
                    .addShape(rows)
                    .setContents(labels)
                    .putParameters(Outputs.CONTENT_TYPE_PARAMETER, string(Outputs.STRING_CONTENT)));
        }
        if (outputs.contains(Outputs.INTERVAL)) {
            InferTensorContents.Builder interval = InferTensorContents.newBuilder();
            for (int row = from; row < from + rows; row++) {
                interval.addFp32Contents((float) predictions.lower()[row]);
                interval.addFp32Contents((float) predictions.upper()[row]);
            }
            response.addOutputs(InferOutputTensor.newBuilder()
                    .setName(Outputs.INTERVAL)
                    .setDatatype("FP32")
                    .addShape(rows)
                    .addShape(2)
                    .setContents(interval)
                    .putParameters(Outputs.COLUMNS_PARAMETER, string("lower,upper")));
        }
        if (outputs.contains(Outputs.AGREEMENT)) {
            response.addOutputs(
                    fp32(Outputs.AGREEMENT, predictions.agreement(), from, rows).addShape(rows));
        }
        if (outputs.contains(Outputs.BASE_SCORES)) {
            int k = predictions.baseModels().size();
            InferTensorContents.Builder base = InferTensorContents.newBuilder();
            for (int row = from; row < from + rows; row++) {
                for (int column = 0; column < k; column++) {
                    base.addFp32Contents((float) predictions.baseScores()[row][column]);
                }
            }
            response.addOutputs(InferOutputTensor.newBuilder()
                    .setName(Outputs.BASE_SCORES)
                    .setDatatype("FP32")
                    .addShape(rows)
                    .addShape(k)
                    .setContents(base)
                    .putParameters(Outputs.COLUMNS_PARAMETER, string(String.join(",", predictions.baseModels()))));
        }
        if (outputs.contains(Outputs.CONTRIBUTIONS)
                && predictions.explanations().isPresent()) {
            Predictions.Explanations explanations = predictions.explanations().get();
            int features = schema.size();
            InferTensorContents.Builder contributions = InferTensorContents.newBuilder();
            for (int row = from; row < from + rows; row++) {
                for (int feature = 0; feature < features; feature++) {
                    contributions.addFp32Contents((float) explanations.contributions()[row][feature]);
                }
                contributions.addFp32Contents((float) explanations.mlpTerm()[row]);
                contributions.addFp32Contents((float) explanations.baseValue()[row]);
            }
            response.addOutputs(InferOutputTensor.newBuilder()
                    .setName(Outputs.CONTRIBUTIONS)
                    .setDatatype("FP32")
                    .addShape(rows)
                    .addShape(features + 2)
                    .setContents(contributions)
                    .putParameters(Outputs.COLUMNS_PARAMETER, string(String.join(",", contributionColumns(schema)))));
        }
        // MLServer's codecs decode each output by its content_type: label as strings, the rest as arrays
        for (InferOutputTensor.Builder output : response.getOutputsBuilderList()) {
            if (!output.containsParameters(Outputs.CONTENT_TYPE_PARAMETER)) {
                output.putParameters(Outputs.CONTENT_TYPE_PARAMETER, string(Outputs.NUMPY_CONTENT));
            }
        }
        if (raw) {
            toRaw(response);
        }
        return response.build();
    }

    /**
     * Moves every output's typed contents to {@code raw_output_contents}, in output order (the
     * protocol allows one or the other for a whole response): FP32 as little-endian floats, BYTES as
     * a 4-byte little-endian length before each element.
     */
    private static void toRaw(ModelInferResponse.Builder response) {
        for (InferOutputTensor.Builder output : response.getOutputsBuilderList()) {
            InferTensorContents contents = output.getContents();
            ByteBuffer bytes;
            if (output.getDatatype().equals("BYTES")) {
                int size = 0;
                for (ByteString element : contents.getBytesContentsList()) {
                    size += 4 + element.size();
                }
                bytes = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
                for (ByteString element : contents.getBytesContentsList()) {
                    bytes.putInt(element.size());
                    element.copyTo(bytes);
                }
            } else if (output.getDatatype().equals("FP32")) {
                bytes = ByteBuffer.allocate(4 * contents.getFp32ContentsCount()).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < contents.getFp32ContentsCount(); i++) {
                    bytes.putFloat(contents.getFp32Contents(i));
                }
            } else {
                throw new IllegalStateException("no raw encoding for output datatype " + output.getDatatype());
            }
            bytes.flip();
            response.addRawOutputContents(ByteString.copyFrom(bytes));
            output.clearContents();
        }
    }

    static List<String> contributionColumns(FeatureSchema schema) {
        List<String> columns = new ArrayList<>();
        schema.features().stream().map(Feature::name).forEach(columns::add);
        columns.add(Outputs.MLP_COLUMN);
        columns.add(Outputs.BIAS_COLUMN);
        return columns;
    }

    private static InferOutputTensor.Builder fp32(String name, double[] values, int from, int rows) {
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (int row = from; row < from + rows; row++) {
            contents.addFp32Contents((float) values[row]);
        }
        return InferOutputTensor.newBuilder().setName(name).setDatatype("FP32").setContents(contents);
    }

    private static InferParameter string(String value) {
        return InferParameter.newBuilder().setStringParam(value).build();
    }
}
