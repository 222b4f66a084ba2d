package dev.trellis.modelserver.errors;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where internal failures become gRPC statuses: a {@code google.rpc.Status} with an
 * {@code ErrorInfo} (reason = the {@link ErrorCode} name) and, for request field problems, a
 * {@code BadRequest} with field violations. Unexpected exceptions become a generic INTERNAL whose
 * message never carries the cause; the cause is logged here instead. Thread-safe (stateless).
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
        com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder()
                .setCode(error.errorCode().statusCode().value())
                .setMessage(error.getMessage());
        status.addDetails(Any.pack(ErrorInfo.newBuilder()
                .setReason(error.errorCode().name())
                .setDomain(DOMAIN)
                .putAllMetadata(error.metadata())
                .build()));
        if (!error.violations().isEmpty()) {
            BadRequest.Builder badRequest = BadRequest.newBuilder();
            for (FieldViolation violation : error.violations()) {
                badRequest.addFieldViolations(BadRequest.FieldViolation.newBuilder()
                        .setField(violation.field())
                        .setDescription(violation.description()));
            }
            status.addDetails(Any.pack(badRequest.build()));
        }
        return StatusProto.toStatusRuntimeException(status.build());
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
