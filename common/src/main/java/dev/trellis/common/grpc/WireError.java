package dev.trellis.common.grpc;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one error shape on the wire, whichever Trellis server answers: a gRPC status code and a
 * message a caller can act on, a {@code google.rpc.ErrorInfo} (reason, domain, metadata) and, when
 * fields of the request were wrong, a {@code google.rpc.BadRequest} with one violation per field.
 * Every server builds its errors with {@link #toStatusException} and reads a peer's with
 * {@link #from}. Immutable.
 *
 * @param code the status code
 * @param message the status message, sent verbatim (never an exception's cause)
 * @param reason the ErrorInfo reason: an UPPER_SNAKE_CASE error code such as {@code UNKNOWN_TENSOR}
 * @param metadata the ErrorInfo metadata: facts a program can use, e.g. {@code available_versions}
 * @param violations the BadRequest field violations; empty for errors that are not about a field
 */
public record WireError(
        Status.Code code,
        String message,
        String reason,
        Map<String, String> metadata,
        List<FieldViolation> violations) {
    public WireError {
        requireNonNull(code, "code is null");
        requireNonNull(message, "message is null");
        requireNonNull(reason, "reason is null");
        metadata = Map.copyOf(requireNonNull(metadata, "metadata is null"));
        violations = List.copyOf(requireNonNull(violations, "violations is null"));
    }

    public static WireError of(Status.Code code, String reason, String message) {
        return new WireError(code, message, reason, Map.of(), List.of());
    }

    /** The status exception to hand to {@code StreamObserver.onError} or to close a call with. */
    public StatusRuntimeException toStatusException(String domain) {
        requireNonNull(domain, "domain is null");
        com.google.rpc.Status.Builder status =
                com.google.rpc.Status.newBuilder().setCode(code.value()).setMessage(message);
        status.addDetails(Any.pack(ErrorInfo.newBuilder()
                .setReason(reason)
                .setDomain(domain)
                .putAllMetadata(metadata)
                .build()));
        if (!violations.isEmpty()) {
            BadRequest.Builder badRequest = BadRequest.newBuilder();
            for (FieldViolation violation : violations) {
                badRequest.addFieldViolations(BadRequest.FieldViolation.newBuilder()
                        .setField(violation.field())
                        .setDescription(violation.description()));
            }
            status.addDetails(Any.pack(badRequest.build()));
        }
        return StatusProto.toStatusRuntimeException(status.build());
    }

    /**
     * Reads the error a peer answered with: its code and message, and its ErrorInfo and BadRequest
     * details when it sent them (a peer that is not a Trellis server may send neither; the reason
     * is then empty).
     */
    public static WireError from(Throwable failure) {
        Status status = Status.fromThrowable(failure);
        String message = status.getDescription() == null ? "" : status.getDescription();
        String reason = "";
        Map<String, String> metadata = new LinkedHashMap<>();
        List<FieldViolation> violations = new ArrayList<>();
        com.google.rpc.Status details = StatusProto.fromThrowable(failure);
        if (details != null) {
            for (Any any : details.getDetailsList()) {
                try {
                    if (any.is(ErrorInfo.class)) {
                        ErrorInfo info = any.unpack(ErrorInfo.class);
                        reason = info.getReason();
                        metadata.putAll(info.getMetadataMap());
                    } else if (any.is(BadRequest.class)) {
                        for (BadRequest.FieldViolation v :
                                any.unpack(BadRequest.class).getFieldViolationsList()) {
                            violations.add(new FieldViolation(v.getField(), v.getDescription()));
                        }
                    }
                } catch (InvalidProtocolBufferException e) {
                    // a detail that does not parse is ignored; the code and message still hold
                }
            }
        }
        return new WireError(status.getCode(), message, reason, metadata, violations);
    }
}
