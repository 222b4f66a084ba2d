package dev.trellis.experiments;

import static java.util.Objects.requireNonNull;

/**
 * One wrong field of a definition, e.g. {@code experiment.variants[1].weight}.
 */
public record FieldViolation(String field, String description) {
    public FieldViolation {
        requireNonNull(field, "field is null");
        requireNonNull(description, "description is null");
    }

    @Override
    public String toString() {
        return field + ": " + description;
    }
}
