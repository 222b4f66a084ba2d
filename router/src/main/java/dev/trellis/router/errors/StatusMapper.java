package dev.trellis.router.errors;

import dev.trellis.common.grpc.FieldViolation;
import dev.trellis.common.grpc.WireError;
import dev.trellis.experiments.ExperimentsException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where errors become gRPC statuses, in the shape every Trellis server answers
 * with ({@link WireError}): router and experiments error codes map to fixed status codes, the
 * code's name is the {@code google.rpc.ErrorInfo} reason (domain {@value #DOMAIN}), field
 * violations travel as {@code google.rpc.BadRequest}. Anything else is a bug: INTERNAL, the cause
 * logged, never sent. Thread-safe (stateless).
 */
public final class StatusMapper {
    public static final String DOMAIN = "router.trellis.dev";
    /** ErrorInfo metadata of a relayed model-server error: the model-server's own reason. */
    public static final String UPSTREAM_REASON = "upstream_reason";

    private static final Logger log = LoggerFactory.getLogger(StatusMapper.class);

    private StatusMapper() {}

    /** The status exception to hand to {@code StreamObserver.onError}. */
    public static StatusRuntimeException toStatusException(Throwable t) {
        Throwable error = unwrap(t);
        if (error instanceof RouterException e) {
            return wire(
                    routerCode(e.code()),
                    e.getMessage(),
                    e.code().name(),
                    e.metadata(),
                    e.violations().stream().map(v -> new FieldViolation(v.field(), v.description())));
        }
        if (error instanceof ExperimentsException e) {
            if (e.getCause() != null) {
                log.warn("experiments error {}: {}", e.code(), e.getMessage(), e.getCause());
            }
            return wire(
                    experimentsCode(e),
                    e.getMessage(),
                    e.code().name(),
                    Map.of(),
                    e.violations().stream().map(v -> new FieldViolation(v.field(), v.description())));
        }
        if (error instanceof StatusRuntimeException e) {
            return e;
        }
        if (error instanceof StatusException e) {
            return new StatusRuntimeException(e.getStatus(), e.getTrailers());
        }
        // a user's mistake is always a RouterException or an ExperimentsException by now
        log.error("unexpected error", error);
        return WireError.of(Status.Code.INTERNAL, "INTERNAL_ERROR", "internal error in the router (see its log)")
                .toStatusException(DOMAIN);
    }

    /**
     * Maps a model-server's failure to what the router's caller sees: NOT_FOUND and
     * INVALID_ARGUMENT pass through with their messages and field violations, RESOURCE_EXHAUSTED
     * (a full queue, a too large request) too, UNAVAILABLE means no replica could serve (retries
     * already happened in the channel), anything else is an upstream failure. The model-server's
     * ErrorInfo reason and metadata come along in the router's ErrorInfo.
     */
    public static RouterException fromUpstream(Throwable failure, String model, String version) {
        WireError upstream = WireError.from(failure);
        String what = "model " + model + (version.isEmpty() ? "" : " version " + version);
        String detail = upstream.message().isEmpty() ? upstream.code().toString() : upstream.message();
        Map<String, String> metadata = new LinkedHashMap<>(upstream.metadata());
        if (!upstream.reason().isEmpty()) {
            metadata.put(UPSTREAM_REASON, upstream.reason());
        }
        List<RouterException.Violation> violations = upstream.violations().stream()
                .map(v -> new RouterException.Violation(v.field(), v.description()))
                .toList();
        return switch (upstream.code()) {
            case NOT_FOUND -> new RouterException(RouterErrorCode.UNKNOWN_VERSION, detail, violations, metadata, null);
            case INVALID_ARGUMENT ->
                new RouterException(RouterErrorCode.INVALID_REQUEST, detail, violations, metadata, null);
            case RESOURCE_EXHAUSTED ->
                new RouterException(RouterErrorCode.TOO_LARGE, detail, violations, metadata, null);
            case DEADLINE_EXCEEDED ->
                new RouterException(
                        RouterErrorCode.DEADLINE_EXCEEDED,
                        "deadline exceeded while scoring " + what,
                        List.of(),
                        metadata,
                        null);
            case CANCELLED -> new RouterException(RouterErrorCode.CANCELLED, "cancelled");
            case UNAVAILABLE ->
                new RouterException(
                        RouterErrorCode.NO_REPLICA,
                        "no model-server replica could serve " + what + ": " + detail,
                        List.of(),
                        metadata,
                        null);
            default ->
                new RouterException(
                        RouterErrorCode.UPSTREAM_FAILURE,
                        "model-server failed to score " + what + " (" + upstream.code() + ")",
                        List.of(),
                        metadata,
                        null);
        };
    }

    private static Status.Code routerCode(RouterErrorCode code) {
        return switch (code) {
            case INVALID_REQUEST -> Status.Code.INVALID_ARGUMENT;
            case UNKNOWN_MODEL, UNKNOWN_VERSION -> Status.Code.NOT_FOUND;
            case VERSION_NOT_LOADABLE -> Status.Code.FAILED_PRECONDITION;
            case NO_REPLICA -> Status.Code.UNAVAILABLE;
            case DEADLINE_EXCEEDED -> Status.Code.DEADLINE_EXCEEDED;
            case TOO_LARGE -> Status.Code.RESOURCE_EXHAUSTED;
            case UNAUTHENTICATED -> Status.Code.UNAUTHENTICATED;
            case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
            case UPSTREAM_FAILURE -> Status.Code.INTERNAL;
            case CANCELLED -> Status.Code.CANCELLED;
        };
    }

    private static Status.Code experimentsCode(ExperimentsException e) {
        return switch (e.code()) {
            case INVALID_DEFINITION -> Status.Code.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.Code.NOT_FOUND;
            case STALE_REVISION -> Status.Code.ABORTED;
            case ILLEGAL_TRANSITION -> Status.Code.FAILED_PRECONDITION;
            case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
            case STORE_FAILURE -> Status.Code.UNAVAILABLE;
        };
    }

    private static StatusRuntimeException wire(
            Status.Code code,
            String message,
            String reason,
            Map<String, String> metadata,
            Stream<FieldViolation> violations) {
        return new WireError(code, message, reason, metadata, violations.toList()).toStatusException(DOMAIN);
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
