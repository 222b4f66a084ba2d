package dev.trellis.modelserver.errors;

import static java.util.Objects.requireNonNull;

import io.grpc.Status;

/**
 * Every way a model-server call can fail, with the gRPC status it becomes on the wire. Only
 * {@link #INTERNAL_ERROR} and {@link #SCORING_FAILED} are the server's fault; everything else is a
 * caller's mistake or a transient condition, and never maps to INTERNAL.
 */
public enum ErrorCode {
    INVALID_TENSOR_DATATYPE(Status.Code.INVALID_ARGUMENT),
    INVALID_TENSOR_SHAPE(Status.Code.INVALID_ARGUMENT),
    INVALID_TENSOR_CONTENTS(Status.Code.INVALID_ARGUMENT),
    BATCH_SIZE_MISMATCH(Status.Code.INVALID_ARGUMENT),
    UNKNOWN_TENSOR(Status.Code.INVALID_ARGUMENT),
    DUPLICATE_TENSOR(Status.Code.INVALID_ARGUMENT),
    UNKNOWN_OUTPUT(Status.Code.INVALID_ARGUMENT),
    INVALID_PARAMETER(Status.Code.INVALID_ARGUMENT),
    EMPTY_REQUEST(Status.Code.INVALID_ARGUMENT),
    MODEL_NOT_FOUND(Status.Code.NOT_FOUND),
    VERSION_NOT_FOUND(Status.Code.NOT_FOUND),
    REPOSITORY_NOT_FOUND(Status.Code.NOT_FOUND),
    VERSION_NOT_READY(Status.Code.UNAVAILABLE),
    EXPLAIN_TOO_LARGE(Status.Code.INVALID_ARGUMENT),
    REQUEST_TOO_LARGE(Status.Code.RESOURCE_EXHAUSTED),
    QUEUE_FULL(Status.Code.RESOURCE_EXHAUSTED),
    QUEUE_TIMEOUT(Status.Code.DEADLINE_EXCEEDED),
    SHUTTING_DOWN(Status.Code.UNAVAILABLE),
    LOAD_FAILED(Status.Code.FAILED_PRECONDITION),
    SCORING_FAILED(Status.Code.INTERNAL),
    INTERNAL_ERROR(Status.Code.INTERNAL);

    private final Status.Code statusCode;

    ErrorCode(Status.Code statusCode) {
        this.statusCode = requireNonNull(statusCode, "statusCode is null");
    }

    public Status.Code statusCode() {
        return statusCode;
    }
}
