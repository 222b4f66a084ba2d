package dev.trellis.common.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WireErrorTest {
    @Test
    void toStatusException_carriesErrorInfoAndBadRequest() throws Exception {
        WireError error = new WireError(
                Status.Code.INVALID_ARGUMENT,
                "features.tenure: expected a number, got string",
                "INVALID_REQUEST",
                Map.of("model", "churn"),
                List.of(new FieldViolation("features.tenure", "expected a number, got string")));

        StatusRuntimeException exception = error.toStatusException("router.trellis.dev");

        assertThat(exception.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(exception.getStatus().getDescription()).isEqualTo("features.tenure: expected a number, got string");
        com.google.rpc.Status status = StatusProto.fromThrowable(exception);
        ErrorInfo info = status.getDetails(0).unpack(ErrorInfo.class);
        assertThat(info.getReason()).isEqualTo("INVALID_REQUEST");
        assertThat(info.getDomain()).isEqualTo("router.trellis.dev");
        assertThat(info.getMetadataMap()).containsEntry("model", "churn");
        BadRequest badRequest = status.getDetails(1).unpack(BadRequest.class);
        assertThat(badRequest.getFieldViolations(0).getField()).isEqualTo("features.tenure");
    }

    @Test
    void from_readsBackWhatToStatusExceptionWrote() {
        WireError error = new WireError(
                Status.Code.NOT_FOUND,
                "model 'x' not found",
                "MODEL_NOT_FOUND",
                Map.of("available_models", "churn,leads"),
                List.of(new FieldViolation("model_name", "unknown")));

        assertThat(WireError.from(error.toStatusException("modelserver.trellis.dev")))
                .isEqualTo(error);
    }

    @Test
    void from_plainStatusWithoutDetails_hasEmptyReason() {
        WireError error =
                WireError.from(Status.UNAVAILABLE.withDescription("down").asRuntimeException());

        assertThat(error.code()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(error.message()).isEqualTo("down");
        assertThat(error.reason()).isEmpty();
        assertThat(error.violations()).isEmpty();
    }
}
