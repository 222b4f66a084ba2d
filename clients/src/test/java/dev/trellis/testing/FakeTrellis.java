package dev.trellis.testing;

import com.google.protobuf.Any;
import com.google.protobuf.Value;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import dev.trellis.api.v1.AttributeColumn;
import dev.trellis.api.v1.BaseScore;
import dev.trellis.api.v1.BucketRange;
import dev.trellis.api.v1.Comparison;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentEvaluation;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ExplainAssignmentRequest;
import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.Explanation;
import dev.trellis.api.v1.FeatureColumn;
import dev.trellis.api.v1.FeatureColumns;
import dev.trellis.api.v1.FeatureContribution;
import dev.trellis.api.v1.FeatureInfo;
import dev.trellis.api.v1.GetExperimentRequest;
import dev.trellis.api.v1.GetExperimentResponse;
import dev.trellis.api.v1.GetResultsRequest;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.HolderKind;
import dev.trellis.api.v1.Interval;
import dev.trellis.api.v1.KeepVersionRequest;
import dev.trellis.api.v1.KeepVersionResponse;
import dev.trellis.api.v1.ListExperimentsRequest;
import dev.trellis.api.v1.ListExperimentsResponse;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.ListModelsResponse;
import dev.trellis.api.v1.MetricType;
import dev.trellis.api.v1.ModelInfo;
import dev.trellis.api.v1.ModelVersionInfo;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.PutExperimentResponse;
import dev.trellis.api.v1.Recommendation;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.RecordOutcomesResponse;
import dev.trellis.api.v1.ReleaseVersionRequest;
import dev.trellis.api.v1.ReleaseVersionResponse;
import dev.trellis.api.v1.ReplicaStatus;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutActionRequest;
import dev.trellis.api.v1.RolloutResponse;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.SampleRatioCheck;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.api.v1.Served;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.StopExperimentRequest;
import dev.trellis.api.v1.StopExperimentResponse;
import dev.trellis.api.v1.VariantResult;
import dev.trellis.api.v1.VersionHolder;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A hand-written fake router on a real port: deterministic scores from the features, an in-memory
 * experiment store with revisions, admin calls guarded by a bearer token, canned results. Thread-safe.
 */
public final class FakeTrellis implements AutoCloseable {
    public static final String TOKEN = "s3cret";
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Context.Key<String> AUTH = Context.key("auth");

    public final List<ScoreRequest> scored = new CopyOnWriteArrayList<>();
    public final List<ScoreBatchRequest> batches = new CopyOnWriteArrayList<>();
    public final List<RecordOutcomeRequest> outcomes = new CopyOnWriteArrayList<>();
    public final Map<String, Experiment> experiments = new ConcurrentHashMap<>();
    public volatile Rollout rollout;
    /** Versions kept through KeepVersion, as model/version. */
    public final java.util.Set<String> kept = ConcurrentHashMap.newKeySet();

    private final Server server;

    public FakeTrellis() throws IOException {
        ServerInterceptor auth = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(
                    ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                String value = headers.get(AUTHORIZATION);
                return Contexts.interceptCall(
                        Context.current().withValue(AUTH, value == null ? "" : value), call, headers, next);
            }
        };
        server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
                .addService(ServerInterceptors.intercept(new FakeScoring(), auth))
                .addService(ServerInterceptors.intercept(new FakeExperiments(), auth))
                .build()
                .start();
    }

    public int port() {
        return server.getPort();
    }

    public String target() {
        return "localhost:" + port();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    /** The fake model: deterministic in the features, so per-row and batch scores can be compared. */
    public static ScoreResponse score(String model, ScoreRequest request, String batchVersion) {
        double sum = 0;
        List<FeatureContribution> contributions = new ArrayList<>();
        for (Map.Entry<String, Value> e : new java.util.TreeMap<>(request.getFeaturesMap()).entrySet()) {
            double part = e.getValue().hasNumberValue()
                    ? e.getValue().getNumberValue() * 0.01
                    : e.getValue().hasStringValue()
                            ? (e.getValue().getStringValue().hashCode() % 100) * 0.001
                            : 0;
            sum += part;
            contributions.add(FeatureContribution.newBuilder()
                    .setFeature(e.getKey())
                    .setValue(part)
                    .build());
        }
        double score = 1 / (1 + Math.exp(-(sum - 1)));
        String version = !request.getVersion().isEmpty()
                ? request.getVersion()
                : batchVersion != null && !batchVersion.isEmpty() ? batchVersion : "2";
        boolean experiment = request.getUnitId().hashCode() % 2 == 0
                && request.getVersion().isEmpty()
                && (batchVersion == null || batchVersion.isEmpty());
        ScoreResponse.Builder response = ScoreResponse.newBuilder()
                .setScore(score)
                .setLabel(score > 0.5 ? "hot" : "cold")
                .setInterval(Interval.newBuilder()
                        .setLower(score * 0.9)
                        .setUpper(Math.min(1, score * 1.1))
                        .setLevel(0.95))
                .setAgreement(0.9)
                .addBaseScores(BaseScore.newBuilder().setModel("xgboost").setScore(score))
                .addBaseScores(BaseScore.newBuilder().setModel("mlp").setScore(score * 0.95))
                .setServed(Served.newBuilder()
                        .setModel(model)
                        .setVersion(experiment ? "1" : version)
                        .setExperiment(experiment ? "exp-a" : "")
                        .setVariant(experiment ? "control" : "")
                        .setReason(
                                !request.getVersion().isEmpty() || (batchVersion != null && !batchVersion.isEmpty())
                                        ? RoutingReason.PINNED
                                        : experiment ? RoutingReason.EXPERIMENT : RoutingReason.DEFAULT)
                        .setReplica("fake:8081"))
                .setRequestId(request.getRequestId());
        if (request.getExplain()) {
            response.setExplanation(Explanation.newBuilder()
                    .addAllContributions(contributions)
                    .setBaseValue(-1)
                    .setMlpTerm(0.0)
                    .setLogit(sum - 1));
        }
        return response.build();
    }

    private static StatusRuntimeException badRequest(String message, String field, String description) {
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                .setCode(Code.INVALID_ARGUMENT_VALUE)
                .setMessage(message)
                .addDetails(Any.pack(BadRequest.newBuilder()
                        .addFieldViolations(BadRequest.FieldViolation.newBuilder()
                                .setField(field)
                                .setDescription(description))
                        .build()))
                .build());
    }

    private static void check(ScoreRequest request, String model, String prefix) {
        if (model.equals("down")) { // a running server answering UNAVAILABLE
            throw Status.UNAVAILABLE
                    .withDescription("no replica can serve model 'down'")
                    .asRuntimeException();
        }
        if (model.equals("slow")) { // a server that answers after the caller's deadline
            try {
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (!model.equals("leads")) {
            throw Status.NOT_FOUND
                    .withDescription("unknown model '" + model + "'")
                    .asRuntimeException();
        }
        for (Map.Entry<String, Value> e : request.getFeaturesMap().entrySet()) {
            if (e.getKey().equals("tenure") && e.getValue().hasStringValue()) {
                throw badRequest(
                        "invalid features",
                        prefix + "features.tenure",
                        "expected a number, got '" + e.getValue().getStringValue() + "'");
            }
        }
    }

    /** Columns as the rows they stand for: NaN and "" become missing (null) values, as the router reads them. */
    private static List<ScoreRequest> rowsOf(FeatureColumns columns, String model) {
        if (!model.equals("leads") && columns.getUnitIdsCount() > 0) {
            throw Status.NOT_FOUND
                    .withDescription("unknown model '" + model + "'")
                    .asRuntimeException();
        }
        List<ScoreRequest> rows = new ArrayList<>();
        for (int row = 0; row < columns.getUnitIdsCount(); row++) {
            ScoreRequest.Builder request = ScoreRequest.newBuilder().setUnitId(columns.getUnitIds(row));
            for (int i = 0; i < columns.getFeaturesCount(); i++) {
                FeatureColumn column = columns.getFeatures(i);
                if (column.getName().equals("tenure") && column.hasStrings()) {
                    throw badRequest(
                            "invalid features",
                            "columns.features[" + i + "]",
                            "tenure is a numeric feature: send numbers");
                }
                boolean missing = column.hasNumbers()
                        ? Double.isNaN(column.getNumbers().getValues(row))
                        : column.getStrings().getValues(row).isEmpty();
                request.putFeatures(
                        column.getName(),
                        missing
                                ? Value.newBuilder().setNullValueValue(0).build()
                                : column.hasNumbers()
                                        ? Value.newBuilder()
                                                .setNumberValue(
                                                        column.getNumbers().getValues(row))
                                                .build()
                                        : Value.newBuilder()
                                                .setStringValue(
                                                        column.getStrings().getValues(row))
                                                .build());
            }
            for (AttributeColumn column : columns.getAttributesList()) {
                if (!column.getValues(row).isEmpty()) {
                    request.putAttributes(column.getName(), column.getValues(row));
                }
            }
            rows.add(request.build());
        }
        return rows;
    }

    private static void admin() {
        if (!("Bearer " + TOKEN).equals(AUTH.get())) {
            throw Status.UNAUTHENTICATED.withDescription("admin token required").asRuntimeException();
        }
    }

    private final class FakeScoring extends ScoringGrpc.ScoringImplBase {
        @Override
        public void score(ScoreRequest request, StreamObserver<ScoreResponse> observer) {
            try {
                check(request, request.getModel(), "");
                scored.add(request);
                observer.onNext(FakeTrellis.score(request.getModel(), request, null));
                observer.onCompleted();
            } catch (StatusRuntimeException e) {
                observer.onError(e);
            }
        }

        @Override
        public void scoreBatch(ScoreBatchRequest request, StreamObserver<ScoreBatchResponse> observer) {
            try {
                batches.add(request);
                ScoreBatchResponse.Builder response = ScoreBatchResponse.newBuilder();
                for (int i = 0; i < request.getRowsCount(); i++) {
                    ScoreRequest row = request.getRows(i);
                    check(row, request.getModel(), "rows[" + i + "].");
                    response.addResults(FakeTrellis.score(request.getModel(), row, request.getVersion()));
                }
                for (ScoreRequest row : rowsOf(request.getColumns(), request.getModel())) {
                    response.addResults(FakeTrellis.score(request.getModel(), row, request.getVersion()));
                }
                observer.onNext(response.build());
                observer.onCompleted();
            } catch (StatusRuntimeException e) {
                observer.onError(e);
            }
        }
    }

    private final class FakeExperiments extends ExperimentsGrpc.ExperimentsImplBase {
        @Override
        public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> observer) {
            ModelVersionInfo.Builder v2 = ModelVersionInfo.newBuilder()
                    .setVersion("2")
                    .addReplicas(
                            ReplicaStatus.newBuilder().setReplica("fake:8081").setReady(true))
                    .setDesired(true)
                    .addHolders(VersionHolder.newBuilder().setKind(HolderKind.HOLDER_DEFAULT))
                    .addHolders(VersionHolder.newBuilder()
                            .setKind(HolderKind.HOLDER_EXPERIMENT)
                            .setName("leads-ab/treatment"))
                    .addFeatures(FeatureInfo.newBuilder().setName("tenure").setDatatype("FP32"))
                    .addFeatures(FeatureInfo.newBuilder().setName("contract").setDatatype("BYTES"))
                    .addFeatures(
                            FeatureInfo.newBuilder().setName("total_charges").setDatatype("FP32"));
            observer.onNext(ListModelsResponse.newBuilder()
                    .addModels(ModelInfo.newBuilder()
                            .setName("leads")
                            .setDefaultVersion("2")
                            .addVersions(v2)
                            .addVersions(ModelVersionInfo.newBuilder()
                                    .setVersion("1")
                                    .addReplicas(ReplicaStatus.newBuilder()
                                            .setReplica("fake:8081")
                                            .setState("UNAVAILABLE")
                                            .setReason("not loaded: outside version policy latest:1"))))
                    .build());
            observer.onCompleted();
        }

        @Override
        public void keepVersion(KeepVersionRequest request, StreamObserver<KeepVersionResponse> observer) {
            if (request.getVersion().equals("9")) {
                observer.onError(Status.NOT_FOUND
                        .withDescription(
                                "model " + request.getModel() + " has no version 9 in any replica's repository")
                        .asRuntimeException());
                return;
            }
            kept.add(request.getModel() + "/" + request.getVersion());
            observer.onNext(KeepVersionResponse.newBuilder()
                    .setModel(request.getModel())
                    .setVersion(request.getVersion())
                    .addReadyReplicas("fake:8081")
                    .build());
            observer.onCompleted();
        }

        @Override
        public void releaseVersion(ReleaseVersionRequest request, StreamObserver<ReleaseVersionResponse> observer) {
            observer.onNext(ReleaseVersionResponse.newBuilder()
                    .setModel(request.getModel())
                    .setVersion(request.getVersion())
                    .setReleased(kept.remove(request.getModel() + "/" + request.getVersion()))
                    .build());
            observer.onCompleted();
        }

        @Override
        public void listExperiments(ListExperimentsRequest request, StreamObserver<ListExperimentsResponse> observer) {
            observer.onNext(ListExperimentsResponse.newBuilder()
                    .addAllExperiments(new java.util.TreeMap<>(experiments).values())
                    .build());
            observer.onCompleted();
        }

        @Override
        public void getExperiment(GetExperimentRequest request, StreamObserver<GetExperimentResponse> observer) {
            Experiment e = experiments.get(request.getKey());
            if (e == null) {
                observer.onError(Status.NOT_FOUND
                        .withDescription("no experiment '" + request.getKey() + "'")
                        .asRuntimeException());
                return;
            }
            GetExperimentResponse.Builder response =
                    GetExperimentResponse.newBuilder().setExperiment(e);
            if (request.getIncludeHistory()) {
                response.addHistory(dev.trellis.api.v1.Revision.newBuilder()
                        .setRevision(e.getRevision())
                        .setActor("admin")
                        .setAction("CREATED"));
            }
            observer.onNext(response.build());
            observer.onCompleted();
        }

        @Override
        public void putExperiment(PutExperimentRequest request, StreamObserver<PutExperimentResponse> observer) {
            try {
                admin();
                Experiment e = request.getExperiment();
                double sum = e.getVariantsList().stream()
                        .mapToDouble(dev.trellis.api.v1.Variant::getWeight)
                        .sum();
                if (Math.abs(sum - 1) > 0.01) {
                    throw badRequest("invalid experiment", "experiment.variants", "weights sum to " + sum + ", not 1");
                }
                Experiment current = experiments.get(e.getKey());
                long currentRevision = current == null ? 0 : current.getRevision();
                if (request.getExpectedRevision() != currentRevision) {
                    throw Status.ABORTED
                            .withDescription("stale revision: expected " + request.getExpectedRevision() + ", current "
                                    + currentRevision)
                            .asRuntimeException();
                }
                Experiment stored =
                        e.toBuilder().setRevision(currentRevision + 1).build();
                if (!request.getValidateOnly()) {
                    experiments.put(e.getKey(), stored);
                }
                observer.onNext(
                        PutExperimentResponse.newBuilder().setExperiment(stored).build());
                observer.onCompleted();
            } catch (StatusRuntimeException e) {
                observer.onError(e);
            }
        }

        @Override
        public void stopExperiment(StopExperimentRequest request, StreamObserver<StopExperimentResponse> observer) {
            try {
                admin();
                Experiment e = experiments.get(request.getKey());
                if (e == null) {
                    throw Status.NOT_FOUND
                            .withDescription("no experiment '" + request.getKey() + "'")
                            .asRuntimeException();
                }
                Experiment stopped = e.toBuilder()
                        .setStatus(ExperimentStatus.STOPPED)
                        .setWinner(request.getWinner())
                        .setRevision(e.getRevision() + 1)
                        .build();
                experiments.put(e.getKey(), stopped);
                observer.onNext(StopExperimentResponse.newBuilder()
                        .setExperiment(stopped)
                        .build());
                observer.onCompleted();
            } catch (StatusRuntimeException e) {
                observer.onError(e);
            }
        }

        @Override
        public void explainAssignment(
                ExplainAssignmentRequest request, StreamObserver<ExplainAssignmentResponse> observer) {
            observer.onNext(ExplainAssignmentResponse.newBuilder()
                    .setVersion("1")
                    .setReason(RoutingReason.EXPERIMENT)
                    .setExperiment("exp-a")
                    .setVariant("control")
                    .setSummary("unit " + request.getUnitId() + " hash 0.3127 in [0,0.5) -> control (version 1)")
                    .addEvaluations(ExperimentEvaluation.newBuilder()
                            .setExperiment("exp-a")
                            .setSeed("exp-a")
                            .setConditionsMet(true)
                            .setInNamespace(true)
                            .setHash(0.3127)
                            .setCoverage(1)
                            .addRanges(BucketRange.newBuilder()
                                    .setVariant("control")
                                    .setStart(0)
                                    .setEnd(0.5))
                            .addRanges(BucketRange.newBuilder()
                                    .setVariant("treatment")
                                    .setStart(0.5)
                                    .setEnd(1))
                            .setVariant("control")
                            .setVersion("1")
                            .setDecision("hash 0.3127 in control [0, 0.5)"))
                    .build());
            observer.onCompleted();
        }

        @Override
        public StreamObserver<RecordOutcomeRequest> recordOutcomes(StreamObserver<RecordOutcomesResponse> observer) {
            try {
                admin();
            } catch (StatusRuntimeException e) {
                observer.onError(e);
                return new StreamObserver<>() {
                    public void onNext(RecordOutcomeRequest value) {}

                    public void onError(Throwable t) {}

                    public void onCompleted() {}
                };
            }
            return new StreamObserver<>() {
                private long count;

                @Override
                public void onNext(RecordOutcomeRequest value) {
                    outcomes.add(value);
                    count++;
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {
                    observer.onNext(RecordOutcomesResponse.newBuilder()
                            .setAccepted(count)
                            .build());
                    observer.onCompleted();
                }
            };
        }

        @Override
        public void getResults(GetResultsRequest request, StreamObserver<GetResultsResponse> observer) {
            observer.onNext(GetResultsResponse.newBuilder()
                    .setExperiment(request.getExperiment())
                    .setMetric("converted")
                    .setMetricType(MetricType.CONVERSION)
                    .addVariants(VariantResult.newBuilder()
                            .setVariant("control")
                            .setVersion("1")
                            .setWeight(0.5)
                            .setUnits(1000)
                            .setConversions(60)
                            .setMean(0.06))
                    .addVariants(VariantResult.newBuilder()
                            .setVariant("treatment")
                            .setVersion("2")
                            .setWeight(0.5)
                            .setUnits(1010)
                            .setConversions(81)
                            .setMean(0.0802))
                    .addComparisons(Comparison.newBuilder()
                            .setVariant("treatment")
                            .setControl("control")
                            .setAbsoluteLift(0.0202)
                            .setAbsoluteLiftLower(-0.001)
                            .setAbsoluteLiftUpper(0.041)
                            .setRelativeLift(0.336)
                            .setRelativeLiftLower(-0.02)
                            .setRelativeLiftUpper(0.69)
                            .setPValue(0.076)
                            .setStatistic(1.77))
                    .setSrm(SampleRatioCheck.newBuilder().setChiSquare(0.05).setPValue(0.82))
                    .setRequiredSampleSizePerArm(2207)
                    .setRecommendation(Recommendation.KEEP_RUNNING)
                    .setExplanation("not enough units yet")
                    .build());
            observer.onCompleted();
        }

        @Override
        public void startRollout(StartRolloutRequest request, StreamObserver<RolloutResponse> observer) {
            try {
                admin();
                Rollout r = request.getRollout().toBuilder()
                        .setState(RolloutState.PROGRESSING)
                        .setCurrentWeight(
                                request.getRollout().getStepsCount() == 0
                                        ? 5
                                        : request.getRollout().getSteps(0))
                        .setRevision(1)
                        .build();
                rollout = r;
                observer.onNext(RolloutResponse.newBuilder().setRollout(r).build());
                observer.onCompleted();
            } catch (StatusRuntimeException e) {
                observer.onError(e);
            }
        }

        @Override
        public void getRollout(GetRolloutRequest request, StreamObserver<RolloutResponse> observer) {
            Rollout r = rollout;
            if (r == null || !r.getModel().equals(request.getModel())) {
                observer.onError(Status.NOT_FOUND
                        .withDescription("no rollout of '" + request.getModel() + "'")
                        .asRuntimeException());
                return;
            }
            observer.onNext(RolloutResponse.newBuilder().setRollout(r).build());
            observer.onCompleted();
        }

        @Override
        public void pauseRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
            transition(request, RolloutState.PAUSED, observer);
        }

        @Override
        public void resumeRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
            transition(request, RolloutState.PROGRESSING, observer);
        }

        @Override
        public void promoteRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
            transition(request, RolloutState.PROMOTED, observer);
        }

        @Override
        public void abortRollout(RolloutActionRequest request, StreamObserver<RolloutResponse> observer) {
            transition(request, RolloutState.ABORTED, observer);
        }

        private void transition(
                RolloutActionRequest request, RolloutState state, StreamObserver<RolloutResponse> observer) {
            try {
                admin();
                Rollout r = rollout;
                if (r == null || !r.getModel().equals(request.getModel())) {
                    throw Status.NOT_FOUND
                            .withDescription("no rollout of '" + request.getModel() + "'")
                            .asRuntimeException();
                }
                Rollout next = r.toBuilder()
                        .setState(state)
                        .setReason(request.getReason())
                        .setCurrentWeight(
                                state == RolloutState.PROMOTED
                                        ? 100
                                        : state == RolloutState.ABORTED ? 0 : r.getCurrentWeight())
                        .build();
                rollout = next;
                observer.onNext(RolloutResponse.newBuilder().setRollout(next).build());
                observer.onCompleted();
            } catch (StatusRuntimeException e) {
                observer.onError(e);
            }
        }
    }
}
