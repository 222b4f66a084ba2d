package dev.trellis.modelserver.inference;

import com.google.protobuf.ByteString;
import dev.trellis.common.grpc.FieldViolation;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.modelserver.batching.Priority;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferRequest.InferInputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Turns a columnar ModelInfer request into a {@link FeatureBatch}, or refuses it with a precise
 * error. The convention (DESIGN §3): one tensor per feature, named after it, shape {@code [batch]}
 * or {@code [batch, 1]}. Numeric features accept FP32, FP64, INT32 and INT64 (NaN = missing);
 * categorical features accept BYTES (UTF-8; an empty string = missing; a category outside the
 * vocabulary is scored as missing). Values come from the typed contents or from
 * {@code raw_input_contents} (little-endian; BYTES as a 4-byte little-endian length then the bytes),
 * never both. A feature without a tensor is missing in every row: the router validates feature names
 * before sending, so here an absent feature is a deliberate "unknown". Infinite values are refused:
 * NaN is the one way to say "missing" in a numeric tensor.
 *
 * <p>Field violations name fields by their position in the request, protobuf style, and their
 * descriptions name the tensor: {@code inputs[2].datatype}, {@code inputs[0].contents.fp32_contents},
 * {@code raw_input_contents[1]}, {@code parameters[explain]}. The request parameters {@code explain}
 * (bool), {@code priority} (int64, 0 = by size, 1 = high, 2 = low) and {@code timeout} (int64
 * microseconds in the queue, 0 = none) are read as Triton reads them. Stateless and thread-safe.
 */
final class InferRequestDecoder {
    static final String PRIORITY_PARAMETER = "priority";
    static final String TIMEOUT_PARAMETER = "timeout";
    private static final Set<String> NUMERIC_TYPES = Set.of("FP32", "FP64", "INT32", "INT64");
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
                            + featureNames(schema),
                    unknownViolations,
                    Map.of("unknown_inputs", String.join(",", unknown)));
        }

        // datatype and shape of every tensor, reported together
        List<FieldViolation> violations = new ArrayList<>();
        ErrorCode firstCode = null;
        for (int i = 0; i < inputs.size(); i++) {
            InferInputTensor tensor = inputs.get(i);
            Feature feature = schema.features().get(featureIndex[i]);
            String expected = expectedDatatypes(feature);
            boolean typeOk = feature.type() == FeatureType.NUMERIC
                    ? NUMERIC_TYPES.contains(tensor.getDatatype())
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

        int rows = (int) batch;
        FeatureBatch features = new FeatureBatch(schema, rows);
        for (int i = 0; i < inputs.size(); i++) {
            InferInputTensor tensor = inputs.get(i);
            int feature = featureIndex[i];
            if (raw) {
                fillRaw(features, feature, i, tensor, request.getRawInputContents(i), rows);
            } else {
                fillContents(features, feature, i, tensor, rows);
            }
        }
        return new DecodedRequest(features, explain, outputs, priority, timeout);
    }

    /** Triton's {@code priority}: 0 (or absent) lets the size decide, 1 is high, 2 is low. */
    private static Priority priority(ModelInferRequest request) {
        InferParameter parameter = request.getParametersMap().get(PRIORITY_PARAMETER);
        if (parameter == null) {
            return Priority.DEFAULT;
        }
        if (parameter.hasInt64Param()) {
            long value = parameter.getInt64Param();
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
                "parameter 'priority' must be an int64_param: 0 (by request size), 1 (high) or 2 (low)");
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
        throw ModelServerException.badField(
                ErrorCode.INVALID_PARAMETER,
                "parameters[timeout]",
                "parameter 'timeout' must be an int64_param of microseconds >= 0 (0 = no limit)");
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

    private static void fillContents(FeatureBatch batch, int feature, int index, InferInputTensor tensor, int rows) {
        InferTensorContents contents = tensor.getContents();
        switch (tensor.getDatatype()) {
            case "FP32" -> {
                checkCount(index, tensor, "fp32_contents", contents.getFp32ContentsCount(), rows);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = contents.getFp32Contents(row);
                }
                checkFinite(column, rows, "inputs[" + index + "].contents.fp32_contents", tensor);
            }
            case "FP64" -> {
                checkCount(index, tensor, "fp64_contents", contents.getFp64ContentsCount(), rows);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = contents.getFp64Contents(row);
                }
                checkFinite(column, rows, "inputs[" + index + "].contents.fp64_contents", tensor);
            }
            case "INT32" -> {
                checkCount(index, tensor, "int_contents", contents.getIntContentsCount(), rows);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = contents.getIntContents(row);
                }
            }
            case "INT64" -> {
                checkCount(index, tensor, "int64_contents", contents.getInt64ContentsCount(), rows);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = contents.getInt64Contents(row);
                }
            }
            case "BYTES" -> {
                checkCount(index, tensor, "bytes_contents", contents.getBytesContentsCount(), rows);
                String[] column = batch.categorical(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = category(contents.getBytesContents(row));
                }
            }
            default -> throw new IllegalStateException("datatype checked before: " + tensor.getDatatype());
        }
    }

    private static void fillRaw(
            FeatureBatch batch, int feature, int index, InferInputTensor tensor, ByteString raw, int rows) {
        ByteBuffer buffer = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        switch (tensor.getDatatype()) {
            case "FP32" -> {
                checkRawSize(index, tensor, raw, rows, 4);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = buffer.getFloat();
                }
                checkFinite(column, rows, "raw_input_contents[" + index + "]", tensor);
            }
            case "FP64" -> {
                checkRawSize(index, tensor, raw, rows, 8);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = buffer.getDouble();
                }
                checkFinite(column, rows, "raw_input_contents[" + index + "]", tensor);
            }
            case "INT32" -> {
                checkRawSize(index, tensor, raw, rows, 4);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = buffer.getInt();
                }
            }
            case "INT64" -> {
                checkRawSize(index, tensor, raw, rows, 8);
                double[] column = batch.numeric(feature);
                for (int row = 0; row < rows; row++) {
                    column[row] = buffer.getLong();
                }
            }
            case "BYTES" -> {
                String[] column = batch.categorical(feature);
                for (int row = 0; row < rows; row++) {
                    if (buffer.remaining() < 4) {
                        throw rawBytesError(index, tensor, "ends after " + row + " of " + rows + " values");
                    }
                    int length = buffer.getInt();
                    if (length < 0 || length > buffer.remaining()) {
                        throw rawBytesError(
                                index,
                                tensor,
                                "value " + row + " declares " + Integer.toUnsignedString(length) + " bytes but only "
                                        + buffer.remaining() + " remain");
                    }
                    column[row] = category(ByteString.copyFrom(buffer, length));
                }
                if (buffer.hasRemaining()) {
                    throw rawBytesError(
                            index,
                            tensor,
                            "has " + buffer.remaining() + " bytes after the " + rows + " values of the shape");
                }
            }
            default -> throw new IllegalStateException("datatype checked before: " + tensor.getDatatype());
        }
    }

    private static String category(ByteString value) {
        return value.isEmpty() ? null : value.toString(StandardCharsets.UTF_8);
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

    private static void checkCount(int index, InferInputTensor tensor, String field, int count, int rows) {
        if (count != rows) {
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_CONTENTS,
                    "inputs[" + index + "].contents." + field,
                    "input '" + tensor.getName() + "' (" + tensor.getDatatype() + ") has " + count
                            + " values in contents." + field + "; its shape " + tensor.getShapeList() + " needs "
                            + rows);
        }
    }

    private static void checkRawSize(int index, InferInputTensor tensor, ByteString raw, int rows, int width) {
        if (raw.size() != (long) rows * width) {
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_CONTENTS,
                    "raw_input_contents[" + index + "]",
                    "raw contents of input '" + tensor.getName() + "' have " + raw.size() + " bytes; shape "
                            + tensor.getShapeList() + " of " + tensor.getDatatype() + " needs " + (long) rows * width);
        }
    }

    private static ModelServerException rawBytesError(int index, InferInputTensor tensor, String problem) {
        return ModelServerException.badField(
                ErrorCode.INVALID_TENSOR_CONTENTS,
                "raw_input_contents[" + index + "]",
                "raw BYTES contents of input '" + tensor.getName() + "' " + problem
                        + " (expected a 4-byte little-endian length before each value)");
    }

    private static String expectedDatatypes(Feature feature) {
        return feature.type() == FeatureType.NUMERIC ? "FP32 (or FP64, INT32, INT64)" : "BYTES";
    }

    private static String featureNames(FeatureSchema schema) {
        return schema.features().stream().map(Feature::name).collect(Collectors.joining(", "));
    }
}
