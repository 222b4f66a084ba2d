package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.common.grpc.WireError;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.List;

/**
 * A failed call to Trellis: the gRPC status code, the server's message and, for
 * {@code INVALID_ARGUMENT}, the field violations of the {@code google.rpc.BadRequest} detail.
 *
 * <pre>{@code
 * try {
 *     client.score("leads", "lead-42", features);
 * } catch (TrellisException e) {
 *     if (e.code() == Status.Code.INVALID_ARGUMENT) {
 *         e.fieldViolations().forEach(v -> System.err.println(v.field() + ": " + v.description()));
 *     }
 * }
 * }</pre>
 */
public final class TrellisException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The gRPC status code. */
    private final Status.Code code;
    /** The server's message. */
    private final String description;
    /** The wrong fields. */
    private final transient List<FieldViolation> fieldViolations;
    /** The google.rpc.ErrorInfo reason. */
    private final String reason;

    /**
     * Creates an exception.
     *
     * @param code the gRPC status code
     * @param description the server's message (may be empty)
     * @param fieldViolations the wrong fields, possibly empty
     * @param cause the underlying exception, or null
     */
    public TrellisException(
            Status.Code code, String description, List<FieldViolation> fieldViolations, Throwable cause) {
        this(code, description, "", fieldViolations, cause);
    }

    /**
     * Creates an exception with the server's error reason.
     *
     * @param code the gRPC status code
     * @param description the server's message (may be empty)
     * @param reason the {@code google.rpc.ErrorInfo} reason, e.g. {@code UNKNOWN_MODEL}; empty when none
     * @param fieldViolations the wrong fields, possibly empty
     * @param cause the underlying exception, or null
     */
    public TrellisException(
            Status.Code code,
            String description,
            String reason,
            List<FieldViolation> fieldViolations,
            Throwable cause) {
        super(code + (description == null || description.isEmpty() ? "" : ": " + description), cause);
        this.code = requireNonNull(code, "code is null");
        this.description = description == null ? "" : description;
        this.reason = reason == null ? "" : reason;
        this.fieldViolations = List.copyOf(requireNonNull(fieldViolations, "fieldViolations is null"));
    }

    /**
     * Converts a failed call's exception, reading the {@code google.rpc.Status} details when present.
     * Returns the argument itself when it already is a {@code TrellisException}.
     *
     * @param throwable a {@link StatusRuntimeException}, {@link StatusException} or any other failure
     * @return the converted exception
     */
    public static TrellisException from(Throwable throwable) {
        Throwable t = requireNonNull(throwable, "throwable is null");
        while ((t instanceof java.util.concurrent.CompletionException
                        || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof TrellisException trellis) {
            return trellis;
        }
        WireError error = WireError.from(t);
        List<FieldViolation> violations = error.violations().stream()
                .map(v -> new FieldViolation(v.field(), v.description()))
                .toList();
        String message = error.message().isEmpty() ? null : error.message();
        if (message == null && error.code() == Status.Code.UNKNOWN && t.getMessage() != null) {
            message = t.getMessage();
        }
        return new TrellisException(error.code(), message, error.reason(), violations, t);
    }

    /**
     * The gRPC status code, e.g. {@code INVALID_ARGUMENT}, {@code NOT_FOUND}, {@code UNAVAILABLE}.
     *
     * @return the code
     */
    public Status.Code code() {
        return code;
    }

    /**
     * The server's message without the code, possibly empty.
     *
     * @return the description
     */
    public String description() {
        return description;
    }

    /**
     * The error's reason from the {@code google.rpc.ErrorInfo} detail every Trellis server sends
     * (e.g. {@code UNKNOWN_MODEL}, {@code MISSING_CREDENTIAL}, {@code MALFORMED_REQUEST}); empty when
     * there is none.
     *
     * @return the reason
     */
    public String reason() {
        return reason;
    }

    /**
     * The wrong fields from the {@code google.rpc.BadRequest} detail; empty when there is none.
     *
     * @return an immutable list
     */
    public List<FieldViolation> fieldViolations() {
        // null only after Java deserialization, which drops the (transient) list
        return fieldViolations == null ? List.of() : fieldViolations;
    }
}
