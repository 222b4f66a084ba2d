package dev.trellis.router.errors;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class StatusMapperTest {
    @Test
    void toStatusException_violations_travelAsBadRequest() throws Exception {
        StatusRuntimeException e = StatusMapper.toStatusException(new CompletionException(new RouterException(
                RouterErrorCode.INVALID_REQUEST,
                "bad",
                List.of(new RouterException.Violation("features.tenure", "expected a number, got string")))));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        BadRequest badRequest = StatusProto.fromThrowable(e).getDetails(0).unpack(BadRequest.class);
        assertThat(badRequest.getFieldViolations(0).getField()).isEqualTo("features.tenure");
    }

    @Test
    void toStatusException_experimentsCodes() {
        assertThat(code(new ExperimentsException(ErrorCode.STALE_REVISION, "stale")))
                .isEqualTo(Status.Code.ABORTED);
        assertThat(code(new ExperimentsException(ErrorCode.NOT_FOUND, "x"))).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(code(new ExperimentsException(ErrorCode.ILLEGAL_TRANSITION, "x")))
                .isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(code(new ExperimentsException(
                        ErrorCode.INVALID_DEFINITION, "x", List.of(new FieldViolation("f", "d")), null)))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(code(new ExperimentsException(ErrorCode.STORE_FAILURE, "x"))).isEqualTo(Status.Code.UNAVAILABLE);
    }

    @Test
    void toStatusException_unexpected_isInternalWithoutCause() {
        StatusRuntimeException e = StatusMapper.toStatusException(new NullPointerException("secret detail"));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(e.getStatus().getDescription()).doesNotContain("secret");
    }

    @Test
    void fromUpstream_userErrorsPassThroughAndUnavailableMeansNoReplica() {
        assertThat(StatusMapper.fromUpstream(Status.INVALID_ARGUMENT.withDescription("input x"), "m", "1")
                        .code())
                .isEqualTo(RouterErrorCode.INVALID_REQUEST);
        assertThat(StatusMapper.fromUpstream(Status.NOT_FOUND.withDescription("no v9"), "m", "9")
                        .getMessage())
                .isEqualTo("no v9");
        assertThat(StatusMapper.fromUpstream(Status.UNAVAILABLE, "m", "1").code())
                .isEqualTo(RouterErrorCode.NO_REPLICA);
        assertThat(StatusMapper.fromUpstream(Status.DATA_LOSS, "m", "1").code())
                .isEqualTo(RouterErrorCode.UPSTREAM_FAILURE);
    }

    private static Status.Code code(Throwable t) {
        return StatusMapper.toStatusException(t).getStatus().getCode();
    }
}
