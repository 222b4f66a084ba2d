package dev.trellis.modelserver.errors;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.grpc.FieldViolation;
import java.util.List;
import java.util.Map;

/**
 * A failure with a code and a message a caller can act on. The message goes to the client verbatim,
 * so it never contains an exception's cause or internal paths beyond the model repository layout.
 */
public final class ModelServerException extends RuntimeException {
    private final ErrorCode errorCode;
    private final List<FieldViolation> violations;
    private final Map<String, String> metadata;

    public ModelServerException(ErrorCode errorCode, String message) {
        this(errorCode, message, List.of(), Map.of());
    }

    public ModelServerException(
            ErrorCode errorCode, String message, List<FieldViolation> violations, Map<String, String> metadata) {
        super(requireNonNull(message, "message is null"), null, false, false);
        this.errorCode = requireNonNull(errorCode, "errorCode is null");
        this.violations = List.copyOf(requireNonNull(violations, "violations is null"));
        this.metadata = Map.copyOf(requireNonNull(metadata, "metadata is null"));
    }

    public static ModelServerException badField(ErrorCode errorCode, String field, String description) {
        return new ModelServerException(
                errorCode, description, List.of(new FieldViolation(field, description)), Map.of());
    }

    public ErrorCode errorCode() {
        return errorCode;
    }

    public List<FieldViolation> violations() {
        return violations;
    }

    public Map<String, String> metadata() {
        return metadata;
    }
}
