package dev.trellis.router.errors;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.trellis.common.grpc.WireError;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Map;
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
        ErrorInfo info = StatusProto.fromThrowable(e).getDetails(0).unpack(ErrorInfo.class);
        assertThat(info.getReason()).isEqualTo("INVALID_REQUEST");
        assertThat(info.getDomain()).isEqualTo("router.trellis.dev");
        BadRequest badRequest = StatusProto.fromThrowable(e).getDetails(1).unpack(BadRequest.class);
        assertThat(badRequest.getFieldViolations(0).getField()).isEqualTo("features.tenure");
    }

    @Test
    void toStatusException_illegalArgument_isABugNotTheCallersMistake() {
        StatusRuntimeException e = StatusMapper.toStatusException(new IllegalArgumentException("index 7 out of range"));

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(e.getStatus().getDescription()).doesNotContain("index 7");
        assertThat(WireError.from(e).reason()).isEqualTo("INTERNAL_ERROR");
    }

    @Test
    void fromUpstream_keepsTheModelServersViolationsAndReason() {
        StatusRuntimeException upstream = new WireError(
                        Status.Code.INVALID_ARGUMENT,
                        "explain is limited to 1000 rows",
                        "EXPLAIN_TOO_LARGE",
                        Map.of("max_explain_rows", "1000"),
                        List.of(new dev.trellis.common.grpc.FieldViolation(
                                "parameters[explain]", "explain is limited to 1000 rows per request")))
                .toStatusException("modelserver.trellis.dev");

        StatusRuntimeException relayed = StatusMapper.toStatusException(StatusMapper.fromUpstream(upstream, "m", "1"));

        WireError error = WireError.from(relayed);
        assertThat(error.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(error.message()).isEqualTo("explain is limited to 1000 rows");
        assertThat(error.reason()).isEqualTo("INVALID_REQUEST");
        assertThat(error.metadata())
                .containsEntry("upstream_reason", "EXPLAIN_TOO_LARGE")
                .containsEntry("max_explain_rows", "1000");
        assertThat(error.violations())
                .extracting(dev.trellis.common.grpc.FieldViolation::field)
                .containsExactly("parameters[explain]");
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
        assertThat(StatusMapper.fromUpstream(
                                Status.INVALID_ARGUMENT
                                        .withDescription("input x")
                                        .asRuntimeException(),
                                "m",
                                "1")
                        .code())
                .isEqualTo(RouterErrorCode.INVALID_REQUEST);
        assertThat(StatusMapper.fromUpstream(
                                Status.NOT_FOUND.withDescription("no v9").asRuntimeException(), "m", "9")
                        .getMessage())
                .isEqualTo("no v9");
        assertThat(StatusMapper.fromUpstream(Status.UNAVAILABLE.asRuntimeException(), "m", "1")
                        .code())
                .isEqualTo(RouterErrorCode.NO_REPLICA);
        assertThat(StatusMapper.fromUpstream(Status.DATA_LOSS.asRuntimeException(), "m", "1")
                        .code())
                .isEqualTo(RouterErrorCode.UPSTREAM_FAILURE);
    }

    private static Status.Code code(Throwable t) {
        return StatusMapper.toStatusException(t).getStatus().getCode();
    }
}
