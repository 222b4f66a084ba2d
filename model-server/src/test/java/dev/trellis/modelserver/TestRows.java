package dev.trellis.modelserver;

import com.google.protobuf.ByteString;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferRequest.InferInputTensor;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelInferResponse.InferOutputTensor;
import java.util.Random;

/** Rows for tests, and their wire form (FP32 / BYTES columns, DESIGN §3). */
public final class TestRows {
    private TestRows() {}

    /** Random rows; numeric values are multiples of 1/4 (exact in FP32), about 10% missing. */
    public static FeatureBatch random(FeatureSchema schema, int rows, long seed) {
        Random random = new Random(seed);
        FeatureBatch batch = new FeatureBatch(schema, rows);
        for (int row = 0; row < rows; row++) {
            for (int i = 0; i < schema.size(); i++) {
                if (random.nextInt(10) == 0) {
                    continue;
                }
                Feature feature = schema.features().get(i);
                if (feature.type() == FeatureType.NUMERIC) {
                    batch.setNumeric(row, i, random.nextInt(400) / 4.0);
                } else if (!feature.vocabulary().isEmpty()) {
                    batch.setCategorical(
                            row,
                            i,
                            feature.vocabulary()
                                    .get(random.nextInt(feature.vocabulary().size())));
                }
            }
        }
        return batch;
    }

    public static ModelInferRequest request(String model, String version, FeatureBatch batch, boolean explain) {
        ModelInferRequest.Builder request =
                ModelInferRequest.newBuilder().setModelName(model).setModelVersion(version);
        FeatureSchema schema = batch.schema();
        for (int i = 0; i < schema.size(); i++) {
            request.addInputs(tensor(batch, i));
        }
        if (explain) {
            request.putParameters(
                    "explain", InferParameter.newBuilder().setBoolParam(true).build());
        }
        return request.build();
    }

    public static InferInputTensor tensor(FeatureBatch batch, int feature) {
        Feature spec = batch.schema().features().get(feature);
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (int row = 0; row < batch.rows(); row++) {
            if (spec.type() == FeatureType.NUMERIC) {
                contents.addFp32Contents((float) batch.numeric(feature)[row]);
            } else {
                String value = batch.categorical(feature)[row];
                contents.addBytesContents(ByteString.copyFromUtf8(value == null ? "" : value));
            }
        }
        return InferInputTensor.newBuilder()
                .setName(spec.name())
                .setDatatype(spec.type().wireDatatype())
                .addShape(batch.rows())
                .setContents(contents)
                .build();
    }

    public static InferOutputTensor output(ModelInferResponse response, String name) {
        return response.getOutputsList().stream()
                .filter(output -> output.getName().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no output " + name + " in "
                        + response.getOutputsList().stream()
                                .map(InferOutputTensor::getName)
                                .toList()));
    }
}
