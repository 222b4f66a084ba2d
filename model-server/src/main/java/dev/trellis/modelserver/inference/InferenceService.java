package dev.trellis.modelserver.inference;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.trellis.common.TrellisVersion;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.Feature;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.TargetKind;
import dev.trellis.modelserver.batching.ScoredRows;
import dev.trellis.modelserver.config.ModelServerConfig;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.GrpcErrors;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.modelserver.health.ServingHealth;
import dev.trellis.modelserver.repository.ModelRepository;
import dev.trellis.modelserver.repository.ModelVersion;
import dev.trellis.modelserver.repository.VersionState;
import dev.trellis.modelserver.repository.VersionStatus;
import dev.trellis.proto.inference.DataType;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc;
import dev.trellis.proto.inference.ModelConfig;
import dev.trellis.proto.inference.ModelConfigRequest;
import dev.trellis.proto.inference.ModelConfigResponse;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.proto.inference.ModelInput;
import dev.trellis.proto.inference.ModelMetadataRequest;
import dev.trellis.proto.inference.ModelMetadataResponse;
import dev.trellis.proto.inference.ModelMetadataResponse.TensorMetadata;
import dev.trellis.proto.inference.ModelOutput;
import dev.trellis.proto.inference.ModelParameter;
import dev.trellis.proto.inference.ModelReadyRequest;
import dev.trellis.proto.inference.ModelReadyResponse;
import dev.trellis.proto.inference.ModelStatisticsRequest;
import dev.trellis.proto.inference.ModelStatisticsResponse;
import dev.trellis.proto.inference.RepositoryIndexRequest;
import dev.trellis.proto.inference.RepositoryIndexResponse;
import dev.trellis.proto.inference.RepositoryModelLoadRequest;
import dev.trellis.proto.inference.RepositoryModelLoadResponse;
import dev.trellis.proto.inference.RepositoryModelUnloadRequest;
import dev.trellis.proto.inference.RepositoryModelUnloadResponse;
import dev.trellis.proto.inference.ServerLiveRequest;
import dev.trellis.proto.inference.ServerLiveResponse;
import dev.trellis.proto.inference.ServerMetadataRequest;
import dev.trellis.proto.inference.ServerMetadataResponse;
import dev.trellis.proto.inference.ServerReadyRequest;
import dev.trellis.proto.inference.ServerReadyResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.trace.Span;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The Open Inference Protocol (KServe v2) over gRPC, with the model repository extension. ModelInfer
 * holds a reference on the serving version from the moment it is resolved until the response is
 * sent, so a version being unloaded drains instead of failing requests. Thread-safe.
 */
public final class InferenceService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
    public static final String SERVER_NAME = "trellis-model-server";
    /** ModelMetadata platform of a model with a binary target. */
    public static final String PLATFORM = "trellis_stacked_ensemble";

    static final String BACKEND = "trellis";
    static final String VOCABULARY_PARAMETER_PREFIX = "vocabulary:";
    /** ModelMetadata platform of a model with a continuous target. */
    public static final String REGRESSION_PLATFORM = "trellis_stacked_ensemble_regression";

    static final List<String> EXTENSIONS = List.of("model_repository", "parameters", "health", "reflection");

    private final ModelRepository repository;
    private final ServingHealth health;
    private final int maxBatchRows;
    private final int maxExplainRows;
    private final String repositoryName;
    private final InferenceStatistics statistics = new InferenceStatistics();

    @Inject
    public InferenceService(ModelRepository repository, ServingHealth health, ModelServerConfig config) {
        this.repository = requireNonNull(repository, "repository is null");
        this.health = requireNonNull(health, "health is null");
        this.maxBatchRows = requireNonNull(config, "config is null").maxBatchRows();
        this.maxExplainRows = config.maxExplainRows();
        Path folder = config.repository().toAbsolutePath().normalize().getFileName();
        this.repositoryName = folder == null ? "" : folder.toString();
    }

    @Override
    public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> observer) {
        respond(observer, () -> ServerLiveResponse.newBuilder().setLive(true).build());
    }

    @Override
    public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> observer) {
        respond(
                observer,
                () -> ServerReadyResponse.newBuilder()
                        .setReady(health.isServing())
                        .build());
    }

    @Override
    public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> observer) {
        respond(observer, () -> {
            try {
                repository.resolve(requireModelName(request.getName()), request.getVersion());
                return ModelReadyResponse.newBuilder().setReady(true).build();
            } catch (ModelServerException e) {
                if (e.errorCode() == ErrorCode.VERSION_NOT_READY) {
                    return ModelReadyResponse.newBuilder().setReady(false).build();
                }
                throw e;
            }
        });
    }

    @Override
    public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> observer) {
        respond(
                observer,
                () -> ServerMetadataResponse.newBuilder()
                        .setName(SERVER_NAME)
                        .setVersion(serverVersion())
                        .addAllExtensions(EXTENSIONS)
                        .build());
    }

    @Override
    public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> observer) {
        respond(observer, () -> {
            String model = requireModelName(request.getName());
            ModelVersion version = repository.acquire(model, request.getVersion());
            try {
                Ensemble ensemble = version.ensemble();
                FeatureSchema schema = ensemble.schema();
                ModelMetadataResponse.Builder metadata =
                        ModelMetadataResponse.newBuilder().setName(model).setPlatform(platform(ensemble.targetKind()));
                repository.readyVersions(model).forEach(ready -> metadata.addVersions(String.valueOf(ready)));
                for (Feature feature : schema.features()) {
                    metadata.addInputs(tensor(feature.name(), feature.type().wireDatatype(), -1));
                }
                metadata.addOutputs(tensor(Outputs.SCORE, "FP32", -1));
                metadata.addOutputs(tensor(Outputs.LABEL, "BYTES", -1));
                metadata.addOutputs(tensor(Outputs.INTERVAL, "FP32", -1, 2));
                metadata.addOutputs(tensor(Outputs.AGREEMENT, "FP32", -1));
                metadata.addOutputs(tensor(
                        Outputs.BASE_SCORES, "FP32", -1, ensemble.baseModels().size()));
                metadata.addOutputs(tensor(Outputs.CONTRIBUTIONS, "FP32", -1, schema.size() + 2));
                return metadata.build();
            } finally {
                version.release();
            }
        });
    }

    @Override
    public void modelConfig(ModelConfigRequest request, StreamObserver<ModelConfigResponse> observer) {
        respond(observer, () -> {
            String model = requireModelName(request.getName(), "name");
            ModelVersion version = repository.acquire(model, request.getVersion());
            try {
                Ensemble ensemble = version.ensemble();
                FeatureSchema schema = ensemble.schema();
                ModelConfig.Builder config = ModelConfig.newBuilder()
                        .setName(model)
                        .setPlatform(platform(ensemble.targetKind()))
                        .setBackend(BACKEND)
                        .setMaxBatchSize(maxBatchRows);
                for (Feature feature : schema.features()) {
                    boolean numeric = feature.type() == FeatureType.NUMERIC;
                    config.addInput(ModelInput.newBuilder()
                            .setName(feature.name())
                            .setDataType(numeric ? DataType.TYPE_FP32 : DataType.TYPE_STRING)
                            .addDims(1)
                            .setOptional(true));
                    if (!numeric) {
                        config.putParameters(
                                VOCABULARY_PARAMETER_PREFIX + feature.name(),
                                ModelParameter.newBuilder()
                                        .setStringValue(jsonArray(feature.vocabulary()))
                                        .build());
                    }
                }
                config.addOutput(output(Outputs.SCORE, DataType.TYPE_FP32, 1));
                config.addOutput(output(Outputs.LABEL, DataType.TYPE_STRING, 1));
                config.addOutput(output(Outputs.INTERVAL, DataType.TYPE_FP32, 2));
                config.addOutput(output(Outputs.AGREEMENT, DataType.TYPE_FP32, 1));
                config.addOutput(output(
                        Outputs.BASE_SCORES,
                        DataType.TYPE_FP32,
                        ensemble.baseModels().size()));
                config.addOutput(output(Outputs.CONTRIBUTIONS, DataType.TYPE_FP32, schema.size() + 2));
                return ModelConfigResponse.newBuilder().setConfig(config).build();
            } finally {
                version.release();
            }
        });
    }

    @Override
    public void modelStatistics(ModelStatisticsRequest request, StreamObserver<ModelStatisticsResponse> observer) {
        respond(observer, () -> {
            ModelStatisticsResponse.Builder response = ModelStatisticsResponse.newBuilder();
            boolean found = false;
            for (VersionStatus status : repository.index()) {
                boolean loaded = status.state() == VersionState.READY
                        || status.state() == VersionState.STALE
                        || status.state() == VersionState.DRAINING;
                if (!loaded
                        || (!request.getName().isEmpty() && !status.model().equals(request.getName()))
                        || (!request.getVersion().isEmpty()
                                && !String.valueOf(status.version()).equals(request.getVersion()))) {
                    continue;
                }
                found = true;
                response.addModelStats(statistics.snapshot(status.model(), status.version()));
            }
            if (!found && !request.getName().isEmpty()) {
                // the repository's own error: unknown model, unknown version, or none ready
                repository.resolve(request.getName(), request.getVersion());
            }
            return response.build();
        });
    }

    @Override
    public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> observer) {
        long started = System.nanoTime();
        ServerCallStreamObserver<ModelInferResponse> call = (ServerCallStreamObserver<ModelInferResponse>) observer;
        // a caller that goes away while its rows are queued takes them out (a worker skips them);
        // once they are in a batch, the batch still runs and the caller simply gets nothing
        AtomicReference<CompletableFuture<ScoredRows>> queued = new AtomicReference<>();
        call.setOnCancelHandler(() -> {
            CompletableFuture<ScoredRows> future = queued.get();
            if (future != null) {
                future.cancel(false);
            }
        });
        ModelVersion version;
        DecodedRequest decoded;
        try {
            String model = requireModelName(request.getModelName());
            version = repository.acquire(model, request.getModelVersion());
        } catch (RuntimeException e) {
            observer.onError(GrpcErrors.toStatusException(e));
            return;
        }
        Span span = Span.current();
        span.setAttribute("trellis.model", version.model());
        span.setAttribute("trellis.model_version", version.version());
        try {
            FeatureSchema schema = version.ensemble().schema();
            decoded = InferRequestDecoder.decode(request, schema, maxBatchRows, maxExplainRows);
            long decodedAt = System.nanoTime();
            span.setAttribute("trellis.rows", decoded.rows().rows());
            CompletableFuture<ScoredRows> future = version.batcher()
                    .submit(decoded.rows(), decoded.explain(), decoded.priority(), queueDeadline(decoded.timeout()));
            queued.set(future);
            future.whenComplete((scored, failure) -> {
                try {
                    if (call.isCancelled()) {
                        return;
                    }
                    if (failure != null) {
                        statistics.failure(version.model(), version.version(), System.nanoTime() - started);
                        call.onError(GrpcErrors.toStatusException(failure));
                        return;
                    }
                    long encodeStart = System.nanoTime();
                    ModelInferResponse response = InferResponseEncoder.encode(
                            version.model(),
                            version.version(),
                            request.getId(),
                            version.ensemble(),
                            scored,
                            decoded.outputs(),
                            request.getRawInputContentsCount() > 0);
                    long encoded = System.nanoTime();
                    call.onNext(response);
                    call.onCompleted();
                    statistics.success(
                            version.model(),
                            version.version(),
                            scored.rows(),
                            scored.offset() == 0,
                            encoded - started,
                            scored.queueNanos(),
                            decodedAt - started,
                            scored.computeNanos(),
                            encoded - encodeStart);
                } catch (RuntimeException e) {
                    statistics.failure(version.model(), version.version(), System.nanoTime() - started);
                    call.onError(GrpcErrors.toStatusException(e));
                } finally {
                    version.release();
                }
            });
        } catch (RuntimeException e) {
            statistics.failure(version.model(), version.version(), System.nanoTime() - started);
            version.release();
            observer.onError(GrpcErrors.toStatusException(e));
        }
    }

    /** When queued rows stop being worth scoring: the request's {@code timeout}, if it set one. */
    private static long queueDeadline(Duration timeout) {
        return timeout.isZero() ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
    }

    @Override
    public void repositoryIndex(RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> observer) {
        respond(observer, () -> {
            requireRepository(request.getRepositoryName());
            RepositoryIndexResponse.Builder index = RepositoryIndexResponse.newBuilder();
            for (VersionStatus status : repository.index()) {
                if (request.getReady()
                        && status.state() != VersionState.READY
                        && status.state() != VersionState.STALE) {
                    continue;
                }
                index.addModels(RepositoryIndexResponse.ModelIndex.newBuilder()
                        .setName(status.model())
                        .setVersion(String.valueOf(status.version()))
                        .setState(status.state().name())
                        .setReason(status.reason()));
            }
            return index.build();
        });
    }

    @Override
    public void repositoryModelLoad(
            RepositoryModelLoadRequest request, StreamObserver<RepositoryModelLoadResponse> observer) {
        respond(observer, () -> {
            requireRepository(request.getRepositoryName());
            String model = requireModelName(request.getModelName());
            Optional<Set<Integer>> held = LoadParameters.heldVersions(request.getParametersMap());
            if (held.isPresent()) {
                repository.hold(model, held.get());
            } else {
                repository.load(model);
            }
            return RepositoryModelLoadResponse.getDefaultInstance();
        });
    }

    @Override
    public void repositoryModelUnload(
            RepositoryModelUnloadRequest request, StreamObserver<RepositoryModelUnloadResponse> observer) {
        respond(observer, () -> {
            requireRepository(request.getRepositoryName());
            repository.unload(requireModelName(request.getModelName()));
            return RepositoryModelUnloadResponse.getDefaultInstance();
        });
    }

    /** The platform that names the target kind, since the published ModelMetadataResponse has no parameters. */
    static String platform(TargetKind kind) {
        return kind == TargetKind.REGRESSION ? REGRESSION_PLATFORM : PLATFORM;
    }

    private static String requireModelName(String name) {
        return requireModelName(name, "model_name");
    }

    private static String requireModelName(String name, String field) {
        if (name.isEmpty()) {
            throw ModelServerException.badField(ErrorCode.INVALID_PARAMETER, field, "model name is required");
        }
        return name;
    }

    /** The server has one repository; its name is "" (Triton's "every repository") or its folder's name. */
    private void requireRepository(String name) {
        if (!name.isEmpty() && !name.equals(repositoryName)) {
            throw new ModelServerException(
                    ErrorCode.REPOSITORY_NOT_FOUND,
                    "unknown repository '" + name + "'; this server has one repository, '" + repositoryName
                            + "' (or leave repository_name empty)",
                    List.of(new dev.trellis.common.grpc.FieldViolation(
                            "repository_name", "unknown repository '" + name + "'")),
                    java.util.Map.of("repository", repositoryName));
        }
    }

    private static ModelOutput output(String name, DataType type, long... dims) {
        ModelOutput.Builder output = ModelOutput.newBuilder().setName(name).setDataType(type);
        for (long dim : dims) {
            output.addDims(dim);
        }
        return output.build();
    }

    private static String jsonArray(List<String> values) {
        ListValue.Builder list = ListValue.newBuilder();
        values.forEach(v -> list.addValues(Value.newBuilder().setStringValue(v)));
        try {
            return JsonFormat.printer().omittingInsignificantWhitespace().print(list);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("a list of strings always prints", e);
        }
    }

    private static TensorMetadata tensor(String name, String datatype, long... shape) {
        TensorMetadata.Builder tensor =
                TensorMetadata.newBuilder().setName(name).setDatatype(datatype);
        for (long dimension : shape) {
            tensor.addShape(dimension);
        }
        return tensor.build();
    }

    private static String serverVersion() {
        return TrellisVersion.of(InferenceService.class);
    }

    private static <T> void respond(StreamObserver<T> observer, Supplier<T> body) {
        T response;
        try {
            response = body.get();
        } catch (RuntimeException e) {
            observer.onError(GrpcErrors.toStatusException(e));
            return;
        }
        observer.onNext(response);
        observer.onCompleted();
    }
}
