package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.DeleteExperimentRequest;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.ExperimentsGrpc;
import dev.trellis.api.v1.ExplainAssignmentRequest;
import dev.trellis.api.v1.GetExperimentRequest;
import dev.trellis.api.v1.GetExperimentResponse;
import dev.trellis.api.v1.GetResultsRequest;
import dev.trellis.api.v1.GetRolloutRequest;
import dev.trellis.api.v1.KeepVersionRequest;
import dev.trellis.api.v1.ListExperimentsRequest;
import dev.trellis.api.v1.ListModelsRequest;
import dev.trellis.api.v1.PutExperimentRequest;
import dev.trellis.api.v1.RecordOutcomeRequest;
import dev.trellis.api.v1.RecordOutcomesResponse;
import dev.trellis.api.v1.ReleaseVersionRequest;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutActionRequest;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreBatchResponse;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.ScoringGrpc;
import dev.trellis.api.v1.SetDefaultVersionRequest;
import dev.trellis.api.v1.StartRolloutRequest;
import dev.trellis.api.v1.StopExperimentRequest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Java client of the Trellis router: scoring, assignment explanations, experiments, outcomes,
 * results, rollouts and models. Thread-safe; create one per process and share it.
 *
 * <p>Every call carries a deadline (the {@linkplain Builder#defaultDeadline(Duration) default
 * deadline}, 2 s unless configured; client streams use the {@linkplain Builder#streamDeadline(Duration)
 * stream deadline}). Failed calls throw {@link TrellisException} with the gRPC status code, the
 * server's message and the field violations of an {@code INVALID_ARGUMENT}.
 *
 * <pre>{@code
 * try (TrellisClient client = TrellisClient.builder().target("localhost:8080").plaintext().build()) {
 *     ScoreResult result = client.score("leads", "lead-42", Features.builder()
 *             .put("MOSHOOFD", "Family with grown ups")
 *             .put("PPERSAUT", 6)
 *             .build());
 *     System.out.println(result.score() + " " + result.label() + " v" + result.served().version());
 * }
 * }</pre>
 */
public final class TrellisClient implements AutoCloseable {
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ManagedChannel ownedChannel;
    private final Channel channel;
    private final Duration defaultDeadline;
    private final Duration streamDeadline;
    private final ScoringGrpc.ScoringBlockingStub scoring;
    private final ScoringGrpc.ScoringStub scoringAsync;
    private final ExperimentsGrpc.ExperimentsBlockingStub experiments;
    private final ExperimentsGrpc.ExperimentsStub experimentsAsync;
    private final AtomicBoolean closed = new AtomicBoolean();

    private TrellisClient(Builder builder) {
        this.defaultDeadline = builder.defaultDeadline;
        this.streamDeadline = builder.streamDeadline;
        Channel base;
        if (builder.channel != null) {
            this.ownedChannel = null;
            base = builder.channel;
        } else {
            requireNonNull(builder.target, "target or channel must be set");
            this.ownedChannel = Grpc.newChannelBuilder(RouterAddresses.target(builder.target), builder.credentials())
                    .maxInboundMessageSize(builder.maxInboundMessageSize)
                    .userAgent("trellis-java-client")
                    .defaultServiceConfig(RouterAddresses.serviceConfig())
                    .enableRetry()
                    .build();
            base = ownedChannel;
        }
        this.channel = builder.bearerToken == null
                ? base
                : ClientInterceptors.intercept(base, new BearerTokenInterceptor(builder.bearerToken));
        this.scoring = ScoringGrpc.newBlockingStub(channel);
        this.scoringAsync = ScoringGrpc.newStub(channel);
        this.experiments = ExperimentsGrpc.newBlockingStub(channel);
        this.experimentsAsync = ExperimentsGrpc.newStub(channel);
    }

    /**
     * Starts configuring a client.
     *
     * @return a builder with a 2 s default deadline, plaintext, and no token
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A client over an existing channel, which the client does not close.
     *
     * @param channel the channel to the router
     * @return the client, with default settings
     */
    public static TrellisClient forChannel(Channel channel) {
        return builder().channel(channel).build();
    }

    /**
     * The channel calls go through (with the token interceptor, when a token is set). Use it for
     * the generated stubs of calls this client does not wrap.
     *
     * @return the channel
     */
    public Channel channel() {
        return channel;
    }

    /**
     * The deadline of unary calls.
     *
     * @return the default deadline
     */
    public Duration defaultDeadline() {
        return defaultDeadline;
    }

    // ---------------------------------------------------------------------------------------------
    // Scoring
    // ---------------------------------------------------------------------------------------------

    /**
     * Scores one row; the router picks the version (experiment, rollout or default).
     *
     * @param model the logical model name
     * @param unitId the randomization unit, e.g. the lead id; empty keeps the row out of experiments
     * @param features the feature values
     * @return the result
     * @throws TrellisException when the call fails
     */
    public ScoreResult score(String model, String unitId, Features features) {
        return score(ScoreRequest.newBuilder()
                .setModel(requireNonNull(model, "model is null"))
                .setUnitId(requireNonNull(unitId, "unitId is null"))
                .putAllFeatures(requireNonNull(features, "features is null").asProto())
                .build());
    }

    /**
     * Scores one row from a full request (attributes, version pin, explain, request id).
     *
     * <pre>{@code
     * ScoreResult r = client.score(ScoreRequest.newBuilder()
     *         .setModel("churn").setUnitId("C00042")
     *         .putAllFeatures(features.asProto())
     *         .setExplain(true)
     *         .build());
     * r.contributions().forEach((feature, logOdds) -> System.out.println(feature + " " + logOdds));
     * }</pre>
     *
     * @param request the request
     * @return the result
     * @throws TrellisException when the call fails
     */
    public ScoreResult score(ScoreRequest request) {
        return ScoreResult.fromProto(call(() -> scoring.withDeadlineAfter(deadlineMillis(), TimeUnit.MILLISECONDS)
                .score(request)));
    }

    /**
     * Scores one row without blocking.
     *
     * @param request the request
     * @return a future completed with the result, or exceptionally with a {@link TrellisException}
     */
    public CompletableFuture<ScoreResult> scoreAsync(ScoreRequest request) {
        CompletableFuture<ScoreResponse> future = new CompletableFuture<>();
        scoringAsync.withDeadlineAfter(deadlineMillis(), TimeUnit.MILLISECONDS).score(request, completing(future));
        return future.thenApply(ScoreResult::fromProto);
    }

    /**
     * Scores many rows of one model in one call; each row is routed on its own unit id.
     *
     * @param model the logical model name
     * @param rows the rows
     * @return one result per row, in order
     * @throws TrellisException when the call fails
     */
    public List<ScoreResult> scoreBatch(String model, List<ScoreRow> rows) {
        return scoreBatch(batchRequest(model, rows));
    }

    /**
     * Scores a batch from a full request (version pin, explain).
     *
     * @param request the request
     * @return one result per row, in order
     * @throws TrellisException when the call fails
     */
    public List<ScoreResult> scoreBatch(ScoreBatchRequest request) {
        ScoreBatchResponse response = call(() -> scoring.withDeadlineAfter(deadlineMillis(), TimeUnit.MILLISECONDS)
                .scoreBatch(request));
        return response.getResultsList().stream().map(ScoreResult::fromProto).toList();
    }

    /**
     * Scores a batch without blocking; used to keep several batches in flight.
     *
     * @param request the request
     * @return a future completed with one result per row, or exceptionally with a {@link TrellisException}
     */
    public CompletableFuture<List<ScoreResult>> scoreBatchAsync(ScoreBatchRequest request) {
        return scoreBatchAsync(request, defaultDeadline);
    }

    /**
     * Scores a batch without blocking, with its own deadline (large batches take longer than one row).
     *
     * @param request the request
     * @param deadline the call's deadline
     * @return a future completed with one result per row, or exceptionally with a {@link TrellisException}
     */
    public CompletableFuture<List<ScoreResult>> scoreBatchAsync(ScoreBatchRequest request, Duration deadline) {
        CompletableFuture<ScoreBatchResponse> future = new CompletableFuture<>();
        scoringAsync
                .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
                .scoreBatch(request, completing(future));
        return future.thenApply(
                r -> r.getResultsList().stream().map(ScoreResult::fromProto).toList());
    }

    /**
     * Builds the wire request of a batch.
     *
     * @param model the logical model name
     * @param rows the rows
     * @return the request
     */
    public static ScoreBatchRequest batchRequest(String model, List<ScoreRow> rows) {
        ScoreBatchRequest.Builder builder =
                ScoreBatchRequest.newBuilder().setModel(requireNonNull(model, "model is null"));
        for (ScoreRow row : rows) {
            builder.addRows(ScoreRequest.newBuilder()
                    .setUnitId(row.unitId())
                    .putAllFeatures(row.features().asProto())
                    .putAllAttributes(row.attributes()));
        }
        return builder.build();
    }

    /**
     * Scores rows given as columns in one call, the compact form for bulk scoring; each row is
     * routed on its own unit id, and the results are the same as for the rows as {@link ScoreRow}s.
     *
     * @param model the logical model name
     * @param batch the rows as columns
     * @return one result per row, in order
     * @throws TrellisException when the call fails (a column the model does not know or of the
     *         wrong type is an {@code INVALID_ARGUMENT} naming {@code columns.features[i]})
     */
    public List<ScoreResult> scoreColumns(String model, ColumnBatch batch) {
        ColumnsRequest request = columnsCall(model, batch, null);
        ScoreBatchResponse response = call(() -> ClientCalls.blockingUnaryCall(
                channel,
                ColumnsRequest.METHOD,
                CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis(), TimeUnit.MILLISECONDS),
                request));
        return response.getResultsList().stream().map(ScoreResult::fromProto).toList();
    }

    /**
     * Scores rows given as columns without blocking, with its own deadline; used to keep several
     * batches in flight.
     *
     * @param model the logical model name
     * @param batch the rows as columns
     * @param version a version pin for every row, or null to let the router route each row
     * @param deadline the call's deadline
     * @return a future completed with one result per row, or exceptionally with a {@link TrellisException}
     */
    public CompletableFuture<List<ScoreResult>> scoreColumnsAsync(
            String model, ColumnBatch batch, String version, Duration deadline) {
        ColumnsRequest request = columnsCall(model, batch, version);
        CompletableFuture<ScoreBatchResponse> future = new CompletableFuture<>();
        ClientCalls.asyncUnaryCall(
                channel.newCall(
                        ColumnsRequest.METHOD,
                        CallOptions.DEFAULT.withDeadlineAfter(
                                requireNonNull(deadline, "deadline is null").toMillis(), TimeUnit.MILLISECONDS)),
                request,
                completing(future));
        return future.thenApply(
                r -> r.getResultsList().stream().map(ScoreResult::fromProto).toList());
    }

    // the batch's columns go out as the builder encoded them, not as a message serialized again
    private static ColumnsRequest columnsCall(String model, ColumnBatch batch, String version) {
        return new ColumnsRequest(
                requireNonNull(model, "model is null"), requireNonNull(batch, "batch is null"), version);
    }

    /**
     * Builds the wire request of a columnar batch.
     *
     * @param model the logical model name
     * @param batch the rows as columns
     * @param version a version pin for every row, or null
     * @return the request
     */
    public static ScoreBatchRequest columnsRequest(String model, ColumnBatch batch, String version) {
        ScoreBatchRequest.Builder builder = ScoreBatchRequest.newBuilder()
                .setModel(requireNonNull(model, "model is null"))
                .setColumns(requireNonNull(batch, "batch is null").asProto());
        if (version != null) {
            builder.setVersion(version);
        }
        return builder.build();
    }

    // ---------------------------------------------------------------------------------------------
    // Assignment
    // ---------------------------------------------------------------------------------------------

    /**
     * Explains which experiment, variant and version a unit gets, and why.
     *
     * @param model the logical model name
     * @param unitId the unit id
     * @param attributes targeting attributes
     * @return the assignment with its reasoning
     * @throws TrellisException when the call fails
     */
    public Assignment explainAssignment(String model, String unitId, Map<String, String> attributes) {
        ExplainAssignmentRequest request = ExplainAssignmentRequest.newBuilder()
                .setModel(requireNonNull(model, "model is null"))
                .setUnitId(requireNonNull(unitId, "unitId is null"))
                .putAllAttributes(requireNonNull(attributes, "attributes is null"))
                .build();
        return Assignment.fromProto(call(() -> experiments().explainAssignment(request)));
    }

    // ---------------------------------------------------------------------------------------------
    // Experiments
    // ---------------------------------------------------------------------------------------------

    /**
     * Lists all experiments, ordered by model then key.
     *
     * @return the experiments
     * @throws TrellisException when the call fails
     */
    public List<Experiment> listExperiments() {
        return listExperiments(null, null);
    }

    /**
     * Lists experiments of one model and/or status.
     *
     * @param model only this model's experiments, or null for all
     * @param status only this status, or null for all
     * @return the experiments
     * @throws TrellisException when the call fails
     */
    public List<Experiment> listExperiments(String model, ExperimentStatus status) {
        ListExperimentsRequest.Builder request = ListExperimentsRequest.newBuilder();
        if (model != null) {
            request.setModel(model);
        }
        if (status != null) {
            request.setStatus(status);
        }
        return call(() -> experiments().listExperiments(request.build())).getExperimentsList();
    }

    /**
     * One experiment's current definition.
     *
     * @param key the experiment key
     * @return the definition, with its revision
     * @throws TrellisException NOT_FOUND when there is no such experiment
     */
    public Experiment getExperiment(String key) {
        return call(() -> experiments()
                        .getExperiment(
                                GetExperimentRequest.newBuilder().setKey(key).build()))
                .getExperiment();
    }

    /**
     * One experiment's revision history, oldest first.
     *
     * @param key the experiment key
     * @return the revisions
     * @throws TrellisException NOT_FOUND when there is no such experiment
     */
    public List<Revision> experimentHistory(String key) {
        GetExperimentResponse response = call(() -> experiments()
                .getExperiment(GetExperimentRequest.newBuilder()
                        .setKey(key)
                        .setIncludeHistory(true)
                        .build()));
        return response.getHistoryList();
    }

    /**
     * Creates or updates an experiment (admin).
     *
     * @param experiment the definition; output-only fields are ignored
     * @param expectedRevision the revision last read; 0 to create
     * @return the stored definition with its new revision
     * @throws TrellisException INVALID_ARGUMENT with field violations for a bad definition,
     *         ABORTED or FAILED_PRECONDITION for a stale revision
     */
    public Experiment putExperiment(Experiment experiment, long expectedRevision) {
        PutExperimentRequest request = PutExperimentRequest.newBuilder()
                .setExperiment(requireNonNull(experiment, "experiment is null"))
                .setExpectedRevision(expectedRevision)
                .build();
        return call(() -> experiments().putExperiment(request)).getExperiment();
    }

    /**
     * Validates a definition without storing it (admin).
     *
     * @param experiment the definition
     * @param expectedRevision the revision last read; 0 for a new experiment
     * @return the definition as it would be stored
     * @throws TrellisException INVALID_ARGUMENT with field violations for a bad definition
     */
    public Experiment validateExperiment(Experiment experiment, long expectedRevision) {
        PutExperimentRequest request = PutExperimentRequest.newBuilder()
                .setExperiment(requireNonNull(experiment, "experiment is null"))
                .setExpectedRevision(expectedRevision)
                .setValidateOnly(true)
                .build();
        return call(() -> experiments().putExperiment(request)).getExperiment();
    }

    /**
     * Concludes an experiment (admin).
     *
     * @param key the experiment key
     * @param winner the winning variant key, or null
     * @param expectedRevision the revision last read; 0 skips the check
     * @return the stopped experiment
     * @throws TrellisException when the call fails
     */
    public Experiment stopExperiment(String key, String winner, long expectedRevision) {
        StopExperimentRequest.Builder request =
                StopExperimentRequest.newBuilder().setKey(key).setExpectedRevision(expectedRevision);
        if (winner != null) {
            request.setWinner(winner);
        }
        return call(() -> experiments().stopExperiment(request.build())).getExperiment();
    }

    /**
     * Deletes a DRAFT experiment with its history (admin).
     *
     * @param key the experiment key
     * @param expectedRevision the revision last read; 0 skips the check
     * @return the definition as it was when deleted
     * @throws TrellisException FAILED_PRECONDITION when the experiment is not a DRAFT, NOT_FOUND when
     *     there is no such experiment
     */
    public Experiment deleteExperiment(String key, long expectedRevision) {
        DeleteExperimentRequest request = DeleteExperimentRequest.newBuilder()
                .setKey(requireNonNull(key, "key is null"))
                .setExpectedRevision(expectedRevision)
                .build();
        return call(() -> experiments().deleteExperiment(request)).getExperiment();
    }

    // ---------------------------------------------------------------------------------------------
    // Outcomes and results
    // ---------------------------------------------------------------------------------------------

    /**
     * Records one outcome for a unit (admin).
     *
     * @param unitId the unit
     * @param metric the metric, e.g. {@code converted}
     * @param value 1/0 for conversions, a real value otherwise
     * @return whether the router accepted it
     * @throws TrellisException when the call fails
     */
    public boolean recordOutcome(String unitId, String metric, double value) {
        return recordOutcome(RecordOutcomeRequest.newBuilder()
                .setUnitId(unitId)
                .setMetric(metric)
                .setValue(value)
                .build());
    }

    /**
     * Records one outcome from a full request (experiment, time, outcome id) (admin). The call
     * returns once the router committed the outcome. Without an {@code outcome_id} the client
     * sets a random one, so that its own retries (on UNAVAILABLE, possibly on another router)
     * store nothing twice; set your own to make your retries safe too.
     *
     * @param request the request
     * @return whether the router accepted it (committed, or already stored under its id)
     * @throws TrellisException when the call fails
     */
    public boolean recordOutcome(RecordOutcomeRequest request) {
        RecordOutcomeRequest keyed = request.getOutcomeId().isEmpty()
                ? request.toBuilder()
                        .setOutcomeId(java.util.UUID.randomUUID().toString())
                        .build()
                : request;
        return call(() -> experiments().recordOutcome(keyed)).getAccepted();
    }

    /**
     * Records many outcomes through one client stream, respecting flow control: the iterator is
     * only advanced while the transport is ready, so memory stays flat for any number of outcomes.
     * The call has the {@linkplain Builder#streamDeadline(Duration) stream deadline}.
     *
     * @param outcomes the outcomes; read on a gRPC thread, so the iterator must tolerate that
     * @return the number of outcomes the router accepted
     * @throws TrellisException when the call fails, or wrapping the iterator's exception (code CANCELLED)
     */
    public long recordOutcomes(Iterator<RecordOutcomeRequest> outcomes) {
        requireNonNull(outcomes, "outcomes is null");
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<RecordOutcomesResponse> response = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        experimentsAsync
                .withDeadlineAfter(streamDeadline.toMillis(), TimeUnit.MILLISECONDS)
                .recordOutcomes(new ClientResponseObserver<RecordOutcomeRequest, RecordOutcomesResponse>() {
                    private ClientCallStreamObserver<RecordOutcomeRequest> requests;
                    private boolean finished;

                    @Override
                    public void beforeStart(ClientCallStreamObserver<RecordOutcomeRequest> stream) {
                        this.requests = stream;
                        stream.setOnReadyHandler(this::drain);
                    }

                    private void drain() {
                        // the onReady handler runs serially, so 'finished' needs no lock
                        if (finished) {
                            return;
                        }
                        try {
                            while (requests.isReady()) {
                                if (!outcomes.hasNext()) {
                                    finished = true;
                                    requests.onCompleted();
                                    return;
                                }
                                requests.onNext(outcomes.next());
                            }
                        } catch (RuntimeException e) {
                            finished = true;
                            failure.compareAndSet(null, e);
                            requests.cancel("reading outcomes failed", e);
                        }
                    }

                    @Override
                    public void onNext(RecordOutcomesResponse value) {
                        response.set(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        failure.compareAndSet(null, t);
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TrellisException(io.grpc.Status.Code.CANCELLED, "interrupted", List.of(), e);
        }
        Throwable t = failure.get();
        if (t != null) {
            if (t instanceof StatusRuntimeException || t instanceof io.grpc.StatusException) {
                throw TrellisException.from(t);
            }
            // the iterator failed (e.g. a bad CSV line): surface its own exception
            if (t instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw TrellisException.from(t);
        }
        RecordOutcomesResponse r = response.get();
        return r == null ? 0 : r.getAccepted();
    }

    /**
     * An experiment's results for its primary metric.
     *
     * @param experiment the experiment key
     * @return the results
     * @throws TrellisException NOT_FOUND when there is no such experiment
     */
    public ExperimentResults results(String experiment) {
        return results(experiment, null);
    }

    /**
     * An experiment's results for a given metric.
     *
     * @param experiment the experiment key
     * @param metric the metric, or null for the experiment's primary metric
     * @return the results
     * @throws TrellisException when the call fails
     */
    public ExperimentResults results(String experiment, String metric) {
        GetResultsRequest.Builder request = GetResultsRequest.newBuilder().setExperiment(experiment);
        if (metric != null) {
            request.setMetric(metric);
        }
        return ExperimentResults.fromProto(call(() -> experiments().getResults(request.build())));
    }

    // ---------------------------------------------------------------------------------------------
    // Rollouts
    // ---------------------------------------------------------------------------------------------

    /**
     * Starts a canary rollout (admin).
     *
     * <pre>{@code
     * Rollout r = client.startRollout(Rollout.newBuilder()
     *         .setModel("leads").setStableVersion("1").setCandidateVersion("2")
     *         .addAllSteps(List.of(5.0, 25.0, 50.0, 100.0))
     *         .build());
     * }</pre>
     *
     * @param rollout the rollout; output-only fields are ignored
     * @return the rollout as started
     * @throws TrellisException when the call fails
     */
    public Rollout startRollout(Rollout rollout) {
        return call(() -> experiments()
                        .startRollout(StartRolloutRequest.newBuilder()
                                .setRollout(rollout)
                                .build()))
                .getRollout();
    }

    /**
     * The model's current (or last) rollout.
     *
     * @param model the logical model name
     * @return the rollout
     * @throws TrellisException NOT_FOUND when the model never had one
     */
    public Rollout getRollout(String model) {
        return call(() -> experiments()
                        .getRollout(
                                GetRolloutRequest.newBuilder().setModel(model).build()))
                .getRollout();
    }

    /**
     * Holds the rollout at its current weight (admin).
     *
     * @param model the logical model name
     * @param reason why, recorded in the history; may be null
     * @return the rollout after the call
     * @throws TrellisException when the call fails
     */
    public Rollout pauseRollout(String model, String reason) {
        return call(() -> experiments().pauseRollout(action(model, reason))).getRollout();
    }

    /**
     * Resumes a paused rollout (admin).
     *
     * @param model the logical model name
     * @param reason why; may be null
     * @return the rollout after the call
     * @throws TrellisException when the call fails
     */
    public Rollout resumeRollout(String model, String reason) {
        return call(() -> experiments().resumeRollout(action(model, reason))).getRollout();
    }

    /**
     * Jumps to 100% and makes the candidate the default (admin).
     *
     * @param model the logical model name
     * @param reason why; may be null
     * @return the rollout after the call
     * @throws TrellisException when the call fails
     */
    public Rollout promoteRollout(String model, String reason) {
        return call(() -> experiments().promoteRollout(action(model, reason))).getRollout();
    }

    /**
     * Sets the candidate's weight to 0 and ends the rollout (admin).
     *
     * @param model the logical model name
     * @param reason why; may be null
     * @return the rollout after the call
     * @throws TrellisException when the call fails
     */
    public Rollout abortRollout(String model, String reason) {
        return call(() -> experiments().abortRollout(action(model, reason))).getRollout();
    }

    // ---------------------------------------------------------------------------------------------
    // Models
    // ---------------------------------------------------------------------------------------------

    /**
     * Models known to the router, with versions, readiness per replica and feature schema.
     *
     * @return the models, ordered by name
     * @throws TrellisException when the call fails
     */
    public List<ModelDescription> listModels() {
        return call(() -> experiments().listModels(ListModelsRequest.getDefaultInstance())).getModelsList().stream()
                .map(ModelDescription::fromProto)
                .toList();
    }

    /**
     * One model's description.
     *
     * @param model the logical model name
     * @return the description
     * @throws TrellisException NOT_FOUND when the router does not know the model
     */
    public ModelDescription model(String model) {
        return listModels().stream()
                .filter(m -> m.name().equals(model))
                .findFirst()
                .orElseThrow(() -> new TrellisException(
                        io.grpc.Status.Code.NOT_FOUND, "unknown model '" + model + "'", List.of(), null));
    }

    /**
     * Sets the version a model serves by default (admin).
     *
     * @param model the logical model name
     * @param version the version
     * @throws TrellisException when the call fails
     */
    public void setDefaultVersion(String model, String version) {
        call(() -> experiments()
                .setDefaultVersion(SetDefaultVersionRequest.newBuilder()
                        .setModel(model)
                        .setVersion(version)
                        .build()));
    }

    /**
     * Keeps a version loaded on every replica whose repository has it, whatever definitions name it,
     * until {@link #releaseVersion} (admin). The router stores it, so it survives restarts.
     *
     * @param model the logical model name
     * @param version the version
     * @return the replicas on which the version is READY
     * @throws TrellisException NOT_FOUND when no replica has the version, FAILED_PRECONDITION (with the
     *     reason) when none can load it
     */
    public List<String> keepVersion(String model, String version) {
        return call(() -> experiments()
                        .keepVersion(KeepVersionRequest.newBuilder()
                                .setModel(model)
                                .setVersion(version)
                                .build()))
                .getReadyReplicasList();
    }

    /**
     * Undoes {@link #keepVersion} (admin): the version stays loaded while a default, experiment or
     * rollout needs it; otherwise each replica's version policy decides.
     *
     * @param model the logical model name
     * @param version the version
     * @return false when the version was not kept
     * @throws TrellisException when the call fails
     */
    public boolean releaseVersion(String model, String version) {
        return call(() -> experiments()
                        .releaseVersion(ReleaseVersionRequest.newBuilder()
                                .setModel(model)
                                .setVersion(version)
                                .build()))
                .getReleased();
    }

    /**
     * Shuts down the channel the client created (not one passed to {@link Builder#channel}) and
     * waits briefly for calls in flight. Safe to call twice.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || ownedChannel == null) {
            return;
        }
        ownedChannel.shutdown();
        try {
            if (!ownedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
                ownedChannel.shutdownNow();
            }
        } catch (InterruptedException e) {
            ownedChannel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private ExperimentsGrpc.ExperimentsBlockingStub experiments() {
        return experiments.withDeadlineAfter(deadlineMillis(), TimeUnit.MILLISECONDS);
    }

    private long deadlineMillis() {
        return defaultDeadline.toMillis();
    }

    private static RolloutActionRequest action(String model, String reason) {
        RolloutActionRequest.Builder builder =
                RolloutActionRequest.newBuilder().setModel(requireNonNull(model, "model is null"));
        if (reason != null) {
            builder.setReason(reason);
        }
        return builder.build();
    }

    private static <T> T call(java.util.function.Supplier<T> call) {
        try {
            return call.get();
        } catch (StatusRuntimeException e) {
            throw TrellisException.from(e);
        }
    }

    private static <T> StreamObserver<T> completing(CompletableFuture<T> future) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                future.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                future.completeExceptionally(TrellisException.from(t));
            }

            @Override
            public void onCompleted() {
                future.completeExceptionally(
                        new TrellisException(io.grpc.Status.Code.INTERNAL, "no response", List.of(), null));
            }
        };
    }

    private static final class BearerTokenInterceptor implements ClientInterceptor {
        private final String header;

        BearerTokenInterceptor(String token) {
            this.header = "Bearer " + token;
        }

        @Override
        public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
                MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
            return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                @Override
                public void start(Listener<RespT> listener, Metadata headers) {
                    headers.put(AUTHORIZATION, header);
                    super.start(listener, headers);
                }
            };
        }
    }

    /** Configures a {@link TrellisClient}. Not thread-safe. */
    public static final class Builder {
        private String target;
        private Channel channel;
        private boolean tls;
        private Path caFile;
        private Path clientCertificate;
        private Path clientKey;
        private String bearerToken;
        private Duration defaultDeadline = Duration.ofSeconds(2);
        private Duration streamDeadline = Duration.ofHours(1);
        private int maxInboundMessageSize = 64 * 1024 * 1024;

        private Builder() {}

        /**
         * The router's address: {@code host:port}, several as {@code host1:port,host2:port}, or any
         * gRPC target such as {@code dns:///routers:8080} (every address the name resolves to).
         * Calls are spread round-robin over the routers that report SERVING; scoring, reads and
         * outcomes are retried on another router when one is UNAVAILABLE (killed, restarting).
         *
         * @param target the target
         * @return this builder
         */
        public Builder target(String target) {
            this.target = requireNonNull(target, "target is null");
            return this;
        }

        /**
         * Uses an existing channel instead of a target; {@link TrellisClient#close()} leaves it open.
         *
         * @param channel the channel
         * @return this builder
         */
        public Builder channel(Channel channel) {
            this.channel = requireNonNull(channel, "channel is null");
            return this;
        }

        /**
         * Plaintext connection (the default).
         *
         * @return this builder
         */
        public Builder plaintext() {
            this.tls = false;
            this.caFile = null;
            this.clientCertificate = null;
            this.clientKey = null;
            return this;
        }

        /**
         * TLS with the JDK's trusted certificate authorities.
         *
         * @return this builder
         */
        public Builder tls() {
            this.tls = true;
            return this;
        }

        /**
         * TLS trusting the certificate authorities of a PEM file.
         *
         * @param caFile a PEM file of CA certificates, or null for the JDK's
         * @return this builder
         */
        public Builder tls(Path caFile) {
            this.tls = true;
            this.caFile = caFile;
            return this;
        }

        /**
         * Presents a client certificate, for a router started with {@code --tls-client-ca} (mutual
         * TLS); implies TLS.
         *
         * @param certificateChain a PEM file with the client's certificate chain
         * @param privateKey a PEM file with its private key (PKCS#8)
         * @return this builder
         */
        public Builder clientCertificate(Path certificateChain, Path privateKey) {
            this.clientCertificate = requireNonNull(certificateChain, "certificateChain is null");
            this.clientKey = requireNonNull(privateKey, "privateKey is null");
            this.tls = true;
            return this;
        }

        /**
         * Sends {@code authorization: Bearer <token>} with every call (needed for admin calls).
         *
         * @param token the token, or null for none
         * @return this builder
         */
        public Builder bearerToken(String token) {
            this.bearerToken = token == null || token.isBlank() ? null : token.strip();
            return this;
        }

        /**
         * Deadline of every unary call; 2 s by default.
         *
         * @param deadline a positive duration
         * @return this builder
         */
        public Builder defaultDeadline(Duration deadline) {
            requireNonNull(deadline, "deadline is null");
            if (deadline.isNegative() || deadline.isZero()) {
                throw new IllegalArgumentException("deadline must be positive: " + deadline);
            }
            this.defaultDeadline = deadline;
            return this;
        }

        /**
         * Deadline of client streams such as {@link TrellisClient#recordOutcomes}; 1 h by default.
         *
         * @param deadline a positive duration
         * @return this builder
         */
        public Builder streamDeadline(Duration deadline) {
            requireNonNull(deadline, "deadline is null");
            if (deadline.isNegative() || deadline.isZero()) {
                throw new IllegalArgumentException("deadline must be positive: " + deadline);
            }
            this.streamDeadline = deadline;
            return this;
        }

        /**
         * Largest response accepted, in bytes; 64 MiB by default (large batches with explanations).
         *
         * @param bytes the limit
         * @return this builder
         */
        public Builder maxInboundMessageSize(int bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("maxInboundMessageSize must be positive");
            }
            this.maxInboundMessageSize = bytes;
            return this;
        }

        /**
         * Builds the client; with a target, this creates the channel the client owns.
         *
         * @return the client
         * @throws UncheckedIOException when the CA file or the client certificate cannot be read
         */
        public TrellisClient build() {
            if (target == null && channel == null) {
                throw new IllegalStateException("set a target or a channel");
            }
            return new TrellisClient(this);
        }

        private ChannelCredentials credentials() {
            if (!tls) {
                return InsecureChannelCredentials.create();
            }
            TlsChannelCredentials.Builder credentials = TlsChannelCredentials.newBuilder();
            if (caFile != null) {
                try {
                    credentials.trustManager(caFile.toFile());
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read CA file " + caFile, e);
                }
            }
            if (clientCertificate != null) {
                try {
                    credentials.keyManager(clientCertificate.toFile(), clientKey.toFile());
                } catch (IOException e) {
                    throw new UncheckedIOException(
                            "cannot read client certificate " + clientCertificate + " or key " + clientKey, e);
                }
            }
            return credentials.build();
        }
    }
}
