package dev.trellis.router.admin;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.Timestamp;
import dev.trellis.api.v1.DeleteExperimentRequest;
import dev.trellis.api.v1.DeleteExperimentResponse;
import dev.trellis.api.v1.Experiment;
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
import dev.trellis.api.v1.KeepVersionRequest;
import dev.trellis.api.v1.KeepVersionResponse;
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
import dev.trellis.api.v1.ReleaseVersionRequest;
import dev.trellis.api.v1.ReleaseVersionResponse;
import dev.trellis.api.v1.ReplicaStatus;
import dev.trellis.api.v1.RolloutActionRequest;
import dev.trellis.api.v1.RolloutResponse;
import dev.trellis.api.v1.SetDefaultVersionRequest;
import dev.trellis.api.v1.SetDefaultVersionResponse;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.StopExperimentRequest;
import dev.trellis.api.v1.StopExperimentResponse;
import dev.trellis.api.v1.Variant;
import dev.trellis.api.v1.VersionHolder;
import dev.trellis.api.v1.VersionIssue;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FieldViolation;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.rollout.RolloutManager;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.experiments.store.Outcome;
import dev.trellis.router.auth.Actor;
import dev.trellis.router.control.ControlPlane;
import dev.trellis.router.control.DesiredVersions;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.StatusMapper;
import dev.trellis.router.monitoring.BundleMetrics;
import dev.trellis.router.routing.Fallbacks;
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
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * {@code trellis.v1.Experiments}: thin translation onto the experiments module, plus the control
 * plane's part: a definition, default or kept version that needs a version is accepted only once
 * that version is READY on some replica ({@link ControlPlane#prepare}), every change asks the control
 * plane for a pass, and reads report the versions a definition needs that no replica serves.
 * Authorization is the {@code AuthInterceptor}'s job; the actor comes from the call's context.
 * Thread-safe.
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
    private final ControlPlane controlPlane;
    private final Fallbacks fallbacks;
    private final BundleMetrics bundleMetrics;
    private final Clock clock;

    @Inject
    public ExperimentsService(
            ExperimentManager experiments,
            ExperimentStore store,
            ExposureLog exposures,
            RoutingService routing,
            ModelCatalog catalog,
            ControlPlane controlPlane,
            Fallbacks fallbacks,
            BundleMetrics bundleMetrics,
            Clock clock) {
        this.experiments = requireNonNull(experiments, "experiments is null");
        this.rollouts = experiments.rollouts();
        this.store = requireNonNull(store, "store is null");
        this.exposures = requireNonNull(exposures, "exposures is null");
        this.routing = requireNonNull(routing, "routing is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.controlPlane = requireNonNull(controlPlane, "controlPlane is null");
        this.fallbacks = requireNonNull(fallbacks, "fallbacks is null");
        this.bundleMetrics = requireNonNull(bundleMetrics, "bundleMetrics is null");
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
            Experiment experiment =
                    experiments.get(request.getKey()).orElseThrow(() -> notFound("experiment", request.getKey()));
            GetExperimentResponse.Builder response =
                    GetExperimentResponse.newBuilder().setExperiment(experiment);
            if (experiment.getStatus() == ExperimentStatus.RUNNING) {
                response.addAllVersionIssues(issues(
                        experiment.getModel(),
                        experiment.getVariantsList().stream()
                                .map(Variant::getVersion)
                                .toList()));
            }
            if (request.getIncludeHistory()) {
                response.addAllHistory(experiments.history(request.getKey()));
            }
            return response.build();
        });
    }

    @Override
    public void putExperiment(PutExperimentRequest request, StreamObserver<PutExperimentResponse> observer) {
        unary(observer, () -> {
            Experiment experiment = request.getExperiment();
            boolean running = experiment.getStatus() == ExperimentStatus.RUNNING;
            List<String> versions = experiment.getVariantsList().stream()
                    .map(Variant::getVersion)
                    .toList();
            try (ControlPlane.Preparation prepared = running ? prepare(experiment.getModel(), versions) : null) {
                if (prepared != null) {
                    List<FieldViolation> violations = new ArrayList<>();
                    for (int i = 0; i < versions.size(); i++) {
                        String problem = prepared.problems().get(versions.get(i));
                        if (problem != null) {
                            violations.add(new FieldViolation(
                                    "experiment.variants[" + i + "].version", cannotServe(versions.get(i), problem)));
                        }
                    }
                    rejectIfAny("experiment needs versions no replica can serve", violations);
                }
                Experiment stored = experiments.put(
                        experiment,
                        request.getExpectedRevision(),
                        Actor.current(),
                        knownVersions(experiment.getModel(), "experiment.model", running),
                        request.getValidateOnly());
                controlPlane.requestPass();
                return PutExperimentResponse.newBuilder().setExperiment(stored).build();
            }
        });
    }

    @Override
    public void stopExperiment(StopExperimentRequest request, StreamObserver<StopExperimentResponse> observer) {
        unary(observer, () -> {
            Experiment stopped = experiments.stop(
                    request.getKey(), request.getWinner(), request.getExpectedRevision(), Actor.current());
            controlPlane.requestPass();
            return StopExperimentResponse.newBuilder().setExperiment(stopped).build();
        });
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
        unary(observer, () -> {
            dev.trellis.api.v1.Rollout spec = request.getRollout();
            try (ControlPlane.Preparation prepared =
                    prepare(spec.getModel(), List.of(spec.getStableVersion(), spec.getCandidateVersion()))) {
                List<FieldViolation> violations = new ArrayList<>();
                if (prepared != null) {
                    addProblem(prepared, spec.getStableVersion(), "rollout.stable_version", violations);
                    addProblem(prepared, spec.getCandidateVersion(), "rollout.candidate_version", violations);
                }
                rejectIfAny("rollout needs versions no replica can serve", violations);
                return changed(
                        rollouts.start(spec, Actor.current(), knownVersions(spec.getModel(), "rollout.model", true)));
            }
        });
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
        unary(observer, () -> changed(rollouts.pause(request.getModel(), request.getReason(), Actor.current())));
    }

    @Override
    public void resumeRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
        unary(observer, () -> changed(rollouts.resume(request.getModel(), request.getReason(), Actor.current())));
    }

    @Override
    public void promoteRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
        unary(observer, () -> changed(rollouts.promote(request.getModel(), request.getReason(), Actor.current())));
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
            return changed(aborted);
        });
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> observer) {
        unary(observer, () -> {
            CatalogSnapshot snapshot = catalog.refreshOnDemand();
            DesiredVersions desired = controlPlane.desired();
            Set<String> names = new TreeSet<>(snapshot.models().keySet());
            names.addAll(desired.models());
            ListModelsResponse.Builder response = ListModelsResponse.newBuilder();
            for (String name : names) {
                Optional<CatalogSnapshot.Model> model = snapshot.model(name);
                String defaultVersion = experiments
                        .defaultVersion(name)
                        .orElse(model.flatMap(CatalogSnapshot.Model::highestReady)
                                .map(CatalogSnapshot.Version::version)
                                .orElse(""));
                ModelInfo.Builder info = ModelInfo.newBuilder().setName(name).setDefaultVersion(defaultVersion);
                if (!defaultVersion.isEmpty()
                        && model.flatMap(m -> m.servable(defaultVersion)).isEmpty()) {
                    model.flatMap(m -> fallbackOf(m, defaultVersion)).ifPresent(info::setFallbackVersion);
                }
                Map<String, List<VersionHolder>> holders = desired.of(name);
                Set<String> versions = new TreeSet<>(CatalogSnapshot.VERSION_ORDER.reversed());
                model.ifPresent(m -> versions.addAll(m.versions().keySet()));
                versions.addAll(holders.keySet());
                for (String v : versions) {
                    ModelVersionInfo.Builder out = ModelVersionInfo.newBuilder().setVersion(v);
                    Optional<CatalogSnapshot.Version> version = model.flatMap(m -> m.version(v));
                    if (version.isPresent()) {
                        for (String replica :
                                new TreeSet<>(version.get().replicas().keySet())) {
                            CatalogSnapshot.ReplicaState state =
                                    version.get().replicas().get(replica);
                            out.addReplicas(ReplicaStatus.newBuilder()
                                    .setReplica(replica)
                                    .setReady(state.ready())
                                    .setState(state.state())
                                    .setReason(state.reason()));
                        }
                        version.get().schema().ifPresent(schema -> out.setTargetKind(schema.targetKind()));
                        for (FeatureSchema.Feature f : version.get()
                                .schema()
                                .map(FeatureSchema::features)
                                .orElse(List.of())) {
                            out.addFeatures(
                                    FeatureInfo.newBuilder().setName(f.name()).setDatatype(f.datatype()));
                        }
                        out.putAllBundleTestMetrics(bundleMetrics.of(model.get(), v));
                    }
                    List<VersionHolder> held = holders.getOrDefault(v, List.of());
                    out.setDesired(!held.isEmpty()).addAllHolders(held);
                    if (!held.isEmpty()) {
                        ControlPlane.problem(snapshot, name, v).ifPresent(out::setProblem);
                    }
                    info.addVersions(out);
                }
                response.addModels(info);
            }
            return response.build();
        });
    }

    /** What requests for {@code version} are served by while it is READY nowhere (as routing would choose). */
    private Optional<String> fallbackOf(CatalogSnapshot.Model model, String version) {
        return fallbacks
                .previousDefault(model.name())
                .filter(previous -> !previous.equals(version))
                .flatMap(model::servable)
                .or(model::highestReady)
                .map(CatalogSnapshot.Version::version);
    }

    @Override
    public void setDefaultVersion(
            SetDefaultVersionRequest request, StreamObserver<SetDefaultVersionResponse> observer) {
        unary(observer, () -> {
            if (!request.getModel().isEmpty() && !request.getVersion().isEmpty()) {
                requireLoadable(request.getModel(), request.getVersion(), "serve it by default", () -> {
                    String before =
                            experiments.defaultVersion(request.getModel()).orElse("");
                    experiments.setDefaultVersion(request.getModel(), request.getVersion(), Actor.current());
                    if (!before.equals(request.getVersion())) {
                        fallbacks.defaultChanged(request.getModel(), before);
                    }
                });
            } else {
                experiments.setDefaultVersion(request.getModel(), request.getVersion(), Actor.current());
            }
            controlPlane.requestPass();
            return SetDefaultVersionResponse.newBuilder()
                    .setModel(request.getModel())
                    .setVersion(request.getVersion())
                    .build();
        });
    }

    @Override
    public void keepVersion(KeepVersionRequest request, StreamObserver<KeepVersionResponse> observer) {
        unary(observer, () -> {
            requireModelAndVersion(request.getModel(), request.getVersion());
            requireLoadable(
                    request.getModel(),
                    request.getVersion(),
                    "keep it",
                    () -> experiments.keepVersion(request.getModel(), request.getVersion(), Actor.current()));
            controlPlane.requestPass();
            return KeepVersionResponse.newBuilder()
                    .setModel(request.getModel())
                    .setVersion(request.getVersion())
                    .addAllReadyReplicas(catalog.snapshot()
                            .model(request.getModel())
                            .flatMap(m -> m.version(request.getVersion()))
                            .map(CatalogSnapshot.Version::readyReplicas)
                            .orElse(List.of()))
                    .build();
        });
    }

    @Override
    public void releaseVersion(ReleaseVersionRequest request, StreamObserver<ReleaseVersionResponse> observer) {
        unary(observer, () -> {
            requireModelAndVersion(request.getModel(), request.getVersion());
            boolean released = experiments.releaseVersion(request.getModel(), request.getVersion());
            controlPlane.requestPass();
            return ReleaseVersionResponse.newBuilder()
                    .setModel(request.getModel())
                    .setVersion(request.getVersion())
                    .setReleased(released)
                    .build();
        });
    }

    private static void requireModelAndVersion(String model, String version) {
        List<FieldViolation> violations = new ArrayList<>();
        if (model.isEmpty()) {
            violations.add(new FieldViolation("model", "must not be empty"));
        }
        if (version.isEmpty()) {
            violations.add(new FieldViolation("version", "must not be empty"));
        }
        rejectIfAny("model and version are required", violations);
    }

    /**
     * Runs {@code change} once {@code version} is READY on some replica (loading it where a replica's
     * repository has it): NOT_FOUND when no replica has the model or version, FAILED_PRECONDITION
     * with each replica's reason when none can load it. Nothing that serves is touched either way.
     */
    private void requireLoadable(String model, String version, String purpose, Runnable change) {
        CatalogSnapshot.Model known = routing.model(model); // NOT_FOUND for an unknown model
        try (ControlPlane.Preparation prepared = controlPlane.prepare(model, List.of(version))) {
            String problem = prepared.problems().get(version);
            if (problem != null) {
                boolean exists = catalog.snapshot()
                        .model(model)
                        .flatMap(m -> m.version(version))
                        .map(CatalogSnapshot.Version::inAnyRepository)
                        .orElse(false);
                if (!exists) {
                    throw new RouterException(
                            RouterErrorCode.UNKNOWN_VERSION,
                            "model " + model + " has no version " + version + " in any replica's repository (versions: "
                                    + String.join(
                                            ", ",
                                            known.versionsDescending().stream()
                                                    .map(CatalogSnapshot.Version::version)
                                                    .toList())
                                    + ")");
                }
                throw new RouterException(
                        RouterErrorCode.VERSION_NOT_LOADABLE,
                        "cannot " + purpose + ": " + cannotServe(version, problem) + "; nothing else changed");
            }
            change.run();
        }
    }

    /** Prepares the versions of a definition on a model the replicas know; null for an unknown model. */
    private ControlPlane.Preparation prepare(String model, List<String> versions) {
        if (model.isEmpty()) {
            return null;
        }
        if (catalog.snapshot().model(model).isEmpty()
                && catalog.refreshOnDemand().model(model).isEmpty()) {
            return null; // knownVersions reports the unknown model on the model field
        }
        return controlPlane.prepare(model, versions);
    }

    private static void addProblem(
            ControlPlane.Preparation prepared, String version, String field, List<FieldViolation> violations) {
        String problem = prepared.problems().get(version);
        if (problem != null) {
            violations.add(new FieldViolation(field, cannotServe(version, problem)));
        }
    }

    private static String cannotServe(String version, String problem) {
        return "version " + version + " cannot be loaded on any replica: " + problem;
    }

    private static void rejectIfAny(String message, List<FieldViolation> violations) {
        if (!violations.isEmpty()) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION,
                    message + ": " + violations.get(0).description(),
                    violations,
                    null);
        }
    }

    /** Versions a definition names that are READY on no replica now, with the reason. */
    private List<VersionIssue> issues(String model, List<String> versions) {
        CatalogSnapshot snapshot = catalog.snapshot();
        List<VersionIssue> issues = new ArrayList<>();
        for (String version : new TreeSet<>(versions)) {
            if (version.isEmpty()) {
                continue;
            }
            ControlPlane.problem(snapshot, model, version)
                    .ifPresent(problem -> issues.add(VersionIssue.newBuilder()
                            .setVersion(version)
                            .setReason(problem)
                            .build()));
        }
        return issues;
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

    private RolloutResponse rollout(dev.trellis.api.v1.Rollout rollout) {
        RolloutResponse.Builder response = RolloutResponse.newBuilder().setRollout(rollout);
        if (RoutingDecider.isActive(rollout)) {
            response.addAllVersionIssues(
                    issues(rollout.getModel(), List.of(rollout.getStableVersion(), rollout.getCandidateVersion())));
        }
        return response.build();
    }

    /** The response to a rollout change, after asking the control plane to follow it. */
    private RolloutResponse changed(dev.trellis.api.v1.Rollout rollout) {
        controlPlane.requestPass();
        return rollout(rollout);
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
