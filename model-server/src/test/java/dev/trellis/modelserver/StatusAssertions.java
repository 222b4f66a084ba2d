package dev.trellis.modelserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Optional;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** Assertions on gRPC errors and their google.rpc details. */
final class StatusAssertions {
    private StatusAssertions() {}

    /** Asserts the call fails with {@code code} and a message containing every fragment; returns the rich status. */
    static com.google.rpc.Status assertFails(ThrowingCallable call, Status.Code code, String... fragments) {
        StatusRuntimeException failure = catchThrowableOfType(StatusRuntimeException.class, call);
        assertThat(failure).as("expected %s", code).isNotNull();
        assertThat(failure.getStatus().getCode())
                .as(failure.getStatus().toString())
                .isEqualTo(code);
        for (String fragment : fragments) {
            assertThat(failure.getStatus().getDescription()).contains(fragment);
        }
        com.google.rpc.Status status = StatusProto.fromThrowable(failure);
        return status == null ? com.google.rpc.Status.getDefaultInstance() : status;
    }

    static List<BadRequest.FieldViolation> violations(com.google.rpc.Status status) {
        return status.getDetailsList().stream()
                .filter(any -> any.is(BadRequest.class))
                .map(any -> unpack(any, BadRequest.class))
                .flatMap(badRequest -> badRequest.getFieldViolationsList().stream())
                .toList();
    }

    static Optional<ErrorInfo> errorInfo(com.google.rpc.Status status) {
        return status.getDetailsList().stream()
                .filter(any -> any.is(ErrorInfo.class))
                .map(any -> unpack(any, ErrorInfo.class))
                .findFirst();
    }

    private static <T extends com.google.protobuf.Message> T unpack(com.google.protobuf.Any any, Class<T> type) {
        try {
            return any.unpack(type);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }
}
