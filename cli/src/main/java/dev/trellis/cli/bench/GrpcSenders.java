package dev.trellis.cli.bench;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@link RequestSender}s over the two protocols: {@code trellis.v1.Scoring/Score} (through the
 * router) and {@code inference.GRPCInferenceService/ModelInfer} (directly against a model-server).
 * Requests are built beforehand and cycled, so the generator measures the servers, not the
 * request building.
 */
public final class GrpcSenders {
    private GrpcSenders() {}

    /**
     * Cycles through prebuilt Score requests.
     *
     * @param channel channel to the router
     * @param requests the requests, not empty
     * @param deadline each call's deadline
     * @return the sender
     */
    public static RequestSender score(Channel channel, List<ScoreRequest> requests, Duration deadline) {
        List<ScoreRequest> rows = checkRequests(requests);
        ScoringGrpc.ScoringStub stub = ScoringGrpc.newStub(requireNonNull(channel, "channel is null"));
        long millis = deadline.toMillis();
        return sequence -> {
            CompletableFuture<ScoreResponse> future = new CompletableFuture<>();
            stub.withDeadlineAfter(millis, TimeUnit.MILLISECONDS)
                    .score(rows.get((int) (sequence % rows.size())), completing(future));
            return future;
        };
    }

    /**
     * Cycles through prebuilt ModelInfer requests.
     *
     * @param channel channel to a model-server
     * @param requests the requests, not empty
     * @param deadline each call's deadline
     * @return the sender
     */
    public static RequestSender modelInfer(Channel channel, List<ModelInferRequest> requests, Duration deadline) {
        List<ModelInferRequest> rows = checkRequests(requests);
        GRPCInferenceServiceGrpc.GRPCInferenceServiceStub stub =
                GRPCInferenceServiceGrpc.newStub(requireNonNull(channel, "channel is null"));
        long millis = deadline.toMillis();
        return sequence -> {
            CompletableFuture<ModelInferResponse> future = new CompletableFuture<>();
            stub.withDeadlineAfter(millis, TimeUnit.MILLISECONDS)
                    .modelInfer(rows.get((int) (sequence % rows.size())), completing(future));
            return future;
        };
    }

    private static <T> List<T> checkRequests(List<T> requests) {
        List<T> copy = List.copyOf(requireNonNull(requests, "requests is null"));
        if (copy.isEmpty()) {
            throw new IllegalArgumentException("no requests to send");
        }
        return copy;
    }

    private static <T> StreamObserver<T> completing(CompletableFuture<T> future) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                future.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                future.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                future.complete(null);
            }
        };
    }
}
