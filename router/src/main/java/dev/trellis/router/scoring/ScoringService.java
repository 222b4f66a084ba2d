package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.errors.StatusMapper;
import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** {@code trellis.v1.Scoring}: a SERVER span per call around {@link ScoreExecutor}. Thread-safe. */
public final class ScoringService implements ScoringGrpc.AsyncService, BindableService {
    private final ScoreExecutor executor;
    private final Tracer tracer;

    @Inject
    public ScoringService(ScoreExecutor executor, OpenTelemetry openTelemetry) {
        this.executor = requireNonNull(executor, "executor is null");
        this.tracer = requireNonNull(openTelemetry, "openTelemetry is null").getTracer("dev.trellis.router");
    }

    @Override
    public void score(ScoreRequest request, StreamObserver<ScoreResponse> responseObserver) {
        single("trellis.v1.Scoring/Score", request).whenComplete((response, error) -> {
            if (error != null) {
                responseObserver.onError(StatusMapper.toStatusException(error));
                return;
            }
            responseObserver.onNext(response);
            responseObserver.onCompleted();
        });
    }

    /** One row of Score or ScoreStream, traced, as a message. */
    private CompletableFuture<ScoreResponse> single(String method, ScoreRequest request) {
        CompletableFuture<ScoreResponse> response = new CompletableFuture<>();
        traced(
                        method,
                        request.getModel(),
                        1,
                        () -> executor.score(request.getModel(), List.of(request), ScoreExecutor.ScoreOptions.SINGLE))
                .whenComplete((answers, error) -> {
                    try {
                        if (error != null) {
                            response.completeExceptionally(error);
                        } else {
                            response.complete(answers.responses().get(0));
                        }
                    } catch (RuntimeException e) {
                        response.completeExceptionally(e);
                    }
                });
        return response;
    }

    /**
     * The service as grpc-java's generated code binds it, except that ScoreBatch answers with the
     * bytes {@link Answers#encodeBatch} writes (the same ScoreBatchResponse on the wire; no message
     * object per row, base score or contribution on the router).
     */
    @Override
    public ServerServiceDefinition bindService() {
        ServerServiceDefinition generated = ScoringGrpc.bindService(this);
        MethodDescriptor<ScoreBatchRequest, ScoreBatchResponse> declared = ScoringGrpc.getScoreBatchMethod();
        MethodDescriptor<ScoreBatchRequest, EncodedMessage> encoded = declared.toBuilder(
                        declared.getRequestMarshaller(), EncodedMessage.MARSHALLER)
                .build();
        ServiceDescriptor original = generated.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor =
                ServiceDescriptor.newBuilder(original.getName()).setSchemaDescriptor(original.getSchemaDescriptor());
        List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
        for (ServerMethodDefinition<?, ?> method : generated.getMethods()) {
            if (method.getMethodDescriptor().getFullMethodName().equals(declared.getFullMethodName())) {
                method = ServerMethodDefinition.create(encoded, ServerCalls.asyncUnaryCall(this::scoreBatchEncoded));
            }
            methods.add(method);
            descriptor.addMethod(method.getMethodDescriptor());
        }
        ServerServiceDefinition.Builder service = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(service::addMethod);
        return service.build();
    }

    private void scoreBatchEncoded(ScoreBatchRequest request, StreamObserver<EncodedMessage> responseObserver) {
        traced(
                        "trellis.v1.Scoring/ScoreBatch",
                        request.getModel(),
                        ScoreExecutor.rowCount(request),
                        () -> executor.scoreBatch(request))
                .whenComplete((answers, error) -> {
                    EncodedMessage encoded;
                    try {
                        if (error != null) {
                            throw error;
                        }
                        encoded = answers.encodeBatch();
                    } catch (Throwable t) {
                        responseObserver.onError(StatusMapper.toStatusException(t));
                        return;
                    }
                    responseObserver.onNext(encoded);
                    responseObserver.onCompleted();
                });
    }

    @Override
    public StreamObserver<ScoreRequest> scoreStream(StreamObserver<ScoreResponse> responseObserver) {
        return new ScoreStreamHandler(
                (ServerCallStreamObserver<ScoreResponse>) responseObserver,
                request -> single("trellis.v1.Scoring/ScoreStream", request));
    }

    @SuppressWarnings("try") // the scope only makes the span current while the upstream calls start
    private CompletableFuture<Answers> traced(
            String name, String model, int rows, Supplier<CompletableFuture<Answers>> work) {
        // a child of the call's SERVER span (the gRPC instrumentation's), which continues the caller's trace
        Span span = tracer.spanBuilder(name)
                .setParent(Context.current())
                .setSpanKind(SpanKind.INTERNAL)
                .setAttribute("trellis.model", model)
                .setAttribute("trellis.rows", rows)
                .startSpan();
        CompletableFuture<Answers> future;
        try (Scope ignored = span.makeCurrent()) {
            future = work.get();
        }
        return future.whenComplete((answers, error) -> {
            if (error != null) {
                span.setStatus(
                        StatusCode.ERROR,
                        StatusMapper.toStatusException(error)
                                .getStatus()
                                .getCode()
                                .name());
            } else if (answers.size() > 0) {
                span.setAttribute("trellis.version", answers.served(0).getVersion());
                span.setAttribute(
                        "trellis.reason", answers.served(0).getReason().name());
            }
            span.end();
        });
    }
}
