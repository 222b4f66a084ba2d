package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.errors.StatusMapper;
import dev.trellis.router.telemetry.TraceContextServerInterceptor;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import jakarta.inject.Inject;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** {@code trellis.v1.Scoring}: a SERVER span per call around {@link ScoreExecutor}. Thread-safe. */
public final class ScoringService extends ScoringGrpc.ScoringImplBase {
    private final ScoreExecutor executor;
    private final Tracer tracer;

    @Inject
    public ScoringService(ScoreExecutor executor, OpenTelemetry openTelemetry) {
        this.executor = requireNonNull(executor, "executor is null");
        this.tracer = requireNonNull(openTelemetry, "openTelemetry is null").getTracer("dev.trellis.router");
    }

    @Override
    public void score(ScoreRequest request, StreamObserver<ScoreResponse> responseObserver) {
        traced(
                        "trellis.v1.Scoring/Score",
                        request.getModel(),
                        1,
                        () -> executor.score(request.getModel(), List.of(request), ScoreExecutor.ScoreOptions.SINGLE))
                .whenComplete((responses, error) -> {
                    if (error != null) {
                        responseObserver.onError(StatusMapper.toStatusException(error));
                        return;
                    }
                    responseObserver.onNext(responses.get(0));
                    responseObserver.onCompleted();
                });
    }

    @Override
    public void scoreBatch(ScoreBatchRequest request, StreamObserver<ScoreBatchResponse> responseObserver) {
        traced(
                        "trellis.v1.Scoring/ScoreBatch",
                        request.getModel(),
                        ScoreExecutor.rowCount(request),
                        () -> executor.scoreBatch(request))
                .whenComplete((responses, error) -> {
                    if (error != null) {
                        responseObserver.onError(StatusMapper.toStatusException(error));
                        return;
                    }
                    responseObserver.onNext(ScoreBatchResponse.newBuilder()
                            .addAllResults(responses)
                            .build());
                    responseObserver.onCompleted();
                });
    }

    @Override
    public StreamObserver<ScoreRequest> scoreStream(StreamObserver<ScoreResponse> responseObserver) {
        return new ScoreStreamHandler(
                (ServerCallStreamObserver<ScoreResponse>) responseObserver,
                request -> traced(
                        "trellis.v1.Scoring/ScoreStream",
                        request.getModel(),
                        1,
                        () -> executor.score(request.getModel(), List.of(request), ScoreExecutor.ScoreOptions.SINGLE)));
    }

    @SuppressWarnings("try") // the scope only makes the span current while the upstream calls start
    private CompletableFuture<List<ScoreResponse>> traced(
            String name, String model, int rows, Supplier<CompletableFuture<List<ScoreResponse>>> work) {
        Span span = tracer.spanBuilder(name)
                .setParent(TraceContextServerInterceptor.PARENT.get())
                .setSpanKind(SpanKind.SERVER)
                .setAttribute("trellis.model", model)
                .setAttribute("trellis.rows", rows)
                .startSpan();
        CompletableFuture<List<ScoreResponse>> future;
        try (Scope ignored = span.makeCurrent()) {
            future = work.get();
        }
        return future.whenComplete((responses, error) -> {
            if (error != null) {
                span.setStatus(
                        StatusCode.ERROR,
                        StatusMapper.toStatusException(error)
                                .getStatus()
                                .getCode()
                                .name());
            } else if (!responses.isEmpty()) {
                span.setAttribute(
                        "trellis.version", responses.get(0).getServed().getVersion());
                span.setAttribute(
                        "trellis.reason",
                        responses.get(0).getServed().getReason().name());
            }
            span.end();
        });
    }
}
