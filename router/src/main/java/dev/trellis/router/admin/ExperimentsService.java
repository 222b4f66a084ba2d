package dev.trellis.router.admin;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.Timestamp;
import dev.trellis.api.v1.DeleteExperimentRequest;
import dev.trellis.api.v1.DeleteExperimentResponse;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ExplainAssignmentRequest;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.FeatureInfo;
import dev.trellis.api.v1.GetExperimentRequest;
import dev.trellis.api.v1.GetExperimentResponse;
import dev.trellis.api.v1.GetResultsRequest;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.ListExperimentsRequest;
import dev.trellis.api.v1.ListExperimentsResponse;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.ListModelsResponse;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.ModelVersionInfo;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.PutExperimentResponse;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.RecordOutcomeResponse;
import dev.trellis.api.v1.RecordOutcomesResponse;
import dev.trellis.api.v1.ReplicaStatus;
import dev.trellis.api.v1.RolloutActionRequest;
import dev.trellis.api.v1.RolloutResponse;
import dev.trellis.api.v1.SetDefaultVersionRequest;
import dev.trellis.api.v1.SetDefaultVersionResponse;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.StopExperimentRequest;
import dev.trellis.api.v1.StopExperimentResponse;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import dev.trellis.experiments.rollout.RolloutManager;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.experiments.store.Outcome;
import dev.trellis.router.auth.Actor;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.StatusMapper;
import dev.trellis.router.routing.RoutingService;
import dev.trellis.router.scoring.ExposureLog;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.FeatureSchema;
import dev.trellis.router.upstream.ModelCatalog;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * {@code trellis.v1.Experiments}: thin translation onto the experiments module. Authorization is
 * the {@code AuthInterceptor}'s job; the actor comes from the call's context. Thread-safe.
 */
public final class ExperimentsService extends ExperimentsGrpc.ExperimentsImplBase {
    /** How long an outcome's caller waits for the commit before UNAVAILABLE (the store may be down). */
    static final Duration OUTCOME_COMMIT_TIMEOUT = Duration.ofSeconds(10);

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ExperimentsService.class);
    // the range of google.protobuf.Timestamp
    private static final long MIN_TIMESTAMP_SECONDS = -62_135_596_800L;
    private static final long MAX_TIMESTAMP_SECONDS = 253_402_300_799L;

    private final ExperimentManager experiments;
    private final RolloutManager rollouts;
    private final ExperimentStore store;
    private final ExposureLog exposures;
    private final RoutingService routing;
    private final ModelCatalog catalog;
    private final Clock clock;

    @Inject
    public ExperimentsService(
            ExperimentManager experiments,
            ExperimentStore store,
            ExposureLog exposures,
            RoutingService routing,
            ModelCatalog catalog,
            Clock clock) {
        this.experiments = requireNonNull(experiments, "experiments is null");
        this.rollouts = experiments.rollouts();
        this.store = requireNonNull(store, "store is null");
        this.exposures = requireNonNull(exposures, "exposures is null");
        this.routing = requireNonNull(routing, "routing is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    @Override
    public void listExperiments(ListExperimentsRequest request, StreamObserver<ListExperimentsResponse> observer) {
        unary(
                observer,
                () -> ListExperimentsResponse.newBuilder()
                        .addAllExperiments(experiments.list(request.getModel(), request.getStatus()))
                        .build());
    }

    @Override
    public void getExperiment(GetExperimentRequest request, StreamObserver<GetExperimentResponse> observer) {
        unary(observer, () -> {
            GetExperimentResponse.Builder response = GetExperimentResponse.newBuilder()
                    .setExperiment(experiments
                            .get(request.getKey())
                            .orElseThrow(() -> notFound("experiment", request.getKey())));
            if (request.getIncludeHistory()) {
                response.addAllHistory(experiments.history(request.getKey()));
            }
            return response.build();
        });
    }

    @Override
    public void putExperiment(PutExperimentRequest request, StreamObserver<PutExperimentResponse> observer) {
        unary(
                observer,
                () -> PutExperimentResponse.newBuilder()
                        .setExperiment(experiments.put(
                                request.getExperiment(),
                                request.getExpectedRevision(),
                                Actor.current(),
                                knownVersions(
                                        request.getExperiment().getModel(),
                                        "experiment.model",
                                        request.getExperiment().getStatus() == ExperimentStatus.RUNNING),
                                request.getValidateOnly()))
                        .build());
    }

    @Override
    public void stopExperiment(StopExperimentRequest request, StreamObserver<StopExperimentResponse> observer) {
        unary(
                observer,
                () -> StopExperimentResponse.newBuilder()
                        .setExperiment(experiments.stop(
                                request.getKey(), request.getWinner(), request.getExpectedRevision(), Actor.current()))
                        .build());
    }

    @Override
    public void deleteExperiment(DeleteExperimentRequest request, StreamObserver<DeleteExperimentResponse> observer) {
        unary(
                observer,
                () -> DeleteExperimentResponse.newBuilder()
                        .setExperiment(
                                experiments.delete(request.getKey(), request.getExpectedRevision(), Actor.current()))
                        .build());
    }

    @Override
    public void explainAssignment(
            ExplainAssignmentRequest request, StreamObserver<ExplainAssignmentResponse> observer) {
        unary(
                observer,
                () -> routing.explain(
                        request.getModel(), request.getUnitId(), request.getAttributesMap(), request.getVersion()));
    }

    /** Answered only after the outcome is committed: an acknowledged outcome survives a crash of this router. */
    @Override
    public void recordOutcome(RecordOutcomeRequest request, StreamObserver<RecordOutcomeResponse> observer) {
        CompletableFuture<Void> committed;
        try {
            committed = experiments.recordOutcome(outcome(request));
        } catch (RuntimeException e) {
            observer.onError(StatusMapper.toStatusException(e));
            return;
        }
        committed
                .orTimeout(OUTCOME_COMMIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((ok, error) -> {
                    if (error != null) {
                        observer.onError(StatusMapper.toStatusException(commitFailure(error)));
                    } else {
                        observer.onNext(RecordOutcomeResponse.newBuilder()
                                .setAccepted(true)
                                .build());
                        observer.onCompleted();
                    }
                });
    }

    /**
     * Answers once every outcome of the stream is committed, with their count. Inbound flow
     * control holds the stream while the store's queue is full.
     */
    @Override
    public StreamObserver<RecordOutcomeRequest> recordOutcomes(StreamObserver<RecordOutcomesResponse> observer) {
        return new StreamObserver<>() {
            private final Object lock = new Object();

            @GuardedBy("lock")
            private long outstanding;

            @GuardedBy("lock")
            private long committed;

            @GuardedBy("lock")
            private boolean completed;

            @GuardedBy("lock")
            private boolean failed;

            @Override
            public void onNext(RecordOutcomeRequest request) {
                synchronized (lock) {
                    if (failed) {
                        return;
                    }
                }
                CompletableFuture<Void> ack;
                try {
                    ack = experiments.recordOutcome(outcome(request));
                } catch (RuntimeException e) {
                    fail(e);
                    return;
                }
                synchronized (lock) {
                    outstanding++;
                }
                ack.whenComplete((ok, error) -> {
                    if (error != null) {
                        fail(commitFailure(error));
                        return;
                    }
                    boolean answer;
                    long count;
                    synchronized (lock) {
                        outstanding--;
                        committed++;
                        answer = completed && outstanding == 0 && !failed;
                        count = committed;
                    }
                    if (answer) {
                        respond(count);
                    }
                });
            }

            private void fail(Throwable e) {
                synchronized (lock) {
                    if (failed) {
                        return;
                    }
                    failed = true;
                }
                observer.onError(StatusMapper.toStatusException(e));
            }

            private void respond(long count) {
                observer.onNext(
                        RecordOutcomesResponse.newBuilder().setAccepted(count).build());
                observer.onCompleted();
            }

            @Override
            public void onError(Throwable t) {
                synchronized (lock) {
                    failed = true; // the caller went away; what was queued is still committed
                }
            }

            @Override
            public void onCompleted() {
                boolean answer;
                long count;
                synchronized (lock) {
                    completed = true;
                    answer = outstanding == 0 && !failed;
                    count = committed;
                }
                if (answer) {
                    respond(count);
                }
            }
        };
    }

    private static Throwable commitFailure(Throwable error) {
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                ? error.getCause()
                : error;
        if (cause instanceof java.util.concurrent.TimeoutException) {
            return new ExperimentsException(
                    ErrorCode.STORE_FAILURE,
                    "the store did not confirm the outcome within " + OUTCOME_COMMIT_TIMEOUT.toSeconds()
                            + " s; retry with the same outcome_id");
        }
        return cause;
    }

    @Override
    public void getResults(GetResultsRequest request, StreamObserver<GetResultsResponse> observer) {
        unary(observer, () -> {
            // exposures and outcomes are written in batches; read everything accepted so far
            exposures.flush();
            store.flush();
            return experiments.results(request.getExperiment(), request.getMetric());
        });
    }

    @Override
    public void startRollout(StartRolloutRequest request, StreamObserver<RolloutResponse> observer) {
        unary(
                observer,
                () -> rollout(rollouts.start(
                        request.getRollout(),
                        Actor.current(),
                        knownVersions(request.getRollout().getModel(), "rollout.model", true))));
    }

    @Override
    public void getRollout(GetRolloutRequest request, StreamObserver<RolloutResponse> observer) {
        unary(
                observer,
                () -> rollout(rollouts.get(request.getModel())
                        .orElseThrow(() -> notFound("rollout of model", request.getModel()))));
    }

    @Override
    public void pauseRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
        unary(observer, () -> rollout(rollouts.pause(request.getModel(), request.getReason(), Actor.current())));
    }

    @Override
    public void resumeRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
        unary(observer, () -> rollout(rollouts.resume(request.getModel(), request.getReason(), Actor.current())));
    }

    @Override
    public void promoteRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
        unary(observer, () -> rollout(rollouts.promote(request.getModel(), request.getReason(), Actor.current())));
    }

    @Override
    public void abortRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
        unary(observer, () -> {
            dev.trellis.api.v1.Rollout aborted =
                    rollouts.abort(request.getModel(), request.getReason(), Actor.current());
            log.warn(
                    "rollout of {} ABORTED by {}, traffic back on version {} ({})",
                    aborted.getModel(),
                    Actor.current(),
                    aborted.getStableVersion(),
                    request.getReason());
            return rollout(aborted);
        });
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> observer) {
        unary(observer, () -> {
            CatalogSnapshot snapshot = catalog.refreshOnDemand();
            ListModelsResponse.Builder response = ListModelsResponse.newBuilder();
            for (String name : new TreeSet<>(snapshot.models().keySet())) {
                CatalogSnapshot.Model model = snapshot.models().get(name);
                ModelInfo.Builder info = ModelInfo.newBuilder()
                        .setName(name)
                        .setDefaultVersion(experiments
                                .defaultVersion(name)
                                .orElse(model.highestReady()
                                        .map(CatalogSnapshot.Version::version)
                                        .orElse("")));
                for (CatalogSnapshot.Version version : model.versionsDescending()) {
                    ModelVersionInfo.Builder v = ModelVersionInfo.newBuilder().setVersion(version.version());
                    for (String replica : new TreeSet<>(version.replicas().keySet())) {
                        v.addReplicas(ReplicaStatus.newBuilder()
                                .setReplica(replica)
                                .setReady(version.replicas().get(replica).ready()));
                    }
                    version.schema().ifPresent(schema -> v.setTargetKind(schema.targetKind()));
                    for (FeatureSchema.Feature f :
                            version.schema().map(FeatureSchema::features).orElse(List.of())) {
                        v.addFeatures(FeatureInfo.newBuilder().setName(f.name()).setDatatype(f.datatype()));
                    }
                    info.addVersions(v);
                }
                response.addModels(info);
            }
            return response.build();
        });
    }

    @Override
    public void setDefaultVersion(
            SetDefaultVersionRequest request, StreamObserver<SetDefaultVersionResponse> observer) {
        unary(observer, () -> {
            if (!request.getModel().isEmpty() && !request.getVersion().isEmpty()) {
                CatalogSnapshot.Model model = routing.model(request.getModel());
                boolean ready = model.version(request.getVersion())
                        .map(CatalogSnapshot.Version::readyAnywhere)
                        .orElse(false);
                if (!ready) {
                    throw new RouterException(
                            RouterErrorCode.UNKNOWN_VERSION,
                            "version " + request.getVersion() + " of model " + request.getModel()
                                    + " is not ready on any replica");
                }
            }
            experiments.setDefaultVersion(request.getModel(), request.getVersion(), Actor.current());
            return SetDefaultVersionResponse.newBuilder()
                    .setModel(request.getModel())
                    .setVersion(request.getVersion())
                    .build();
        });
    }

    /**
     * Ready versions of a model, for definition validation. A model no replica knows is NOT_FOUND
     * whatever the definition's status, with the same message as scoring it. A known model without
     * a ready version is a definition error when the definition takes traffic.
     */
    private Set<String> knownVersions(String model, String field, boolean takesTraffic) {
        if (model.isEmpty()) {
            return Set.of(); // the validator reports the empty model
        }
        Set<String> versions = routing.model(model).versions().values().stream()
                .filter(CatalogSnapshot.Version::readyAnywhere)
                .map(CatalogSnapshot.Version::version)
                .collect(Collectors.toUnmodifiableSet());
        if (versions.isEmpty() && takesTraffic) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION,
                    "no replica serves a ready version of model " + model,
                    List.of(new FieldViolation(field, "no replica serves a ready version of model '" + model + "'")),
                    null);
        }
        return versions;
    }

    private Outcome outcome(RecordOutcomeRequest request) {
        List<FieldViolation> violations = new ArrayList<>();
        if (request.getUnitId().isEmpty()) {
            violations.add(new FieldViolation("unit_id", "must not be empty"));
        }
        if (request.getMetric().isEmpty()) {
            violations.add(new FieldViolation("metric", "must not be empty"));
        }
        if (!Double.isFinite(request.getValue())) {
            violations.add(new FieldViolation("value", "must be a finite number"));
        }
        if (request.hasTime()
                && (request.getTime().getSeconds() < MIN_TIMESTAMP_SECONDS
                        || request.getTime().getSeconds() > MAX_TIMESTAMP_SECONDS
                        || request.getTime().getNanos() < 0
                        || request.getTime().getNanos() > 999_999_999)) {
            violations.add(new FieldViolation("time", "must be a timestamp between 0001-01-01 and 9999-12-31"));
        }
        if (!violations.isEmpty()) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION, "invalid outcome: " + violations.get(0), violations, null);
        }
        Instant time = request.hasTime() ? toInstant(request.getTime()) : clock.instant();
        return new Outcome(
                request.getUnitId(),
                request.getMetric(),
                request.getValue(),
                request.getExperiment(),
                time,
                request.getOutcomeId());
    }

    private static Instant toInstant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    private static RolloutResponse rollout(dev.trellis.api.v1.Rollout rollout) {
        return RolloutResponse.newBuilder().setRollout(rollout).build();
    }

    private static ExperimentsException notFound(String what, String key) {
        return new ExperimentsException(ErrorCode.NOT_FOUND, what + " '" + key + "' not found");
    }

    private static <T> void unary(StreamObserver<T> observer, Supplier<T> call) {
        T response;
        try {
            response = call.get();
        } catch (RuntimeException e) {
            observer.onError(StatusMapper.toStatusException(e));
            return;
        }
        observer.onNext(response);
        observer.onCompleted();
    }
}
