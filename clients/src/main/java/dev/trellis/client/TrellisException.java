package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
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
        super(code + (description == null || description.isEmpty() ? "" : ": " + description), cause);
        this.code = requireNonNull(code, "code is null");
        this.description = description == null ? "" : description;
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
        Status status = Status.fromThrowable(t);
        List<FieldViolation> violations = new ArrayList<>();
        com.google.rpc.Status details = StatusProto.fromThrowable(t);
        if (details != null) {
            for (Any any : details.getDetailsList()) {
                if (any.is(BadRequest.class)) {
                    try {
                        for (BadRequest.FieldViolation v :
                                any.unpack(BadRequest.class).getFieldViolationsList()) {
                            violations.add(new FieldViolation(v.getField(), v.getDescription()));
                        }
                    } catch (InvalidProtocolBufferException ignored) {
                        // a malformed detail must not hide the status itself
                    }
                }
            }
        }
        String message = status.getDescription();
        if (message == null && status.getCode() == Status.Code.UNKNOWN && t.getMessage() != null) {
            message = t.getMessage();
        }
        return new TrellisException(status.getCode(), message, violations, t);
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
     * The wrong fields from the {@code google.rpc.BadRequest} detail; empty when there is none.
     *
     * @return an immutable list
     */
    public List<FieldViolation> fieldViolations() {
        // null only after Java deserialization, which drops the (transient) list
        return fieldViolations == null ? List.of() : fieldViolations;
    }
}
