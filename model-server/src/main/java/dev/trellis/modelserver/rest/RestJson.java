package dev.trellis.modelserver.rest;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Message;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.common.grpc.FieldViolation;
import dev.trellis.proto.inference.InferParameter;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferRequest.InferInputTensor;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelInferResponse.InferOutputTensor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * KServe v2 REST JSON to and from the Open Inference Protocol's protobuf messages, so a REST call
 * runs the very same gRPC service. Tensor {@code data} is flat or nested row-major; numbers for
 * numeric datatypes ({@code null} = NaN, i.e. missing, since JSON has no NaN), strings for BYTES
 * ({@code null} = missing). Parameters: booleans, integers, other numbers (double_param) and
 * strings. Stateless and thread-safe.
 */
final class RestJson {
    private RestJson() {}

    /** A refused request body: the message and the field, as the gRPC service would name them. */
    static final class BadJson extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final FieldViolation violation;

        BadJson(String field, String message) {
            super(message);
            this.violation = new FieldViolation(field, message);
        }
    }

    static Struct parse(String body) {
        Struct.Builder struct = Struct.newBuilder();
        try {
            JsonFormat.parser().merge(body, struct);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw new BadJson("body", "the request body is not a JSON object");
        }
        return struct.build();
    }

    static ModelInferRequest inferRequest(Struct body, String model, String version) {
        ModelInferRequest.Builder request =
                ModelInferRequest.newBuilder().setModelName(model).setModelVersion(version);
        Map<String, Value> fields = body.getFieldsMap();
        if (fields.containsKey("id")) {
            request.setId(string(fields.get("id"), "id"));
        }
        parameters(fields.get("parameters"), "parameters", request::putParameters);
        List<Value> inputs = list(fields.get("inputs"), "inputs");
        for (int i = 0; i < inputs.size(); i++) {
            request.addInputs(input(inputs.get(i), "inputs[" + i + "]"));
        }
        if (fields.containsKey("outputs")) {
            List<Value> outputs = list(fields.get("outputs"), "outputs");
            for (int i = 0; i < outputs.size(); i++) {
                String field = "outputs[" + i + "]";
                Map<String, Value> output = object(outputs.get(i), field);
                ModelInferRequest.InferRequestedOutputTensor.Builder requested =
                        ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                                .setName(string(output.get("name"), field + ".name"));
                parameters(output.get("parameters"), field + ".parameters", requested::putParameters);
                request.addOutputs(requested);
            }
        }
        return request.build();
    }

    private static InferInputTensor input(Value value, String field) {
        Map<String, Value> input = object(value, field);
        InferInputTensor.Builder tensor = InferInputTensor.newBuilder()
                .setName(string(input.get("name"), field + ".name"))
                .setDatatype(string(input.get("datatype"), field + ".datatype"));
        for (Value dimension : list(input.get("shape"), field + ".shape")) {
            tensor.addShape((long) number(dimension, field + ".shape"));
        }
        parameters(input.get("parameters"), field + ".parameters", tensor::putParameters);
        List<Value> data = new ArrayList<>();
        flatten(input.get("data"), field + ".data", data);
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        String datatype = tensor.getDatatype();
        String dataField = field + ".data";
        for (Value element : data) {
            boolean missing = element.hasNullValue();
            switch (datatype) {
                case "BYTES" ->
                    contents.addBytesContents(
                            missing ? ByteString.EMPTY : ByteString.copyFromUtf8(string(element, dataField)));
                case "BOOL" -> contents.addBoolContents(!missing && bool(element, dataField));
                case "FP32" -> contents.addFp32Contents(missing ? Float.NaN : (float) number(element, dataField));
                case "FP64" -> contents.addFp64Contents(missing ? Double.NaN : number(element, dataField));
                case "INT8", "INT16", "INT32" -> contents.addIntContents((int) integer(element, dataField));
                case "INT64" -> contents.addInt64Contents(integer(element, dataField));
                case "UINT8", "UINT16", "UINT32" -> contents.addUintContents((int) integer(element, dataField));
                case "UINT64" -> contents.addUint64Contents(integer(element, dataField));
                // an unknown datatype: leave the contents empty, the service names the datatype
                default -> {}
            }
        }
        return tensor.setContents(contents).build();
    }

    private static void flatten(Value value, String field, List<Value> into) {
        if (value == null) {
            throw new BadJson(field, field + " is required");
        }
        if (value.hasListValue()) {
            for (Value element : value.getListValue().getValuesList()) {
                if (element.hasListValue()) {
                    flatten(element, field, into);
                } else {
                    into.add(element);
                }
            }
        } else {
            throw new BadJson(field, field + " must be an array");
        }
    }

    private interface ParameterSink {
        void put(String name, InferParameter value);
    }

    private static void parameters(Value value, String field, ParameterSink sink) {
        if (value == null) {
            return;
        }
        for (Map.Entry<String, Value> entry : object(value, field).entrySet()) {
            Value parameter = entry.getValue();
            InferParameter.Builder converted = InferParameter.newBuilder();
            switch (parameter.getKindCase()) {
                case BOOL_VALUE -> converted.setBoolParam(parameter.getBoolValue());
                case STRING_VALUE -> converted.setStringParam(parameter.getStringValue());
                case NUMBER_VALUE -> {
                    double number = parameter.getNumberValue();
                    if (number == Math.rint(number) && Math.abs(number) < 0x1p63) {
                        converted.setInt64Param((long) number);
                    } else {
                        converted.setDoubleParam(number);
                    }
                }
                default ->
                    throw new BadJson(
                            field + "[" + entry.getKey() + "]",
                            "parameter '" + entry.getKey() + "' must be a boolean, a number or a string");
            }
            sink.put(entry.getKey(), converted.build());
        }
    }

    static String inferResponse(ModelInferResponse response) {
        Struct.Builder json = Struct.newBuilder()
                .putFields("model_name", text(response.getModelName()))
                .putFields("model_version", text(response.getModelVersion()));
        if (!response.getId().isEmpty()) {
            json.putFields("id", text(response.getId()));
        }
        if (response.getParametersCount() > 0) {
            json.putFields("parameters", parameters(response.getParametersMap()));
        }
        ListValue.Builder outputs = ListValue.newBuilder();
        for (InferOutputTensor output : response.getOutputsList()) {
            Struct.Builder tensor = Struct.newBuilder()
                    .putFields("name", text(output.getName()))
                    .putFields("datatype", text(output.getDatatype()));
            ListValue.Builder shape = ListValue.newBuilder();
            output.getShapeList().forEach(d -> shape.addValues(number(d)));
            tensor.putFields("shape", Value.newBuilder().setListValue(shape).build());
            if (output.getParametersCount() > 0) {
                tensor.putFields("parameters", parameters(output.getParametersMap()));
            }
            ListValue.Builder data = ListValue.newBuilder();
            InferTensorContents contents = output.getContents();
            contents.getFp32ContentsList().forEach(v -> data.addValues(number(v)));
            contents.getFp64ContentsList().forEach(v -> data.addValues(number(v)));
            contents.getBytesContentsList().forEach(v -> data.addValues(text(v.toString(StandardCharsets.UTF_8))));
            tensor.putFields("data", Value.newBuilder().setListValue(data).build());
            outputs.addValues(Value.newBuilder().setStructValue(tensor));
        }
        json.putFields("outputs", Value.newBuilder().setListValue(outputs).build());
        return print(json.build());
    }

    private static Value parameters(Map<String, InferParameter> parameters) {
        Struct.Builder json = Struct.newBuilder();
        parameters.forEach((name, value) -> json.putFields(
                name,
                switch (value.getParameterChoiceCase()) {
                    case BOOL_PARAM ->
                        Value.newBuilder().setBoolValue(value.getBoolParam()).build();
                    case INT64_PARAM -> number(value.getInt64Param());
                    case UINT64_PARAM -> number(value.getUint64Param());
                    case DOUBLE_PARAM -> number(value.getDoubleParam());
                    case STRING_PARAM -> text(value.getStringParam());
                    default ->
                        Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
                }));
        return Value.newBuilder().setStructValue(json).build();
    }

    static String print(Message message) {
        try {
            return JsonFormat.printer().omittingInsignificantWhitespace().print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("the protocol's messages always print as JSON", e);
        }
    }

    static Value text(String value) {
        return Value.newBuilder().setStringValue(value).build();
    }

    static Value number(double value) {
        return Double.isNaN(value) || Double.isInfinite(value)
                ? Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build()
                : Value.newBuilder().setNumberValue(value).build();
    }

    private static Map<String, Value> object(Value value, String field) {
        if (value == null || !value.hasStructValue()) {
            throw new BadJson(field, field + " must be a JSON object");
        }
        return value.getStructValue().getFieldsMap();
    }

    private static List<Value> list(Value value, String field) {
        if (value == null || !value.hasListValue()) {
            throw new BadJson(field, field + " must be an array");
        }
        return value.getListValue().getValuesList();
    }

    private static String string(Value value, String field) {
        if (value == null || !value.hasStringValue()) {
            throw new BadJson(field, field + " must be a string");
        }
        return value.getStringValue();
    }

    private static boolean bool(Value value, String field) {
        if (!value.hasBoolValue()) {
            throw new BadJson(field, field + " holds " + RestJson.print(value) + "; BOOL data are true or false");
        }
        return value.getBoolValue();
    }

    private static double number(Value value, String field) {
        if (!value.hasNumberValue()) {
            throw new BadJson(field, field + " holds " + RestJson.print(value) + " where a number belongs");
        }
        return value.getNumberValue();
    }

    private static long integer(Value value, String field) {
        double number = number(value, field);
        if (number != Math.rint(number)) {
            throw new BadJson(field, field + " holds " + number + " where an integer belongs");
        }
        return (long) number;
    }
}
