package dev.trellis.router.scoring;

import com.google.protobuf.ByteString;
import com.google.protobuf.Value;
import dev.trellis.api.v1.BaseScore;
import dev.trellis.api.v1.Explanation;
import dev.trellis.api.v1.FeatureContribution;
import dev.trellis.api.v1.Interval;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.RouterException.Violation;
import dev.trellis.router.upstream.FeatureSchema;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Converts between the public rows ({@code map<string, Value>} features) and the Open Inference
 * Protocol's columnar tensors, following the tabular convention: one input per feature, named
 * after it, shape [batch]; FP32 for numeric features with NaN for missing, BYTES (UTF-8) for
 * categorical ones with the empty string for missing (the model-server reads an empty or unknown
 * category as missing). Every feature of the schema is sent, so absent features are missing.
 * Stateless and thread-safe.
 */
public final class InferenceCodec
{
    private static final ByteString MISSING_CATEGORY = ByteString.EMPTY;

    private InferenceCodec() {}

    /**
     * Checks rows against a schema: unknown feature names and values of the wrong type are
     * collected as field violations ({@code fieldPrefix + "features." + name}).
     */
    public static void validate(FeatureSchema schema, List<Map<String, Value>> rows, List<String> fieldPrefixes, String model, String version)
    {
        List<Violation> violations = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            for (Map.Entry<String, Value> entry : rows.get(r).entrySet()) {
                FeatureSchema.Feature feature = schema.byName().get(entry.getKey());
                if (feature == null) {
                    violations.add(new Violation(fieldPrefixes.get(r) + "features." + entry.getKey(), "unknown feature of model " + model
                            + " version " + version + "; known features: " + knownNames(schema)));
                    continue;
                }
                String problem = typeProblem(feature, entry.getValue());
                if (problem != null) {
                    violations.add(new Violation(fieldPrefixes.get(r) + "features." + entry.getKey(), problem));
                }
            }
            if (violations.size() > 100) {
                break;
            }
        }
        if (!violations.isEmpty()) {
            Violation first = violations.get(0);
            throw new RouterException(RouterErrorCode.INVALID_REQUEST,
                    "invalid features: " + first.field() + ": " + first.description()
                            + (violations.size() > 1 ? " (and " + (violations.size() - 1) + " more)" : ""),
                    violations);
        }
    }

    private static String typeProblem(FeatureSchema.Feature feature, Value value)
    {
        switch (value.getKindCase()) {
            case NULL_VALUE:
            case KIND_NOT_SET:
                return null;
            case NUMBER_VALUE:
                if (feature.categorical()) {
                    return "expected a string (categorical feature), got number";
                }
                return Double.isFinite(value.getNumberValue()) ? null : "expected a finite number, got " + value.getNumberValue();
            case STRING_VALUE:
                return feature.categorical() ? null : "expected a number, got string";
            case BOOL_VALUE:
                return "expected " + (feature.categorical() ? "a string" : "a number") + ", got bool";
            case STRUCT_VALUE:
                return "expected " + (feature.categorical() ? "a string" : "a number") + ", got object";
            case LIST_VALUE:
                return "expected " + (feature.categorical() ? "a string" : "a number") + ", got list";
            default:
                return "unsupported value";
        }
    }

    private static String knownNames(FeatureSchema schema)
    {
        List<String> names = schema.features().stream().map(FeatureSchema.Feature::name).toList();
        return names.size() <= 30 ? String.join(", ", names) : String.join(", ", names.subList(0, 30)) + ", ...";
    }

    /** One ModelInfer request for validated rows of one version. */
    public static ModelInferRequest encode(String model, String version, FeatureSchema schema, List<Map<String, Value>> rows, boolean explain)
    {
        int n = rows.size();
        ModelInferRequest.Builder request = ModelInferRequest.newBuilder()
                .setModelName(model)
                .setModelVersion(version);
        if (explain) {
            request.putParameters("explain", InferParameter.newBuilder().setBoolParam(true).build());
        }
        for (FeatureSchema.Feature feature : schema.features()) {
            InferTensorContents.Builder contents = InferTensorContents.newBuilder();
            if (feature.categorical()) {
                for (Map<String, Value> row : rows) {
                    Value v = row.get(feature.name());
                    contents.addBytesContents(v != null && v.hasStringValue() ? ByteString.copyFromUtf8(v.getStringValue()) : MISSING_CATEGORY);
                }
            }
            else {
                for (Map<String, Value> row : rows) {
                    Value v = row.get(feature.name());
                    contents.addFp32Contents(v != null && v.hasNumberValue() ? (float) v.getNumberValue() : Float.NaN);
                }
            }
            request.addInputs(ModelInferRequest.InferInputTensor.newBuilder()
                    .setName(feature.name())
                    .setDatatype(feature.datatype())
                    .addShape(n)
                    .setContents(contents));
        }
        return request.build();
    }

    /** Row {@code i}'s scores from a ModelInfer response (without {@code served}). */
    public static List<ScoreResponse.Builder> decode(ModelInferResponse response, int rows)
    {
        Outputs outputs = new Outputs(response);
        float[] score = outputs.floats("score", rows, 1, true);
        List<String> labels = outputs.strings("label", rows);
        float[] interval = outputs.floats("interval", rows, 2, false);
        float[] agreement = outputs.floats("agreement", rows, 1, false);
        ModelInferResponse.InferOutputTensor baseTensor = outputs.tensor("base_scores");
        List<String> baseNames = baseTensor == null ? List.of() : columns(baseTensor);
        float[] base = baseNames.isEmpty() ? null : outputs.floats("base_scores", rows, baseNames.size(), true);
        ModelInferResponse.InferOutputTensor contributionTensor = outputs.tensor("contributions");
        List<String> contributionNames = contributionTensor == null ? List.of() : columns(contributionTensor);
        float[] contributions = contributionNames.isEmpty() ? null : outputs.floats("contributions", rows, contributionNames.size(), true);

        List<ScoreResponse.Builder> results = new ArrayList<>(rows);
        for (int i = 0; i < rows; i++) {
            ScoreResponse.Builder r = ScoreResponse.newBuilder().setScore(score[i]);
            if (labels != null) {
                r.setLabel(labels.get(i));
            }
            if (interval != null) {
                r.setInterval(Interval.newBuilder().setLower(interval[2 * i]).setUpper(interval[2 * i + 1]).setLevel(0.95));
            }
            if (agreement != null) {
                r.setAgreement(agreement[i]);
            }
            if (base != null) {
                int k = baseNames.size();
                for (int j = 0; j < k; j++) {
                    r.addBaseScores(BaseScore.newBuilder().setModel(baseNames.get(j)).setScore(base[i * k + j]));
                }
            }
            if (contributions != null) {
                r.setExplanation(explanation(contributionNames, contributions, i));
            }
            results.add(r);
        }
        return results;
    }

    private static Explanation explanation(List<String> names, float[] values, int row)
    {
        int k = names.size();
        Explanation.Builder e = Explanation.newBuilder();
        double logit = 0;
        for (int j = 0; j < k; j++) {
            double v = values[row * k + j];
            logit += v;
            switch (names.get(j)) {
                case "mlp" -> e.setMlpTerm(v);
                case "bias" -> e.setBaseValue(v);
                default -> e.addContributions(FeatureContribution.newBuilder().setFeature(names.get(j)).setValue(v));
            }
        }
        return e.setLogit(logit).build();
    }

    private static List<String> columns(ModelInferResponse.InferOutputTensor tensor)
    {
        InferParameter p = tensor.getParametersMap().get("columns");
        if (p == null || p.getStringParam().isEmpty()) {
            return List.of();
        }
        return List.of(p.getStringParam().split(","));
    }

    /** Output tensors by name, from contents or raw bytes. */
    private static final class Outputs
    {
        private final ModelInferResponse response;

        Outputs(ModelInferResponse response)
        {
            this.response = response;
        }

        ModelInferResponse.InferOutputTensor tensor(String name)
        {
            for (ModelInferResponse.InferOutputTensor t : response.getOutputsList()) {
                if (t.getName().equals(name)) {
                    return t;
                }
            }
            return null;
        }

        private int index(String name)
        {
            for (int i = 0; i < response.getOutputsCount(); i++) {
                if (response.getOutputs(i).getName().equals(name)) {
                    return i;
                }
            }
            return -1;
        }

        float[] floats(String name, int rows, int width, boolean required)
        {
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
                ByteBuffer raw = response.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                boolean fp64 = "FP64".equals(t.getDatatype());
                if (raw.remaining() != expected * (fp64 ? 8 : 4)) {
                    throw malformed("output " + name + " has " + raw.remaining() + " raw bytes for " + expected + " values");
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

        List<String> strings(String name, int rows)
        {
            int i = index(name);
            if (i < 0) {
                return null;
            }
            List<String> out = new ArrayList<>(rows);
            if (response.getRawOutputContentsCount() > i) {
                ByteBuffer raw = response.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                while (raw.remaining() >= 4 && out.size() < rows) {
                    int len = raw.getInt();
                    byte[] bytes = new byte[len];
                    raw.get(bytes);
                    out.add(new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
                }
            }
            else {
                for (ByteString b : response.getOutputs(i).getContents().getBytesContentsList()) {
                    out.add(b.toStringUtf8());
                }
            }
            if (out.size() != rows) {
                throw malformed("output " + name + " has " + out.size() + " values for " + rows + " rows");
            }
            return out;
        }

        private static RouterException malformed(String what)
        {
            return new RouterException(RouterErrorCode.UPSTREAM_FAILURE, "malformed model-server response: " + what);
        }
    }
}
