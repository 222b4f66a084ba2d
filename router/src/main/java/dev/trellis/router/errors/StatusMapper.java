package dev.trellis.router.errors;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where errors become gRPC statuses. Router and experiments error codes map to
 * fixed status codes; field violations travel as {@code google.rpc.BadRequest} details; causes
 * are logged, never sent. Thread-safe (stateless).
 */
public final class StatusMapper {
    private static final Logger log = LoggerFactory.getLogger(StatusMapper.class);

    private StatusMapper() {}

    /** The status exception to hand to {@code StreamObserver.onError}. */
    public static StatusRuntimeException toStatusException(Throwable t) {
        Throwable error = unwrap(t);
        if (error instanceof RouterException e) {
            return build(
                    routerCode(e.code()),
                    e.getMessage(),
                    e.violations().stream()
                            .map(v -> new FieldViolation(v.field(), v.description()))
                            .toList());
        }
        if (error instanceof ExperimentsException e) {
            if (e.getCause() != null) {
                log.warn("experiments error {}: {}", e.code(), e.getMessage(), e.getCause());
            }
            return build(experimentsCode(e), e.getMessage(), e.violations());
        }
        if (error instanceof StatusRuntimeException e) {
            return e;
        }
        if (error instanceof StatusException e) {
            return new StatusRuntimeException(e.getStatus(), e.getTrailers());
        }
        if (error instanceof IllegalArgumentException e) {
            // Value constructors reject bad input with IllegalArgumentException: a user's mistake.
            return build(Code.INVALID_ARGUMENT, e.getMessage(), List.of());
        }
        log.error("unexpected error", error);
        return build(Code.INTERNAL, "internal error in the router (see its log)", List.of());
    }

    /**
     * Maps a status from a model-server to what the router's caller sees: NOT_FOUND and
     * INVALID_ARGUMENT pass through with their messages, UNAVAILABLE means no replica could serve
     * (retries already happened in the channel), anything else is an upstream failure.
     */
    public static RouterException fromUpstream(Status status, String model, String version) {
        String what = "model " + model + (version.isEmpty() ? "" : " version " + version);
        String detail = status.getDescription() == null ? status.getCode().toString() : status.getDescription();
        return switch (status.getCode()) {
            case NOT_FOUND -> new RouterException(RouterErrorCode.UNKNOWN_VERSION, detail);
            case INVALID_ARGUMENT -> new RouterException(RouterErrorCode.INVALID_REQUEST, detail);
            case RESOURCE_EXHAUSTED -> new RouterException(RouterErrorCode.TOO_LARGE, detail);
            case DEADLINE_EXCEEDED ->
                new RouterException(RouterErrorCode.DEADLINE_EXCEEDED, "deadline exceeded while scoring " + what);
            case CANCELLED -> new RouterException(RouterErrorCode.CANCELLED, "cancelled");
            case UNAVAILABLE ->
                new RouterException(
                        RouterErrorCode.NO_REPLICA, "no model-server replica could serve " + what + ": " + detail);
            default ->
                new RouterException(
                        RouterErrorCode.UPSTREAM_FAILURE,
                        "model-server failed to score " + what + " (" + status.getCode() + ")");
        };
    }

    private static Code routerCode(RouterErrorCode code) {
        return switch (code) {
            case INVALID_REQUEST -> Code.INVALID_ARGUMENT;
            case UNKNOWN_MODEL, UNKNOWN_VERSION -> Code.NOT_FOUND;
            case VERSION_NOT_LOADABLE -> Code.FAILED_PRECONDITION;
            case NO_REPLICA -> Code.UNAVAILABLE;
            case DEADLINE_EXCEEDED -> Code.DEADLINE_EXCEEDED;
            case TOO_LARGE -> Code.RESOURCE_EXHAUSTED;
            case UNAUTHENTICATED -> Code.UNAUTHENTICATED;
            case PERMISSION_DENIED -> Code.PERMISSION_DENIED;
            case UPSTREAM_FAILURE -> Code.INTERNAL;
            case CANCELLED -> Code.CANCELLED;
        };
    }

    private static Code experimentsCode(ExperimentsException e) {
        return switch (e.code()) {
            case INVALID_DEFINITION -> Code.INVALID_ARGUMENT;
            case NOT_FOUND -> Code.NOT_FOUND;
            case STALE_REVISION -> Code.ABORTED;
            case ILLEGAL_TRANSITION -> Code.FAILED_PRECONDITION;
            case ALREADY_EXISTS -> Code.ALREADY_EXISTS;
            case STORE_FAILURE -> Code.UNAVAILABLE;
        };
    }

    private static StatusRuntimeException build(Code code, String message, List<FieldViolation> violations) {
        com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder()
                .setCode(code.getNumber())
                .setMessage(message == null ? code.name() : message);
        if (!violations.isEmpty()) {
            BadRequest.Builder badRequest = BadRequest.newBuilder();
            for (FieldViolation v : violations) {
                badRequest.addFieldViolations(BadRequest.FieldViolation.newBuilder()
                        .setField(v.field())
                        .setDescription(v.description()));
            }
            status.addDetails(Any.pack(badRequest.build()));
        }
        return StatusProto.toStatusRuntimeException(status.build());
    }

    private static Throwable unwrap(Throwable t) {
        Throwable error = t;
        while ((error instanceof CompletionException || error instanceof ExecutionException)
                && error.getCause() != null) {
            error = error.getCause();
        }
        return error;
    }
}
