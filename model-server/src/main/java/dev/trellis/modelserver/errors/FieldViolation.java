package dev.trellis.modelserver.errors;

import static java.util.Objects.requireNonNull;

/**
 * One wrong field of a request, reported as a {@code google.rpc.BadRequest.FieldViolation}.
 *
 * @param field path of the field, e.g. {@code inputs[2]} or {@code inputs[tenure].shape}
 * @param description what is wrong and what was expected
 */
public record FieldViolation(String field, String description) {
    public FieldViolation {
        requireNonNull(field, "field is null");
        requireNonNull(description, "description is null");
    }
}
