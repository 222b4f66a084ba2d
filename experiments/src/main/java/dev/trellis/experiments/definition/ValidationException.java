package dev.trellis.experiments.definition;

import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A definition broke one or more rules. The code is INVALID_DEFINITION for a wrong field and
 * ILLEGAL_TRANSITION for a change the current state does not allow.
 */
public class ValidationException extends ExperimentsException {
    public ValidationException(ErrorCode code, List<FieldViolation> violations) {
        super(code, message(violations), violations, null);
    }

    public ValidationException(List<FieldViolation> violations) {
        this(ErrorCode.INVALID_DEFINITION, violations);
    }

    public static ValidationException of(String field, String description) {
        return new ValidationException(List.of(new FieldViolation(field, description)));
    }

    private static String message(List<FieldViolation> violations) {
        return "invalid definition: "
                + violations.stream().map(FieldViolation::toString).collect(Collectors.joining("; "));
    }
}
