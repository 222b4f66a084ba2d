package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.StatusMapper;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * One ScoreStream call with flow control: at most {@link #WINDOW} requests are in flight; a new
 * request is asked for ({@code request(1)}) only when a response has been handed to a ready
 * transport, so a slow reader slows the writer instead of filling the router's memory. Responses
 * leave in request order. The first failing row ends the stream with its status, after the
 * responses of the rows before it. Thread-safe: all state is guarded by {@code lock}.
 *
 * @param <R> the response type (the router sends each row's ScoreResponse already encoded)
 */
final class ScoreStreamHandler<R> implements StreamObserver<ScoreRequest> {
    static final int WINDOW = 32;

    private final ServerCallStreamObserver<R> out;
    private final Function<ScoreRequest, CompletableFuture<R>> scorer;
    private final Object lock = new Object();

    @GuardedBy("lock")
    private final ArrayDeque<CompletableFuture<R>> inFlight = new ArrayDeque<>();

    @GuardedBy("lock")
    private boolean inputDone;

    @GuardedBy("lock")
    private boolean finished;

    ScoreStreamHandler(ServerCallStreamObserver<R> out, Function<ScoreRequest, CompletableFuture<R>> scorer) {
        this.out = requireNonNull(out, "out is null");
        this.scorer = requireNonNull(scorer, "scorer is null");
        out.disableAutoRequest();
        out.setOnReadyHandler(this::drain);
        out.setOnCancelHandler(() -> {
            synchronized (lock) {
                finished = true;
                inFlight.forEach(f -> f.cancel(false));
                inFlight.clear();
            }
        });
        out.request(WINDOW);
    }

    @Override
    public void onNext(ScoreRequest request) {
        // scored in the call's gRPC context (this thread), so deadline and cancellation propagate
        CompletableFuture<R> future = scorer.apply(request);
        synchronized (lock) {
            if (finished) {
                return;
            }
            inFlight.addLast(future);
        }
        future.whenComplete((r, e) -> drain());
    }

    @Override
    public void onError(Throwable t) {
        synchronized (lock) {
            finished = true;
            inFlight.clear();
        }
    }

    @Override
    public void onCompleted() {
        synchronized (lock) {
            inputDone = true;
        }
        drain();
    }

    private void drain() {
        synchronized (lock) {
            while (!finished) {
                CompletableFuture<R> head = inFlight.peekFirst();
                if (head == null) {
                    if (inputDone) {
                        finished = true;
                        out.onCompleted();
                    }
                    return;
                }
                if (!head.isDone() || !out.isReady()) {
                    return; // resumed by the head's completion or by onReady
                }
                inFlight.removeFirst();
                R response;
                try {
                    response = head.join();
                } catch (RuntimeException e) {
                    finished = true;
                    inFlight.forEach(f -> f.cancel(false));
                    inFlight.clear();
                    Throwable cause = e.getCause() == null ? e : e.getCause();
                    out.onError(StatusMapper.toStatusException(
                            cause instanceof java.util.concurrent.CancellationException
                                    ? new RouterException(RouterErrorCode.CANCELLED, "cancelled")
                                    : cause));
                    return;
                }
                out.onNext(response);
                if (!inputDone) {
                    out.request(1);
                }
            }
        }
    }
}
