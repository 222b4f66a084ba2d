package dev.trellis.router.scoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class ScoreStreamHandlerTest {
    @Test
    void onNext_outOfOrderCompletions_areSentInRequestOrder() {
        FakeOut out = new FakeOut();
        Map<String, CompletableFuture<ScoreResponse>> pending = new HashMap<>();
        ScoreStreamHandler<ScoreResponse> handler = new ScoreStreamHandler<>(
                out, request -> pending.computeIfAbsent(request.getRequestId(), k -> new CompletableFuture<>()));

        for (String id : List.of("a", "b", "c")) {
            handler.onNext(ScoreRequest.newBuilder().setRequestId(id).build());
        }
        complete(pending, "c");
        complete(pending, "b");
        assertThat(out.sent).isEmpty();
        complete(pending, "a");
        handler.onCompleted();

        assertThat(out.sent).containsExactly("a", "b", "c");
        assertThat(out.completed).isTrue();
    }

    @Test
    void onNext_transportNotReady_holdsResponsesAndStopsAskingForRequests() {
        FakeOut out = new FakeOut();
        ScoreStreamHandler<ScoreResponse> handler = new ScoreStreamHandler<>(
                out,
                request -> CompletableFuture.completedFuture(ScoreResponse.newBuilder()
                        .setRequestId(request.getRequestId())
                        .build()));
        assertThat(out.requested).isEqualTo(ScoreStreamHandler.WINDOW);

        out.ready = false;
        handler.onNext(ScoreRequest.newBuilder().setRequestId("1").build());
        handler.onNext(ScoreRequest.newBuilder().setRequestId("2").build());
        assertThat(out.sent).isEmpty();
        assertThat(out.requested).as("no new requests while the reader is slow").isEqualTo(ScoreStreamHandler.WINDOW);

        out.ready = true;
        out.onReady.run();
        assertThat(out.sent).containsExactly("1", "2");
        assertThat(out.requested).isEqualTo(ScoreStreamHandler.WINDOW + 2);
    }

    @Test
    void onNext_failedRow_endsStreamAfterEarlierResponses() {
        FakeOut out = new FakeOut();
        ScoreStreamHandler<ScoreResponse> handler = new ScoreStreamHandler<>(
                out,
                request -> request.getRequestId().equals("bad")
                        ? CompletableFuture.failedFuture(
                                new RouterException(RouterErrorCode.UNKNOWN_MODEL, "model x is not served"))
                        : CompletableFuture.completedFuture(ScoreResponse.newBuilder()
                                .setRequestId(request.getRequestId())
                                .build()));

        handler.onNext(ScoreRequest.newBuilder().setRequestId("ok").build());
        handler.onNext(ScoreRequest.newBuilder().setRequestId("bad").build());
        handler.onNext(ScoreRequest.newBuilder().setRequestId("late").build());

        assertThat(out.sent).containsExactly("ok");
        assertThat(out.error).isNotNull();
        assertThat(Status.fromThrowable(out.error).getCode()).isEqualTo(Status.Code.NOT_FOUND);
    }

    private static void complete(Map<String, CompletableFuture<ScoreResponse>> pending, String id) {
        pending.get(id).complete(ScoreResponse.newBuilder().setRequestId(id).build());
    }

    private static final class FakeOut extends ServerCallStreamObserver<ScoreResponse> {
        final List<String> sent = new ArrayList<>();
        boolean ready = true;
        int requested;
        boolean completed;
        Throwable error;
        Runnable onReady = () -> {};

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public void setOnCancelHandler(Runnable onCancelHandler) {}

        @Override
        public void setCompression(String compression) {}

        @Override
        public boolean isReady() {
            return ready;
        }

        @Override
        public void setOnReadyHandler(Runnable onReadyHandler) {
            this.onReady = onReadyHandler;
        }

        @Override
        public void disableAutoInboundFlowControl() {}

        @Override
        public void disableAutoRequest() {}

        @Override
        public void request(int count) {
            requested += count;
        }

        @Override
        public void setMessageCompression(boolean enable) {}

        @Override
        public void onNext(ScoreResponse value) {
            sent.add(value.getRequestId());
        }

        @Override
        public void onError(Throwable t) {
            error = t;
        }

        @Override
        public void onCompleted() {
            completed = true;
        }
    }
}
