package dev.trellis.modelserver.inference;

import com.google.protobuf.ByteString;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest.InferInputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * The elements of one input tensor, from its typed contents or from its raw bytes (little-endian;
 * BYTES as a 4-byte little-endian length then the bytes), for every datatype of the protocol but
 * FP16 and BF16: numbers as doubles (BOOL as 0 or 1, unsigned types unsigned), BYTES as UTF-8
 * strings with "" as null. Counts that do not match the shape are refused with a violation on the
 * contents field. Stateless and thread-safe.
 */
final class TensorElements {
    private static final Set<String> NUMERIC =
            Set.of("BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP32", "FP64");

    private TensorElements() {}

    static boolean isNumeric(String datatype) {
        return NUMERIC.contains(datatype);
    }

    /** The field a value error names: the typed contents field of the datatype, or the raw entry. */
    static String field(int index, InferInputTensor tensor, ByteString raw) {
        return raw != null
                ? "raw_input_contents[" + index + "]"
                : "inputs[" + index + "].contents." + contentsField(tensor.getDatatype());
    }

    private static String contentsField(String datatype) {
        return switch (datatype) {
            case "BOOL" -> "bool_contents";
            case "INT8", "INT16", "INT32" -> "int_contents";
            case "INT64" -> "int64_contents";
            case "UINT8", "UINT16", "UINT32" -> "uint_contents";
            case "UINT64" -> "uint64_contents";
            case "FP32" -> "fp32_contents";
            case "FP64" -> "fp64_contents";
            case "BYTES" -> "bytes_contents";
            default -> throw new IllegalStateException("datatype checked before: " + datatype);
        };
    }

    /** {@code count} numbers of a numeric tensor. */
    static double[] numbers(int index, InferInputTensor tensor, ByteString raw, int count) {
        String datatype = tensor.getDatatype();
        double[] values = new double[count];
        if (raw != null) {
            int width = width(datatype);
            if (raw.size() != (long) count * width) {
                throw ModelServerException.badField(
                        ErrorCode.INVALID_TENSOR_CONTENTS,
                        "raw_input_contents[" + index + "]",
                        "raw contents of input '" + tensor.getName() + "' have " + raw.size() + " bytes; shape "
                                + tensor.getShapeList() + " of " + datatype + " needs " + (long) count * width);
            }
            ByteBuffer buffer = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++) {
                values[i] = switch (datatype) {
                    case "BOOL" -> buffer.get() != 0 ? 1 : 0;
                    case "INT8" -> buffer.get();
                    case "INT16" -> buffer.getShort();
                    case "INT32" -> buffer.getInt();
                    case "INT64" -> buffer.getLong();
                    case "UINT8" -> Byte.toUnsignedInt(buffer.get());
                    case "UINT16" -> Short.toUnsignedInt(buffer.getShort());
                    case "UINT32" -> Integer.toUnsignedLong(buffer.getInt());
                    case "UINT64" -> unsigned(buffer.getLong());
                    case "FP32" -> buffer.getFloat();
                    case "FP64" -> buffer.getDouble();
                    default -> throw new IllegalStateException("datatype checked before: " + datatype);
                };
            }
            return values;
        }
        InferTensorContents contents = tensor.getContents();
        int present = switch (datatype) {
            case "BOOL" -> contents.getBoolContentsCount();
            case "INT8", "INT16", "INT32" -> contents.getIntContentsCount();
            case "INT64" -> contents.getInt64ContentsCount();
            case "UINT8", "UINT16", "UINT32" -> contents.getUintContentsCount();
            case "UINT64" -> contents.getUint64ContentsCount();
            case "FP32" -> contents.getFp32ContentsCount();
            case "FP64" -> contents.getFp64ContentsCount();
            default -> throw new IllegalStateException("datatype checked before: " + datatype);
        };
        checkCount(index, tensor, present, count);
        for (int i = 0; i < count; i++) {
            values[i] = switch (datatype) {
                case "BOOL" -> contents.getBoolContents(i) ? 1 : 0;
                case "INT8", "INT16", "INT32" -> contents.getIntContents(i);
                case "INT64" -> contents.getInt64Contents(i);
                case "UINT8", "UINT16", "UINT32" -> Integer.toUnsignedLong(contents.getUintContents(i));
                case "UINT64" -> unsigned(contents.getUint64Contents(i));
                case "FP32" -> contents.getFp32Contents(i);
                case "FP64" -> contents.getFp64Contents(i);
                default -> throw new IllegalStateException("datatype checked before: " + datatype);
            };
        }
        return values;
    }

    /** {@code count} strings of a BYTES tensor; an empty element is null (missing). */
    static String[] strings(int index, InferInputTensor tensor, ByteString raw, int count) {
        String[] values = new String[count];
        if (raw == null) {
            InferTensorContents contents = tensor.getContents();
            checkCount(index, tensor, contents.getBytesContentsCount(), count);
            for (int i = 0; i < count; i++) {
                values[i] = text(contents.getBytesContents(i));
            }
            return values;
        }
        ByteBuffer buffer = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            if (buffer.remaining() < 4) {
                throw rawBytesError(index, tensor, "ends after " + i + " of " + count + " values");
            }
            int length = buffer.getInt();
            if (length < 0 || length > buffer.remaining()) {
                throw rawBytesError(
                        index,
                        tensor,
                        "value " + i + " declares " + Integer.toUnsignedString(length) + " bytes but only "
                                + buffer.remaining() + " remain");
            }
            values[i] = text(ByteString.copyFrom(buffer, length));
        }
        if (buffer.hasRemaining()) {
            throw rawBytesError(
                    index, tensor, "has " + buffer.remaining() + " bytes after the " + count + " values of the shape");
        }
        return values;
    }

    private static String text(ByteString value) {
        return value.isEmpty() ? null : value.toString(StandardCharsets.UTF_8);
    }

    private static double unsigned(long value) {
        double high = (double) (value >>> 1) * 2.0;
        return high + (value & 1);
    }

    private static int width(String datatype) {
        return switch (datatype) {
            case "BOOL", "INT8", "UINT8" -> 1;
            case "INT16", "UINT16" -> 2;
            case "INT32", "UINT32", "FP32" -> 4;
            case "INT64", "UINT64", "FP64" -> 8;
            default -> throw new IllegalStateException("datatype checked before: " + datatype);
        };
    }

    private static void checkCount(int index, InferInputTensor tensor, int present, int count) {
        if (present != count) {
            String field = contentsField(tensor.getDatatype());
            throw ModelServerException.badField(
                    ErrorCode.INVALID_TENSOR_CONTENTS,
                    "inputs[" + index + "].contents." + field,
                    "input '" + tensor.getName() + "' (" + tensor.getDatatype() + ") has " + present
                            + " values in contents." + field + "; its shape " + tensor.getShapeList() + " needs "
                            + count);
        }
    }

    private static ModelServerException rawBytesError(int index, InferInputTensor tensor, String problem) {
        return ModelServerException.badField(
                ErrorCode.INVALID_TENSOR_CONTENTS,
                "raw_input_contents[" + index + "]",
                "raw BYTES contents of input '" + tensor.getName() + "' " + problem
                        + " (expected a 4-byte little-endian length before each value)");
    }
}
