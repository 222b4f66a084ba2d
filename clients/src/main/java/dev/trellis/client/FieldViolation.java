package dev.trellis.client;

import static java.util.Objects.requireNonNull;

/**
 * One wrong field of a rejected request, from the {@code google.rpc.BadRequest} detail of an
 * {@code INVALID_ARGUMENT} status.
 *
 * @param field path of the field, e.g. {@code features.tenure} or {@code experiment.variants[1].weight}
 * @param description what is wrong with it, in words a user can act on
 */
public record FieldViolation(String field, String description) {
    /**
     * Validates the components.
     *
     * @param field the field path, not null
     * @param description the description, not null
     */
    public FieldViolation {
        requireNonNull(field, "field is null");
        requireNonNull(description, "description is null");
    }

    /** Returns {@code field: description}. */
    @Override
    public String toString() {
        return field + ": " + description;
    }
}
