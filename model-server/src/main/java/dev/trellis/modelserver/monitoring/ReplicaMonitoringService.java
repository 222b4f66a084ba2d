package dev.trellis.modelserver.monitoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.GetProfileRequest;
import dev.trellis.api.v1.GetProfileResponse;
import dev.trellis.api.v1.ReplicaMonitoringGrpc;
import dev.trellis.common.monitoring.Baseline;
import dev.trellis.common.monitoring.FeatureProfile;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.GrpcErrors;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.modelserver.repository.ModelRepository;
import dev.trellis.modelserver.repository.ModelVersion;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;

/**
 * The model-server's Trellis extension next to the Open Inference Protocol: a version's baseline and
 * live window, which the router aggregates over the replicas into drift. Thread-safe.
 */
public final class ReplicaMonitoringService extends ReplicaMonitoringGrpc.ReplicaMonitoringImplBase {
    private final ModelRepository repository;
    private final LiveProfiles profiles;

    @Inject
    public ReplicaMonitoringService(ModelRepository repository, LiveProfiles profiles) {
        this.repository = requireNonNull(repository, "repository is null");
        this.profiles = requireNonNull(profiles, "profiles is null");
    }

    @Override
    public void getProfile(GetProfileRequest request, StreamObserver<GetProfileResponse> observer) {
        GetProfileResponse response;
        try {
            if (request.getModel().isEmpty()) {
                throw ModelServerException.badField(ErrorCode.INVALID_PARAMETER, "model", "model is required");
            }
            ModelVersion version = repository.resolve(request.getModel(), request.getVersion());
            ProfileWindow window = profiles.window(version.model(), version.version())
                    .orElseThrow(() ->
                            new ModelServerException(ErrorCode.VERSION_NOT_READY, version + " is not loaded; retry"));
            ProfileWindow.Snapshot snapshot = window.snapshot();
            GetProfileResponse.Builder builder = GetProfileResponse.newBuilder()
                    .setModel(version.model())
                    .setVersion(Integer.toString(version.version()))
                    .setWindowRows(snapshot.rows())
                    .setScore(toProto(snapshot.score()))
                    .putAllBundleTestMetrics(window.testMetrics());
            snapshot.features().forEach(f -> builder.addFeatures(toProto(f)));
            window.baseline().ifPresent(b -> builder.setBaseline(toProto(b)));
            response = builder.build();
        } catch (RuntimeException e) {
            observer.onError(GrpcErrors.toStatusException(e));
            return;
        }
        observer.onNext(response);
        observer.onCompleted();
    }

    static dev.trellis.api.v1.Baseline toProto(Baseline baseline) {
        dev.trellis.api.v1.Baseline.Builder builder = dev.trellis.api.v1.Baseline.newBuilder()
                .setRows(baseline.rows())
                .setScore(toProto(baseline.score()));
        baseline.features().forEach(f -> builder.addFeatures(toProto(f)));
        return builder.build();
    }

    static dev.trellis.api.v1.FeatureProfile toProto(FeatureProfile profile) {
        dev.trellis.api.v1.FeatureProfile.Builder builder = dev.trellis.api.v1.FeatureProfile.newBuilder()
                .setName(profile.name())
                .setCategorical(profile.categorical())
                .setRows(profile.rows())
                .setMissing(profile.missing())
                .putAllCategories(profile.categories());
        for (double v : profile.values()) {
            builder.addValues(v);
        }
        for (double e : profile.edges()) {
            builder.addEdges(e);
        }
        for (long c : profile.binCounts()) {
            builder.addBinCounts(c);
        }
        return builder.build();
    }
}
