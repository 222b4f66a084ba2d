package dev.trellis.experiments;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Failure of an experiments operation, with a code for the wire mapping and, for definition
 * errors, the offending fields. Messages are written for the user who sent the request.
 */
public class ExperimentsException extends RuntimeException {
    private final ErrorCode code;
    private final List<FieldViolation> violations;

    public ExperimentsException(ErrorCode code, String message) {
        this(code, message, List.of(), null);
    }

    public ExperimentsException(ErrorCode code, String message, Throwable cause) {
        this(code, message, List.of(), cause);
    }

    public ExperimentsException(ErrorCode code, String message, List<FieldViolation> violations, Throwable cause) {
        super(requireNonNull(message, "message is null"), cause);
        this.code = requireNonNull(code, "code is null");
        this.violations = List.copyOf(requireNonNull(violations, "violations is null"));
    }

    public ErrorCode code() {
        return code;
    }

    public List<FieldViolation> violations() {
        return violations;
    }
}
