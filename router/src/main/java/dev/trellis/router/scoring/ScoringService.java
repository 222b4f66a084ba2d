package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.router.errors.StatusMapper;
import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
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
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/** {@code trellis.v1.Scoring}: a SERVER span per call around {@link ScoreExecutor}. Thread-safe. */
public final class ScoringService implements BindableService {
    private final ScoreExecutor executor;
    private final Tracer tracer;

    @Inject
    public ScoringService(ScoreExecutor executor, OpenTelemetry openTelemetry) {
        this.executor = requireNonNull(executor, "executor is null");
        this.tracer = requireNonNull(openTelemetry, "openTelemetry is null").getTracer("dev.trellis.router");
    }

    private void score(ScoreRequest request, StreamObserver<EncodedMessage> responseObserver) {
        single("trellis.v1.Scoring/Score", request).whenComplete((response, error) -> {
            if (error != null) {
                responseObserver.onError(StatusMapper.toStatusException(error));
                return;
            }
            responseObserver.onNext(response);
            responseObserver.onCompleted();
        });
    }

    /** One row of Score or ScoreStream, traced, as its ScoreResponse's wire form. */
    private CompletableFuture<EncodedMessage> single(String method, ScoreRequest request) {
        CompletableFuture<EncodedMessage> response = new CompletableFuture<>();
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
                            response.complete(answers.encode(0));
                        }
                    } catch (RuntimeException e) {
                        response.completeExceptionally(e);
                    }
                });
        return response;
    }

    /**
     * The service with the methods and proto schema of {@code trellis.v1.Scoring} (reflection,
     * grpcurl and clients see its proto types), whose answers are the bytes {@link Answers} writes:
     * the same ScoreResponse and ScoreBatchResponse on the wire, without a message object per row,
     * base score or contribution on the router, and without serializing a message built for the
     * purpose. A method added to the proto and not bound here fails the router's start.
     */
    @Override
    public ServerServiceDefinition bindService() {
        MethodDescriptor<ScoreRequest, EncodedMessage> score = encoded(ScoringGrpc.getScoreMethod());
        MethodDescriptor<ScoreRequest, EncodedMessage> stream = encoded(ScoringGrpc.getScoreStreamMethod());
        MethodDescriptor<ScoreBatchRequest, EncodedMessage> batch = encoded(ScoringGrpc.getScoreBatchMethod());
        ServiceDescriptor declared = ScoringGrpc.getServiceDescriptor();
        Set<String> bound = Set.of(score.getFullMethodName(), stream.getFullMethodName(), batch.getFullMethodName());
        Set<String> unbound = declared.getMethods().stream()
                .map(MethodDescriptor::getFullMethodName)
                .filter(name -> !bound.contains(name))
                .collect(Collectors.toCollection(TreeSet::new));
        if (!unbound.isEmpty()) {
            throw new IllegalStateException("ScoringService does not bind " + unbound);
        }
        ServiceDescriptor descriptor = ServiceDescriptor.newBuilder(declared.getName())
                .setSchemaDescriptor(declared.getSchemaDescriptor())
                .addMethod(score)
                .addMethod(stream)
                .addMethod(batch)
                .build();
        return ServerServiceDefinition.builder(descriptor)
                .addMethod(score, ServerCalls.asyncUnaryCall(this::score))
                .addMethod(stream, ServerCalls.asyncBidiStreamingCall(this::scoreStream))
                .addMethod(batch, ServerCalls.asyncUnaryCall(this::scoreBatch))
                .build();
    }

    /** The declared method with its declared request and an already encoded response. */
    private static <ReqT> MethodDescriptor<ReqT, EncodedMessage> encoded(MethodDescriptor<ReqT, ?> declared) {
        return declared.toBuilder(declared.getRequestMarshaller(), EncodedMessage.MARSHALLER)
                .build();
    }

    private void scoreBatch(ScoreBatchRequest request, StreamObserver<EncodedMessage> responseObserver) {
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

    private StreamObserver<ScoreRequest> scoreStream(StreamObserver<EncodedMessage> responseObserver) {
        return new ScoreStreamHandler<>(
                (ServerCallStreamObserver<EncodedMessage>) responseObserver,
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
