package dev.trellis.router.scoring;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.trellis.api.v1.Priority;
import dev.trellis.api.v1.TargetKind;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.upstream.FeatureSchema;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleUnaryOperator;
import java.util.function.IntFunction;
import java.util.function.IntToDoubleFunction;

/**
 * Converts between the public rows (either wire form, see {@link ScoreRows}) and the Open Inference
 * Protocol's columnar tensors, following the tabular convention: one input per feature, named
 * after it, shape [batch]; FP32 for numeric features with NaN for missing, BYTES (UTF-8) for
 * categorical ones with the empty string for missing (the model-server reads an empty or unknown
 * category as missing). Input values go in {@code raw_input_contents} (little-endian; BYTES as a
 * 4-byte length then the bytes). Every feature of the schema is sent, so absent features are missing.
 * Stateless and thread-safe.
 */
public final class InferenceCodec {
    static final ByteString MISSING_CATEGORY = ByteString.EMPTY;
    static final String TARGET_KIND_PARAMETER = "target_kind";
    static final String SCORE_RANGE_PARAMETER = "score_range";
    static final String REGRESSION = "regression";

    private InferenceCodec() {}

    /** Why a feature name is not in a version's schema, listing what is. */
    static String unknownFeature(FeatureSchema schema, String model, String version) {
        List<String> names =
                schema.features().stream().map(FeatureSchema.Feature::name).toList();
        return "unknown feature of model " + model + " version " + version + "; known features: "
                + (names.size() <= 30 ? String.join(", ", names) : String.join(", ", names.subList(0, 30)) + ", ...");
    }

    /**
     * One ModelInfer request for some validated rows, all served by one version. Values travel in
     * {@code raw_input_contents}, one little-endian block per tensor: one write per value and a
     * single copy to serialize, where typed contents grow a list per tensor and encode and parse
     * value by value (the largest part of the router's ScoreBatch work when measured).
     */
    static ModelInferRequest encode(
            String model,
            String version,
            FeatureSchema schema,
            ScoreRows rows,
            List<Integer> indexes,
            boolean explain,
            long priority) {
        int n = indexes.size();
        ModelInferRequest.Builder request =
                ModelInferRequest.newBuilder().setModelName(model).setModelVersion(version);
        if (explain) {
            request.putParameters(
                    "explain", InferParameter.newBuilder().setBoolParam(true).build());
        }
        if (priority != 0) {
            request.putParameters(
                    "priority",
                    InferParameter.newBuilder().setInt64Param(priority).build());
        }
        for (FeatureSchema.Feature feature : schema.features()) {
            byte[] raw;
            if (feature.categorical()) {
                IntFunction<ByteString> values = rows.categories(feature);
                ByteString[] categories = new ByteString[n];
                int size = 4 * n;
                for (int j = 0; j < n; j++) {
                    categories[j] = values.apply(indexes.get(j));
                    size += categories[j].size();
                }
                raw = new byte[size];
                ByteBuffer out = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
                for (ByteString category : categories) {
                    out.putInt(category.size());
                    category.copyTo(raw, out.position());
                    out.position(out.position() + category.size());
                }
            } else {
                IntToDoubleFunction values = rows.numbers(feature);
                raw = new byte[4 * n];
                ByteBuffer out = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
                for (int j = 0; j < n; j++) {
                    out.putFloat((float) values.applyAsDouble(indexes.get(j)));
                }
            }
            request.addInputs(ModelInferRequest.InferInputTensor.newBuilder()
                    .setName(feature.name())
                    .setDatatype(feature.datatype())
                    .addShape(n));
            request.addRawInputContents(UnsafeByteOperations.unsafeWrap(raw)); // raw is never written after this
        }
        return request.build();
    }

    /**
     * The Open Inference Protocol {@code priority} parameter (Triton's: 1 = high, 2 = low) of a
     * public priority, with the call's default for an unspecified one.
     */
    static long upstreamPriority(Priority priority, Priority callDefault) {
        Priority effective = priority == Priority.PRIORITY_UNSPECIFIED ? callDefault : priority;
        return effective == Priority.LOW ? 2 : 1;
    }

    /** The scores of a ModelInfer response for {@code rows} rows, column by column. */
    public static ScoredColumns decode(ModelInferResponse response, int rows) {
        Outputs outputs = new Outputs(response);
        float[] score = outputs.floats("score", rows, 1, true);
        ByteString[] labels = outputs.strings("label", rows);
        float[] interval = outputs.floats("interval", rows, 2, false);
        float[] agreement = outputs.floats("agreement", rows, 1, false);
        ModelInferResponse.InferOutputTensor baseTensor = outputs.tensor("base_scores");
        List<String> baseNames = baseTensor == null ? List.of() : columns(baseTensor);
        float[] base = baseNames.isEmpty() ? null : outputs.floats("base_scores", rows, baseNames.size(), true);
        ModelInferResponse.InferOutputTensor contributionTensor = outputs.tensor("contributions");
        List<String> contributionNames = contributionTensor == null ? List.of() : columns(contributionTensor);
        float[] contributions = contributionNames.isEmpty()
                ? null
                : outputs.floats("contributions", rows, contributionNames.size(), true);
        return new ScoredColumns(
                rows,
                targetKind(response),
                score,
                labels,
                interval,
                agreement,
                baseNames,
                base,
                contributionNames,
                contributions);
    }

    /** What the response's scores are: a continuous target's model says so in its parameters. */
    static TargetKind targetKind(ModelInferResponse response) {
        InferParameter kind = response.getParametersMap().get(TARGET_KIND_PARAMETER);
        return kind != null && REGRESSION.equals(kind.getStringParam())
                ? TargetKind.TARGET_KIND_REGRESSION
                : TargetKind.TARGET_KIND_BINARY;
    }

    /**
     * Maps a response's scores to [0, 1] for the rollout's drift histogram (10 equal bins): a
     * probability as it is, a predicted value by its place in the training target's range, which the
     * model-server sends as "score_range" ("min,max"). Two versions trained on the same target
     * column share the range closely, so PSI compares their predicted values bin for bin.
     */
    public static DoubleUnaryOperator histogramPosition(ModelInferResponse response) {
        if (targetKind(response) != TargetKind.TARGET_KIND_REGRESSION) {
            return DoubleUnaryOperator.identity();
        }
        InferParameter range = response.getParametersMap().get(SCORE_RANGE_PARAMETER);
        String[] bounds = range == null ? new String[0] : range.getStringParam().split(",");
        double min;
        double max;
        try {
            min = bounds.length == 2 ? Double.parseDouble(bounds[0]) : Double.NaN;
            max = bounds.length == 2 ? Double.parseDouble(bounds[1]) : Double.NaN;
        } catch (NumberFormatException e) {
            throw new RouterException(
                    RouterErrorCode.UPSTREAM_FAILURE, "malformed model-server response: score_range " + range);
        }
        if (!(max > min)) {
            throw new RouterException(
                    RouterErrorCode.UPSTREAM_FAILURE,
                    "malformed model-server response: a regression model needs score_range min,max with max > min");
        }
        return value -> Math.max(0, Math.min(1, (value - min) / (max - min)));
    }

    private static List<String> columns(ModelInferResponse.InferOutputTensor tensor) {
        InferParameter p = tensor.getParametersMap().get("columns");
        if (p == null || p.getStringParam().isEmpty()) {
            return List.of();
        }
        return List.of(p.getStringParam().split(","));
    }

    /** Output tensors by name, from contents or raw bytes. */
    private static final class Outputs {
        private final ModelInferResponse response;

        Outputs(ModelInferResponse response) {
            this.response = response;
        }

        ModelInferResponse.InferOutputTensor tensor(String name) {
            for (ModelInferResponse.InferOutputTensor t : response.getOutputsList()) {
                if (t.getName().equals(name)) {
                    return t;
                }
            }
            return null;
        }

        private int index(String name) {
            for (int i = 0; i < response.getOutputsCount(); i++) {
                if (response.getOutputs(i).getName().equals(name)) {
                    return i;
                }
            }
            return -1;
        }

        float[] floats(String name, int rows, int width, boolean required) {
            int i = index(name);
            if (i < 0) {
                if (required) {
                    throw malformed("output " + name + " is missing");
                }
                return null;
            }
            ModelInferResponse.InferOutputTensor t = response.getOutputs(i);
            int expected = rows * width;
            float[] out = new float[expected];
            if (response.getRawOutputContentsCount() > i) {
                ByteBuffer raw =
                        response.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                boolean fp64 = "FP64".equals(t.getDatatype());
                if (raw.remaining() != expected * (fp64 ? 8 : 4)) {
                    throw malformed(
                            "output " + name + " has " + raw.remaining() + " raw bytes for " + expected + " values");
                }
                for (int j = 0; j < expected; j++) {
                    out[j] = fp64 ? (float) raw.getDouble() : raw.getFloat();
                }
                return out;
            }
            InferTensorContents c = t.getContents();
            if (c.getFp32ContentsCount() == expected) {
                for (int j = 0; j < expected; j++) {
                    out[j] = c.getFp32Contents(j);
                }
                return out;
            }
            if (c.getFp64ContentsCount() == expected) {
                for (int j = 0; j < expected; j++) {
                    out[j] = (float) c.getFp64Contents(j);
                }
                return out;
            }
            throw malformed("output " + name + " does not hold " + expected + " values");
        }

        /**
         * A BYTES output as one value per row; equal values share one instance (labels are a
         * handful of distinct strings), or null when the output is absent.
         */
        ByteString[] strings(String name, int rows) {
            int i = index(name);
            if (i < 0) {
                return null;
            }
            if (response.getRawOutputContentsCount() <= i) {
                List<ByteString> values = response.getOutputs(i).getContents().getBytesContentsList();
                if (values.size() != rows) {
                    throw malformed("output " + name + " has " + values.size() + " values for " + rows + " rows");
                }
                return values.toArray(new ByteString[0]);
            }
            ByteString[] out = new ByteString[rows];
            int count = 0;
            ByteBuffer raw =
                    response.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            List<ByteString> distinct = new ArrayList<>();
            while (raw.remaining() >= 4 && count < rows) {
                int len = raw.getInt();
                if (len < 0 || len > raw.remaining()) {
                    throw malformed("output " + name + " has a value longer than its raw bytes");
                }
                out[count++] = shared(distinct, raw, len);
            }
            if (count != rows) {
                throw malformed("output " + name + " has " + count + " values for " + rows + " rows");
            }
            return out;
        }

        /**
         * The next {@code len} bytes of {@code raw} as one of the distinct values seen so far (at most
         * 16 kept), or as a new one.
         */
        private static ByteString shared(List<ByteString> distinct, ByteBuffer raw, int len) {
            int from = raw.position();
            for (ByteString known : distinct) {
                if (known.size() == len && sameBytes(known, raw, from)) {
                    raw.position(from + len);
                    return known;
                }
            }
            byte[] bytes = new byte[len];
            raw.get(bytes);
            ByteString value = UnsafeByteOperations.unsafeWrap(bytes); // bytes is never written after this
            if (distinct.size() < 16) {
                distinct.add(value);
            }
            return value;
        }

        private static boolean sameBytes(ByteString known, ByteBuffer raw, int from) {
            for (int k = 0; k < known.size(); k++) {
                if (known.byteAt(k) != raw.get(from + k)) {
                    return false;
                }
            }
            return true;
        }

        private static RouterException malformed(String what) {
            return new RouterException(RouterErrorCode.UPSTREAM_FAILURE, "malformed model-server response: " + what);
        }
    }
}
