package dev.trellis.common.grpc;

import static java.util.Objects.requireNonNull;

/**
 * One wrong field of a request, sent as a {@code google.rpc.BadRequest.FieldViolation}.
 *
 * @param field path of the field in the request message, protobuf style: {@code features.tenure},
 *     {@code inputs[2].shape}, {@code rows[0].features.plan}
 * @param description what is wrong and what was expected
 */
public record FieldViolation(String field, String description) {
    public FieldViolation {
        requireNonNull(field, "field is null");
        requireNonNull(description, "description is null");
    }
}
