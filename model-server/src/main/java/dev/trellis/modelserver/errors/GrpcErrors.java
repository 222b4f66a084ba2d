package dev.trellis.modelserver.errors;

import dev.trellis.common.grpc.WireError;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where internal failures become gRPC statuses, in the shape every Trellis server
 * answers with ({@link WireError}): an {@code ErrorInfo} (reason = the {@link ErrorCode} name,
 * domain {@value #DOMAIN}) and, for request field problems, a {@code BadRequest} with field
 * violations. Unexpected exceptions become a generic INTERNAL whose message never carries the
 * cause; the cause is logged here instead. Thread-safe (stateless).
 */
public final class GrpcErrors {
    public static final String DOMAIN = "modelserver.trellis.dev";

    private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

    private GrpcErrors() {}

    public static StatusRuntimeException toStatusException(Throwable failure) {
        Throwable unwrapped = unwrap(failure);
        if (unwrapped instanceof StatusRuntimeException statusException) {
            return statusException;
        }
        ModelServerException error;
        if (unwrapped instanceof ModelServerException modelServerException) {
            error = modelServerException;
        } else {
            log.error("internal error", unwrapped);
            error = new ModelServerException(ErrorCode.INTERNAL_ERROR, "internal error");
        }
        return new WireError(
                        error.errorCode().statusCode(),
                        error.getMessage(),
                        error.errorCode().name(),
                        error.metadata(),
                        error.violations())
                .toStatusException(DOMAIN);
    }

    private static Throwable unwrap(Throwable failure) {
        Throwable current = failure;
        while ((current instanceof CompletionException || current instanceof ExecutionException)
                && current.getCause() != null) {
            current = current.getCause();
        }
        return current;
    }
}
