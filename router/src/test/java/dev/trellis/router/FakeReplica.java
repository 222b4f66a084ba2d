package dev.trellis.router;

import dev.trellis.common.control.ModelControl;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.InferTensorContents;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import dev.trellis.proto.inference.ModelRepositoryParameter;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import dev.trellis.proto.inference.RepositoryModelLoadResponse;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A hand-written model-server stand-in on a real loopback port: model "m" version "1" with a
 * numeric feature x and a categorical feature c, score 0.5, client-side health, and switches to
 * fail. Records what the last ModelInfer call carried (deadline, headers), the headers of the last
 * RepositoryIndex and RepositoryModelLoad, counts index polls, can hold polls at a gate, and
 * accepts the control plane's holds (reported in the index like a real model-server).
 */
final class FakeReplica implements AutoCloseable {
    static final Context.Key<Metadata> HEADERS = Context.key("headers");

    final AtomicInteger inferCalls = new AtomicInteger();
    final AtomicReference<Metadata> lastHeaders = new AtomicReference<>();
    final AtomicReference<ModelInferRequest> lastRequest = new AtomicReference<>();
    final AtomicLong lastDeadlineMillis = new AtomicLong(-1);
    final AtomicInteger indexCalls = new AtomicInteger();
    final AtomicReference<Metadata> lastIndexHeaders = new AtomicReference<>();
    final AtomicReference<Metadata> lastLoadHeaders = new AtomicReference<>();
    final AtomicReference<String> heldConfig = new AtomicReference<>("");
    volatile Status failWith;
    /** When set, index polls wait for it (up to 30 s). */
    volatile CountDownLatch indexGate;
    /** When set, index polls report no model (one not loaded yet). */
    volatile boolean noModels;

    private final HealthStatusManager health = new HealthStatusManager();
    private final Server server;

    FakeReplica() throws IOException {
        this(null, null);
    }

    /** With a certificate and key, serves TLS. */
    FakeReplica(java.io.File cert, java.io.File key) throws IOException {
        this(0, cert, key);
    }

    /** On a given port (0: any), e.g. again on the port of one that was closed. */
    FakeReplica(int port, java.io.File cert, java.io.File key) throws IOException {
        health.setStatus(GRPCInferenceServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
        ServerInterceptor captureHeaders = new ServerInterceptor() {
            @Override
            public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
                    ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
                return Contexts.interceptCall(Context.current().withValue(HEADERS, headers), call, headers, next);
            }
        };
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
                .addService(ServerInterceptors.intercept(new Service(), captureHeaders))
                .addService(health.getHealthService());
        if (cert != null) {
            builder.useTransportSecurity(cert, key);
        }
        server = builder.build().start();
    }

    int port() {
        return server.getPort();
    }

    String address() {
        return "127.0.0.1:" + port();
    }

    void serving(boolean serving) {
        health.setStatus(
                GRPCInferenceServiceGrpc.SERVICE_NAME, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            // its port is free when this returns
            server.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private final class Service extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
        @Override
        public void repositoryIndex(RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> observer) {
            indexCalls.incrementAndGet();
            lastIndexHeaders.set(HEADERS.get());
            CountDownLatch gate = indexGate;
            if (gate != null) {
                try {
                    gate.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (noModels) {
                observer.onNext(RepositoryIndexResponse.getDefaultInstance());
                observer.onCompleted();
                return;
            }
            observer.onNext(RepositoryIndexResponse.newBuilder()
                    .addModels(RepositoryIndexResponse.ModelIndex.newBuilder()
                            .setName("m")
                            .setVersion("1")
                            .setState("READY")
                            .setReason(heldConfig.get().contains("[1]") ? ModelControl.HELD_REASON : ""))
                    .build());
            observer.onCompleted();
        }

        @Override
        public void repositoryModelLoad(
                RepositoryModelLoadRequest request, StreamObserver<RepositoryModelLoadResponse> observer) {
            lastLoadHeaders.set(HEADERS.get());
            heldConfig.set(request.getParametersOrDefault(
                            ModelControl.CONFIG_PARAMETER, ModelRepositoryParameter.getDefaultInstance())
                    .getStringParam());
            observer.onNext(RepositoryModelLoadResponse.getDefaultInstance());
            observer.onCompleted();
        }

        @Override
        public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> observer) {
            observer.onNext(ModelMetadataResponse.newBuilder()
                    .setName("m")
                    .addVersions("1")
                    .addInputs(ModelMetadataResponse.TensorMetadata.newBuilder()
                            .setName("x")
                            .setDatatype("FP32")
                            .addShape(-1))
                    .addInputs(ModelMetadataResponse.TensorMetadata.newBuilder()
                            .setName("c")
                            .setDatatype("BYTES")
                            .addShape(-1))
                    .build());
            observer.onCompleted();
        }

        @Override
        public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> observer) {
            inferCalls.incrementAndGet();
            lastHeaders.set(HEADERS.get());
            lastRequest.set(request);
            io.grpc.Deadline deadline = Context.current().getDeadline();
            lastDeadlineMillis.set(deadline == null ? -1 : deadline.timeRemaining(TimeUnit.MILLISECONDS));
            Status failure = failWith;
            if (failure != null) {
                observer.onError(failure.asRuntimeException());
                return;
            }
            int rows = (int) request.getInputs(0).getShape(0);
            InferTensorContents.Builder scores = InferTensorContents.newBuilder();
            for (int i = 0; i < rows; i++) {
                scores.addFp32Contents(0.5f);
            }
            observer.onNext(ModelInferResponse.newBuilder()
                    .setModelName("m")
                    .setModelVersion("1")
                    .addOutputs(ModelInferResponse.InferOutputTensor.newBuilder()
                            .setName("score")
                            .setDatatype("FP32")
                            .addShape(rows)
                            .setContents(scores))
                    .build());
            observer.onCompleted();
        }
    }
}
