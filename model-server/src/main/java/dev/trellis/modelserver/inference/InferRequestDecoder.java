package dev.trellis.modelserver.inference;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.common.grpc.FieldViolation;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.modelserver.batching.Priority;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferRequest.InferInputTensor;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Turns a ModelInfer request into a {@link FeatureBatch}, or refuses it with a precise error. Two
 * layouts (DESIGN §3, the proto's header comment):
 *
 * <ul>
 *   <li>Per feature: one tensor per feature, named after it, shape {@code [batch]} or {@code [batch,
 *       1]}. Numeric features accept every numeric datatype (FP32, FP64, BOOL, INT8..INT64,
 *       UINT8..UINT64; NaN = missing); categorical features accept BYTES (UTF-8; an empty string =
 *       missing; a category outside the vocabulary is scored as missing). MLServer's pandas codec:
 *       an input parameter {@code content_type} of {@code np}, {@code str} or {@code pd} changes
 *       nothing; {@code pd_json} makes each BYTES element a JSON value (null = missing, a number for
 *       numeric features, a string for categorical ones); {@code base64} makes each a base64 string.
 *       A feature without a tensor is missing in every row: the router validates feature names
 *       before sending, so here an absent feature is a deliberate "unknown".
 *   <li>Matrix: a single input whose name is not a feature's (e.g. {@code input__0}), shape
 *       {@code [batch, features]}, any numeric datatype, columns in schema order, categorical
 *       columns as vocabulary codes (-1 or NaN = missing).
 * </ul>
 *
 * <p>Values come from the typed contents or from {@code raw_input_contents} ({@link
 * TensorElements}), never both. Infinite values are refused: NaN is the one way to say "missing"
 * in a numeric tensor. Field violations name fields by their position in the request, protobuf
 * style, and their descriptions name the tensor: {@code inputs[2].datatype}, {@code
 * inputs[0].contents.fp32_contents}, {@code raw_input_contents[1]}, {@code parameters[explain]}.
 * The request parameters {@code explain} (bool), {@code priority} (int64 or uint64, 0 = by size,
 * 1 = high, 2 = low) and {@code timeout} (int64 or uint64 microseconds in the queue, 0 = none) are
 * read as Triton reads them. Stateless and thread-safe.
 */
final class InferRequestDecoder {
    static final String PRIORITY_PARAMETER = "priority";
    static final String TIMEOUT_PARAMETER = "timeout";
    // a day: longer waits are no limit in practice, and the nanoseconds stay far from overflow
    private static final long MAX_TIMEOUT_MICROS = 86_400_000_000L;

    private InferRequestDecoder() {}

    static DecodedRequest decode(
            ModelInferRequest request, FeatureSchema schema, int maxBatchRows, int maxExplainRows) {
        boolean explain = explain(request);
        Priority priority = priority(request);
        Duration timeout = timeout(request);
        Set<String> outputs = outputs(request);
        if (outputs.contains(Outputs.CONTRIBUTIONS)) {
            explain = true;
        } else if (request.getOutputsCount() == 0 && explain) {
            outputs = new LinkedHashSet<>(outputs);
            outputs.add(Outputs.CONTRIBUTIONS);
        }

        List<InferInputTensor> inputs = request.getInputsList();
        if (inputs.isEmpty()) {
            throw new ModelServerException(
                    ErrorCode.EMPTY_REQUEST,
                    "request has no input tensors; expected one per feature: " + featureNames(schema),
                    List.of(new FieldViolation("inputs", "expected one tensor per feature")),
                    Map.of());
        }
        boolean raw = request.getRawInputContentsCount() > 0;
        if (raw && request.getRawInputContentsCount() != inputs.size()) {
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_CONTENTS,
                    "raw_input_contents",
                    "raw_input_contents has " + request.getRawInputContentsCount() + " entries for " + inputs.size()
                            + " inputs; send raw contents for every input or for none");
        }
        if (raw) {
            List<FieldViolation> both = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                if (inputs.get(i).hasContents()) {
                    both.add(
                            new FieldViolation(
                                    "inputs[" + i + "].contents",
                                    "input '" + inputs.get(i).getName()
                                            + "' sets contents while the request sends raw_input_contents; use one or the other"));
                }
            }
            if (!both.isEmpty()) {
                throw new ModelServerException(
                        ErrorCode.INVALID_TENSOR_CONTENTS,
                        both.get(0).description()
                                + (both.size() > 1 ? " (and " + (both.size() - 1) + " more inputs)" : ""),
                        both,
                        Map.of());
            }
        }

        if (isMatrix(inputs, schema)) {
            return decodeMatrix(request, schema, maxBatchRows, maxExplainRows, explain, outputs, priority, timeout);
        }
        ContentType[] contentTypes = new ContentType[inputs.size()];
        for (int i = 0; i < inputs.size(); i++) {
            contentTypes[i] = contentType(i, inputs.get(i));
        }

        int[] featureIndex = new int[inputs.size()];
        List<String> unknown = new ArrayList<>();
        List<FieldViolation> unknownViolations = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            String name = inputs.get(i).getName();
            featureIndex[i] = schema.indexOf(name);
            if (featureIndex[i] < 0) {
                unknown.add(name);
                unknownViolations.add(
                        new FieldViolation("inputs[" + i + "].name", "unknown input tensor '" + name + "'"));
            } else if (seen.put(name, i) != null) {
                throw ModelServerException.badField(
                        ErrorCode.DUPLICATE_TENSOR,
                        "inputs[" + i + "].name",
                        "input tensor '" + name + "' appears more than once");
            }
        }
        if (!unknown.isEmpty()) {
            throw new ModelServerException(
                    ErrorCode.UNKNOWN_TENSOR,
                    "unknown input tensors: " + String.join(", ", unknown) + "; this model's inputs are: "
                            + featureNames(schema)
                            + " (or one matrix input of shape [batch, " + schema.size() + "])",
                    unknownViolations,
                    Map.of("unknown_inputs", String.join(",", unknown)));
        }

        // datatype and shape of every tensor, reported together
        List<FieldViolation> violations = new ArrayList<>();
        ErrorCode firstCode = null;
        for (int i = 0; i < inputs.size(); i++) {
            InferInputTensor tensor = inputs.get(i);
            Feature feature = schema.features().get(featureIndex[i]);
            String expected = expectedDatatypes(feature, contentTypes[i]);
            if (contentTypes[i] == ContentType.BASE64 && feature.type() == FeatureType.NUMERIC) {
                violations.add(new FieldViolation(
                        "inputs[" + i + "].parameters[content_type]",
                        "input '" + tensor.getName() + "' has content_type base64, which only categorical features "
                                + "take; numeric feature '" + feature.name() + "' takes numbers (or pd_json)"));
                firstCode = firstCode == null ? ErrorCode.INVALID_PARAMETER : firstCode;
                continue;
            }
            boolean typeOk = contentTypes[i] != ContentType.ELEMENTS
                    ? tensor.getDatatype().equals("BYTES")
                    : feature.type() == FeatureType.NUMERIC
                            ? TensorElements.isNumeric(tensor.getDatatype())
                            : tensor.getDatatype().equals("BYTES");
            if (!typeOk) {
                violations.add(new FieldViolation(
                        "inputs[" + i + "].datatype",
                        "input '" + tensor.getName() + "' has datatype '" + tensor.getDatatype() + "'; expected "
                                + expected + " for " + feature.type().name().toLowerCase() + " feature '"
                                + feature.name() + "'"));
                firstCode = firstCode == null ? ErrorCode.INVALID_TENSOR_DATATYPE : firstCode;
            }
            List<Long> shape = tensor.getShapeList();
            boolean shapeOk = (shape.size() == 1 || (shape.size() == 2 && shape.get(1) == 1)) && shape.get(0) >= 0;
            if (!shapeOk) {
                violations.add(new FieldViolation(
                        "inputs[" + i + "].shape",
                        "input '" + tensor.getName() + "' has shape " + shape + "; expected [batch] or [batch, 1]"));
                firstCode = firstCode == null ? ErrorCode.INVALID_TENSOR_SHAPE : firstCode;
            }
        }
        if (!violations.isEmpty()) {
            throw new ModelServerException(
                    firstCode,
                    violations.stream().map(FieldViolation::description).collect(Collectors.joining("; ")),
                    violations,
                    Map.of());
        }

        long batch = inputs.get(0).getShape(0);
        List<FieldViolation> mismatched = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            InferInputTensor tensor = inputs.get(i);
            if (tensor.getShape(0) != batch) {
                mismatched.add(new FieldViolation(
                        "inputs[" + i + "].shape",
                        "input '" + tensor.getName() + "' has " + tensor.getShape(0) + " rows but '"
                                + inputs.get(0).getName() + "' has " + batch));
            }
        }
        if (!mismatched.isEmpty()) {
            throw new ModelServerException(
                    ErrorCode.BATCH_SIZE_MISMATCH,
                    "inputs disagree on the batch size: "
                            + mismatched.stream()
                                    .map(FieldViolation::description)
                                    .collect(Collectors.joining("; ")),
                    mismatched,
                    Map.of());
        }
        int rows = checkBatch(batch, explain, maxBatchRows, maxExplainRows);
        FeatureBatch features = new FeatureBatch(schema, rows);
        for (int i = 0; i < inputs.size(); i++) {
            InferInputTensor tensor = inputs.get(i);
            int feature = featureIndex[i];
            ByteString rawContents = raw ? request.getRawInputContents(i) : null;
            if (contentTypes[i] == ContentType.PD_JSON) {
                fillJson(features, feature, i, tensor, TensorElements.strings(i, tensor, rawContents, rows));
            } else if (schema.features().get(feature).type() == FeatureType.NUMERIC) {
                double[] values = TensorElements.numbers(i, tensor, rawContents, rows);
                checkFinite(values, rows, TensorElements.field(i, tensor, rawContents), tensor);
                System.arraycopy(values, 0, features.numeric(feature), 0, rows);
            } else {
                String[] values = TensorElements.strings(i, tensor, rawContents, rows);
                String[] column = features.categorical(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = values[row] == null
                            ? null
                            : contentTypes[i] == ContentType.BASE64 ? base64(i, tensor, row, values[row]) : values[row];
                }
            }
        }
        return new DecodedRequest(features, explain, outputs, priority, timeout);
    }

    /** One input whose name is no feature's, with a 2-D shape: the matrix layout (Triton FIL, numpy codec). */
    private static boolean isMatrix(List<InferInputTensor> inputs, FeatureSchema schema) {
        return inputs.size() == 1
                && inputs.get(0).getShapeCount() == 2
                && (schema.indexOf(inputs.get(0).getName()) < 0 || inputs.get(0).getShape(1) != 1);
    }

    private static DecodedRequest decodeMatrix(
            ModelInferRequest request,
            FeatureSchema schema,
            int maxBatchRows,
            int maxExplainRows,
            boolean explain,
            Set<String> outputs,
            Priority priority,
            Duration timeout) {
        InferInputTensor tensor = request.getInputs(0);
        int columns = schema.size();
        if (!TensorElements.isNumeric(tensor.getDatatype())) {
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_DATATYPE,
                    "inputs[0].datatype",
                    "matrix input '" + tensor.getName() + "' has datatype '" + tensor.getDatatype()
                            + "'; expected FP32 or FP64 (or another numeric datatype), categorical columns as "
                            + "vocabulary codes");
        }
        if (tensor.getShape(0) < 0 || tensor.getShape(1) != columns) {
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_SHAPE,
                    "inputs[0].shape",
                    "matrix input '" + tensor.getName() + "' has shape " + tensor.getShapeList() + "; expected [batch, "
                            + columns + "]: the features " + featureNames(schema) + " in this order");
        }
        int rows = checkBatch(tensor.getShape(0), explain, maxBatchRows, maxExplainRows);
        ByteString raw = request.getRawInputContentsCount() > 0 ? request.getRawInputContents(0) : null;
        double[] values = TensorElements.numbers(0, tensor, raw, Math.multiplyExact(rows, columns));
        String field = TensorElements.field(0, tensor, raw);
        FeatureBatch features = new FeatureBatch(schema, rows);
        for (int c = 0; c < columns; c++) {
            Feature feature = schema.features().get(c);
            if (feature.type() == FeatureType.NUMERIC) {
                double[] column = features.numeric(c);
                for (int row = 0; row < rows; row++) {
                    double value = values[row * columns + c];
                    if (Double.isInfinite(value)) {
                        throw ModelServerException.badField(
                                ErrorCode.INVALID_TENSOR_CONTENTS,
                                field,
                                "input '" + tensor.getName() + "' has " + value + " in row " + row + ", column " + c
                                        + " (feature '" + feature.name()
                                        + "'); send a finite number, or NaN for missing");
                    }
                    column[row] = value;
                }
            } else {
                String[] column = features.categorical(c);
                List<String> vocabulary = feature.vocabulary();
                for (int row = 0; row < rows; row++) {
                    double code = values[row * columns + c];
                    if (Double.isNaN(code) || code == -1) {
                        continue;
                    }
                    if (code != Math.rint(code) || code < 0 || code >= vocabulary.size()) {
                        throw ModelServerException.badField(
                                ErrorCode.INVALID_TENSOR_CONTENTS,
                                field,
                                "input '" + tensor.getName() + "' has " + code + " in row " + row + ", column " + c
                                        + ": categorical feature '" + feature.name() + "' takes a vocabulary code 0.."
                                        + (vocabulary.size() - 1) + " (ModelConfig parameter vocabulary:"
                                        + feature.name() + "), or -1 or NaN for missing");
                    }
                    column[row] = vocabulary.get((int) code);
                }
            }
        }
        return new DecodedRequest(features, explain, outputs, priority, timeout);
    }

    private static int checkBatch(long batch, boolean explain, int maxBatchRows, int maxExplainRows) {
        if (batch == 0) {
            throw ModelServerException.badField(
                    ErrorCode.EMPTY_REQUEST, "inputs[0].shape", "batch size is 0; send at least one row");
        }
        if (batch > maxBatchRows) {
            throw new ModelServerException(
                    ErrorCode.REQUEST_TOO_LARGE,
                    "request has " + batch + " rows; the limit is " + maxBatchRows + " rows per request, split it",
                    List.of(new FieldViolation("inputs[0].shape", batch + " rows exceed the limit of " + maxBatchRows)),
                    Map.of("max_batch_rows", String.valueOf(maxBatchRows)));
        }
        if (explain && batch > maxExplainRows) {
            throw new ModelServerException(
                    ErrorCode.EXPLAIN_TOO_LARGE,
                    "request asks for explanations of " + batch + " rows; the limit is " + maxExplainRows
                            + " rows per request with explain, split it",
                    List.of(new FieldViolation(
                            "parameters[explain]",
                            "explain is limited to " + maxExplainRows + " rows per request; this one has " + batch)),
                    Map.of("max_explain_rows", String.valueOf(maxExplainRows)));
        }
        return (int) batch;
    }

    /** MLServer's per-input {@code content_type}: how BYTES elements are to be read. */
    private enum ContentType {
        ELEMENTS,
        PD_JSON,
        BASE64
    }

    private static ContentType contentType(int index, InferInputTensor tensor) {
        InferParameter parameter = tensor.getParametersMap().get(Outputs.CONTENT_TYPE_PARAMETER);
        if (parameter == null) {
            return ContentType.ELEMENTS;
        }
        String value = parameter.hasStringParam() ? parameter.getStringParam() : "";
        return switch (value) {
            case "np", "str", "pd" -> ContentType.ELEMENTS;
            case "pd_json" -> ContentType.PD_JSON;
            case "base64" -> ContentType.BASE64;
            default ->
                throw ModelServerException.badField(
                        ErrorCode.INVALID_PARAMETER,
                        "inputs[" + index + "].parameters[content_type]",
                        "input '" + tensor.getName() + "' has content_type '" + value
                                + "'; supported: np, str, pd_json, base64 (as a string_param)");
        };
    }

    /** {@code pd_json}: each BYTES element is one JSON value; null is missing. */
    private static void fillJson(
            FeatureBatch batch, int feature, int index, InferInputTensor tensor, String[] elements) {
        boolean numeric = batch.schema().features().get(feature).type() == FeatureType.NUMERIC;
        String field = "inputs[" + index + "].contents.bytes_contents";
        for (int row = 0; row < elements.length; row++) {
            Value value = json(elements[row] == null ? "null" : elements[row], field, tensor, row);
            switch (value.getKindCase()) {
                case NULL_VALUE -> {}
                case NUMBER_VALUE -> {
                    if (numeric) {
                        batch.numeric(feature)[row] = value.getNumberValue();
                    } else {
                        batch.categorical(feature)[row] = elements[row].strip();
                    }
                }
                case STRING_VALUE -> {
                    if (numeric) {
                        throw ModelServerException.badField(
                                ErrorCode.INVALID_TENSOR_CONTENTS,
                                field,
                                "input '" + tensor.getName() + "' has the string " + elements[row] + " in row " + row
                                        + "; numeric feature '" + tensor.getName() + "' takes a JSON number or null");
                    }
                    batch.categorical(feature)[row] = value.getStringValue().isEmpty() ? null : value.getStringValue();
                }
                default ->
                    throw ModelServerException.badField(
                            ErrorCode.INVALID_TENSOR_CONTENTS,
                            field,
                            "input '" + tensor.getName() + "' has " + elements[row] + " in row " + row
                                    + "; pd_json elements are a JSON number, string or null");
            }
        }
    }

    private static Value json(String text, String field, InferInputTensor tensor, int row) {
        Value.Builder value = Value.newBuilder();
        try {
            JsonFormat.parser().merge(text, value);
            return value.build();
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_CONTENTS,
                    field,
                    "input '" + tensor.getName() + "' (content_type pd_json) has " + text + " in row " + row
                            + ", which is not JSON");
        }
    }

    private static String base64(int index, InferInputTensor tensor, int row, String value) {
        try {
            String decoded = new String(Base64.getDecoder().decode(value), StandardCharsets.UTF_8);
            return decoded.isEmpty() ? null : decoded;
        } catch (IllegalArgumentException e) {
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_CONTENTS,
                    "inputs[" + index + "].contents.bytes_contents",
                    "input '" + tensor.getName() + "' (content_type base64) has invalid base64 in row " + row);
        }
    }

    /** Triton's {@code priority}: 0 (or absent) lets the size decide, 1 is high, 2 is low. */
    private static Priority priority(ModelInferRequest request) {
        InferParameter parameter = request.getParametersMap().get(PRIORITY_PARAMETER);
        if (parameter == null) {
            return Priority.DEFAULT;
        }
        if (parameter.hasInt64Param() || parameter.hasUint64Param()) {
            long value = parameter.hasInt64Param() ? parameter.getInt64Param() : parameter.getUint64Param();
            if (value == 0) {
                return Priority.DEFAULT;
            }
            if (value == 1) {
                return Priority.HIGH;
            }
            if (value == 2) {
                return Priority.LOW;
            }
        }
        throw ModelServerException.badField(
                ErrorCode.INVALID_PARAMETER,
                "parameters[priority]",
                "parameter 'priority' must be an int64_param or uint64_param: 0 (by request size), 1 (high) or 2 (low)");
    }

    /** Triton's {@code timeout}: how long, in microseconds, the request may wait in the queue; 0 = no limit. */
    private static Duration timeout(ModelInferRequest request) {
        InferParameter parameter = request.getParametersMap().get(TIMEOUT_PARAMETER);
        if (parameter == null) {
            return Duration.ZERO;
        }
        if (parameter.hasInt64Param() && parameter.getInt64Param() >= 0) {
            return Duration.ofNanos(Math.multiplyExact(Math.min(parameter.getInt64Param(), MAX_TIMEOUT_MICROS), 1000L));
        }
        if (parameter.hasUint64Param()) {
            long micros = Long.compareUnsigned(parameter.getUint64Param(), MAX_TIMEOUT_MICROS) > 0
                    ? MAX_TIMEOUT_MICROS
                    : parameter.getUint64Param();
            return Duration.ofNanos(micros * 1000L);
        }
        throw ModelServerException.badField(
                ErrorCode.INVALID_PARAMETER,
                "parameters[timeout]",
                "parameter 'timeout' must be an int64_param (or uint64_param) of microseconds >= 0 (0 = no limit)");
    }

    private static boolean explain(ModelInferRequest request) {
        InferParameter parameter = request.getParametersMap().get(Outputs.EXPLAIN_PARAMETER);
        if (parameter == null) {
            return false;
        }
        if (parameter.hasBoolParam()) {
            return parameter.getBoolParam();
        }
        if (parameter.hasStringParam()
                && (parameter.getStringParam().equals("true")
                        || parameter.getStringParam().equals("false"))) {
            return Boolean.parseBoolean(parameter.getStringParam());
        }
        throw ModelServerException.badField(
                ErrorCode.INVALID_PARAMETER, "parameters[explain]", "parameter 'explain' must be a bool_param");
    }

    private static Set<String> outputs(ModelInferRequest request) {
        if (request.getOutputsCount() == 0) {
            return Outputs.DEFAULT;
        }
        Set<String> requested = new LinkedHashSet<>();
        List<FieldViolation> violations = new ArrayList<>();
        for (int i = 0; i < request.getOutputsCount(); i++) {
            String name = request.getOutputs(i).getName();
            if (!Outputs.ALL.contains(name)) {
                violations.add(new FieldViolation("outputs[" + i + "].name", "unknown output '" + name + "'"));
            }
            requested.add(name);
        }
        if (!violations.isEmpty()) {
            throw new ModelServerException(
                    ErrorCode.UNKNOWN_OUTPUT,
                    violations.stream().map(FieldViolation::description).collect(Collectors.joining("; "))
                            + "; outputs are: " + String.join(", ", Outputs.ALL),
                    violations,
                    Map.of());
        }
        return requested;
    }

    private static void checkFinite(double[] column, int rows, String field, InferInputTensor tensor) {
        for (int row = 0; row < rows; row++) {
            if (Double.isInfinite(column[row])) {
                throw ModelServerException.badField(
                        ErrorCode.INVALID_TENSOR_CONTENTS,
                        field,
                        "input '" + tensor.getName() + "' has " + column[row] + " in row " + row
                                + "; send a finite number, or NaN for missing");
            }
        }
    }

    private static String expectedDatatypes(Feature feature, ContentType contentType) {
        if (contentType != ContentType.ELEMENTS) {
            return "BYTES (content_type " + contentType.name().toLowerCase() + ")";
        }
        return feature.type() == FeatureType.NUMERIC ? "FP32 (or FP64, BOOL, INT8..INT64, UINT8..UINT64)" : "BYTES";
    }

    private static String featureNames(FeatureSchema schema) {
        return schema.features().stream().map(Feature::name).collect(Collectors.joining(", "));
    }
}
