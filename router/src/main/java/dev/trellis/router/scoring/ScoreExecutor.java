package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import dev.trellis.api.v1.Priority;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreBatchRequest;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.Served;
import dev.trellis.experiments.assignment.RoutingDecision;
import dev.trellis.experiments.store.Exposure;
import dev.trellis.proto.inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceFutureStub;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.StatusMapper;
import dev.trellis.router.monitoring.PayloadSampler;
import dev.trellis.router.rollout.VersionWindows;
import dev.trellis.router.routing.RoutedRow;
import dev.trellis.router.routing.RoutingService;
import dev.trellis.router.telemetry.ScoringMetrics;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.FeatureSchema;
import dev.trellis.router.upstream.ReplicaCapture;
import dev.trellis.router.upstream.UpstreamPool;
import io.grpc.Context;
import io.grpc.Status;
import jakarta.inject.Inject;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.DoubleUnaryOperator;
import java.util.function.IntFunction;
import java.util.function.IntToDoubleFunction;
import java.util.function.Supplier;

/**
 * The scoring path shared by Score, ScoreBatch (rows or columns, see {@link ScoreRows}) and
 * ScoreStream: check the model, route every row, validate its features against the routed
 * version's schema, send one ModelInfer per version (rows of a version travel together, in chunks
 * of at most {@link #MAX_ROWS_PER_CALL}) to the replicas that have that version, and put the
 * answers back in request order. A batch succeeds or fails as a whole. Exposures are logged for
 * rows served by their experiment arm; every call feeds the rollout windows and the metrics.
 *
 * <p>When a chunk's call fails UNAVAILABLE or NOT_FOUND after the channel's own retries, and a poll
 * started after the failure shows that its version is READY nowhere any more (the last replica
 * holding it went away) or on other replicas than before (a restarted replica cannot load it), its
 * rows are routed once more: they fall back (reason FALLBACK) or go to the replicas that still serve
 * the version. This is one new routing decision on new facts, not a retry of the same call.
 * Thread-safe.
 */
public final class ScoreExecutor {
    static final int MAX_ROWS_PER_CALL = 1000;
    private static final int BULK_ROWS = 64;

    private final RoutingService routing;
    private final UpstreamPool pool;
    private final ExposureLog exposures;
    private final VersionWindows windows;
    private final ScoringMetrics metrics;
    private final Clock clock;
    private final PayloadSampler payloads;

    @Inject
    public ScoreExecutor(
            RoutingService routing,
            UpstreamPool pool,
            ExposureLog exposures,
            VersionWindows windows,
            ScoringMetrics metrics,
            Clock clock,
            PayloadSampler payloads) {
        this.routing = requireNonNull(routing, "routing is null");
        this.pool = requireNonNull(pool, "pool is null");
        this.exposures = requireNonNull(exposures, "exposures is null");
        this.windows = requireNonNull(windows, "windows is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.payloads = requireNonNull(payloads, "payloads is null");
    }

    /**
     * How a list of rows is scored.
     *
     * @param pin version pin for rows without their own, or ""
     * @param explain explain every row
     * @param batch whether the rows came in a ScoreBatch (field names then start with rows[i].)
     */
    public record ScoreOptions(String pin, boolean explain, boolean batch) {
        /** One row of Score or ScoreStream. */
        public static final ScoreOptions SINGLE = new ScoreOptions("", false, false);

        public ScoreOptions {
            requireNonNull(pin, "pin is null");
        }

        String method() {
            return batch ? "ScoreBatch" : "Score";
        }
    }

    /**
     * Scores rows of one model. Must be called in the gRPC context of the server call, so the
     * caller's deadline and cancellation reach the upstream calls.
     */
    public CompletableFuture<Answers> score(String model, List<ScoreRequest> rows, ScoreOptions options) {
        Priority priority =
                rows.isEmpty() ? Priority.PRIORITY_UNSPECIFIED : rows.get(0).getPriority();
        return run(
                model,
                () -> RequestRows.of(model, rows, options.batch()),
                options,
                InferenceCodec.upstreamPriority(priority, options.batch() ? Priority.LOW : Priority.HIGH));
    }

    /**
     * Scores a ScoreBatch in either form, rows or columns (not both). Must be called in the gRPC
     * context of the server call.
     */
    public CompletableFuture<Answers> scoreBatch(ScoreBatchRequest request) {
        return run(
                request.getModel(),
                () -> rowsOf(request),
                new ScoreOptions(request.getVersion(), request.getExplain(), true),
                InferenceCodec.upstreamPriority(request.getPriority(), Priority.LOW));
    }

    /** The number of rows of a batch in either form, for telemetry. */
    public static int rowCount(ScoreBatchRequest request) {
        return request.hasColumns() ? request.getColumns().getUnitIdsCount() : request.getRowsCount();
    }

    private static ScoreRows rowsOf(ScoreBatchRequest request) {
        if (!request.hasColumns()) {
            return RequestRows.of(request.getModel(), request.getRowsList(), true);
        }
        if (request.getRowsCount() > 0) {
            throw RouterException.invalidRequest(
                    "invalid batch",
                    List.of(new RouterException.Violation("columns", "set either rows or columns, not both")));
        }
        return ColumnRows.of(request.getColumns());
    }

    /** @param priority the OIP priority of the upstream calls (1 interactive, 2 bulk) */
    private CompletableFuture<Answers> run(
            String model, Supplier<ScoreRows> rows, ScoreOptions options, long priority) {
        CompletableFuture<Answers> result = new CompletableFuture<>();
        try {
            new Call(model, rows.get(), options, priority, result).start();
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
        }
        return result;
    }

    /** What makes two rows of one chunk (one version, one replica) answer with the same Served. */
    private record ServedKey(RoutingDecision decision, RoutingReason reason) {}

    /** A Served message and its wire form, made once per chunk and decision. */
    private record EncodedServed(Served message, ByteString bytes) {
        EncodedServed(Served message) {
            this(message, message.toByteString());
        }
    }

    /** One Score, ScoreBatch or ScoreStream row set on its way through routing and the upstream calls. */
    private final class Call {
        private final String model;
        private final ScoreRows rows;
        private final ScoreOptions options;
        private final long priority;
        private final CompletableFuture<Answers> result;
        private final RoutedRow[] routed;
        private final Answers answers;
        private final AtomicInteger pending = new AtomicInteger();
        // the server call's context: its deadline and cancellation reach calls sent from other threads
        private final Context context = Context.current();

        Call(String model, ScoreRows rows, ScoreOptions options, long priority, CompletableFuture<Answers> result) {
            this.model = model;
            this.rows = rows;
            this.options = options;
            this.priority = priority;
            this.result = result;
            this.routed = new RoutedRow[rows.size()];
            this.answers = new Answers(rows);
        }

        /**
         * Routes and sends the rows; never blocks, so a handler may call it on a transport thread:
         * a model or pinned version the catalog has not seen yet is looked up by an on-demand poll on
         * the catalog's thread, and the call goes on from there.
         */
        void start() {
            Set<String> pins = new HashSet<>();
            for (int i = 0; i < rows.size(); i++) {
                String pin = rows.version(i).isEmpty() ? options.pin() : rows.version(i);
                if (!pin.isEmpty()) {
                    pins.add(pin);
                }
            }
            routing.modelAsync(model, pins)
                    .whenComplete((known, error) -> context.run(() -> {
                        if (error != null) {
                            result.completeExceptionally(
                                    error instanceof CompletionException && error.getCause() != null
                                            ? error.getCause()
                                            : error);
                            return;
                        }
                        try {
                            start(known);
                        } catch (RuntimeException e) {
                            result.completeExceptionally(e);
                        }
                    }));
        }

        private void start(CatalogSnapshot.Model known) {
            if (rows.size() == 0) {
                result.complete(answers);
                return;
            }
            List<Integer> all = new ArrayList<>(rows.size());
            for (int i = 0; i < rows.size(); i++) {
                String pin = rows.version(i).isEmpty() ? options.pin() : rows.version(i);
                routed[i] = routing.route(known, rows.unitId(i), rows.attributes(i), pin);
                all.add(i);
            }
            List<List<Integer>> chunks = chunks(validatedGroups(all));
            pending.set(chunks.size());
            for (List<Integer> chunk : chunks) {
                if (result.isDone()) {
                    return; // an earlier chunk already failed the call
                }
                send(chunk, true);
            }
        }

        /** Rows grouped by their serving version (first row's version first), all validated before any call. */
        private Map<String, List<Integer>> validatedGroups(List<Integer> indexes) {
            Map<String, List<Integer>> groups = new LinkedHashMap<>();
            for (int i : indexes) {
                groups.computeIfAbsent(routed[i].version(), v -> new ArrayList<>())
                        .add(i);
            }
            List<RouterException.Violation> violations = new ArrayList<>();
            for (Map.Entry<String, List<Integer>> group : groups.entrySet()) {
                rows.validate(
                        routed[group.getValue().get(0)].schema(), group.getValue(), model, group.getKey(), violations);
            }
            if (!violations.isEmpty()) {
                throw RouterException.invalidRequest("invalid features", violations);
            }
            return groups;
        }

        private List<List<Integer>> chunks(Map<String, List<Integer>> groups) {
            List<List<Integer>> chunks = new ArrayList<>();
            for (List<Integer> group : groups.values()) {
                for (int from = 0; from < group.size(); from += MAX_ROWS_PER_CALL) {
                    chunks.add(group.subList(from, Math.min(group.size(), from + MAX_ROWS_PER_CALL)));
                }
            }
            return chunks;
        }

        /** @param mayReroute whether a failure may route the chunk once more (not after a reroute) */
        private void send(List<Integer> chunk, boolean mayReroute) {
            RoutedRow first = routed[chunk.get(0)];
            String version = first.version();
            boolean explain = options.explain();
            for (int index : chunk) {
                explain |= rows.explain(index);
            }
            // large and explained answers are handled off the connection's transport thread
            boolean bulk = explain || priority == 2 || chunk.size() > BULK_ROWS;
            Optional<GRPCInferenceServiceFutureStub> stub = pool.stub(first.served(), bulk);
            if (stub.isEmpty()) {
                fail(new RouterException(
                        RouterErrorCode.NO_REPLICA,
                        "version " + version + " of model " + model + " is READY on no replica"));
                return;
            }
            ModelInferRequest request =
                    InferenceCodec.encode(model, version, first.schema(), rows, chunk, explain, priority);
            AtomicReference<String> replica = new AtomicReference<>("");
            long started = System.nanoTime();
            ListenableFuture<ModelInferResponse> call =
                    stub.get().withOption(ReplicaCapture.KEY, replica).modelInfer(request);
            Futures.addCallback(
                    call,
                    new FutureCallback<>() {
                        @Override
                        public void onSuccess(ModelInferResponse response) {
                            answered(chunk, version, replica.get(), response, System.nanoTime() - started);
                        }

                        @Override
                        public void onFailure(Throwable t) {
                            failed(chunk, version, t, started, mayReroute);
                        }
                    },
                    MoreExecutors.directExecutor());
        }

        private void answered(
                List<Integer> chunk, String version, String replica, ModelInferResponse response, long nanos) {
            try {
                ScoredColumns decoded = InferenceCodec.decode(response, chunk.size());
                // the rollout windows' score histogram: probabilities, or a regression value's position
                DoubleUnaryOperator position = InferenceCodec.histogramPosition(response);
                double[] scores = new double[chunk.size()];
                int windowRows = 0;
                // rows of a chunk share one version and a handful of decisions: build each one's Served once
                Map<ServedKey, EncodedServed> served = new HashMap<>();
                for (int j = 0; j < chunk.size(); j++) {
                    int index = chunk.get(j);
                    RoutedRow r = routed[index];
                    EncodedServed how = served.computeIfAbsent(
                            new ServedKey(r.decision(), r.reason()), key -> new EncodedServed(served(r, replica)));
                    answers.set(
                            index, decoded, j, how.message(), how.bytes(), options.explain() || rows.explain(index));
                    metrics.served(
                            model,
                            version,
                            r.fallback() ? "" : r.decision().variant().orElse(""),
                            r.reason().name(),
                            1,
                            nanos / 1e9);
                    if (r.exposed()) {
                        recordExposure(r, rows.unitId(index));
                    }
                    if (payloads.sampled(model, rows.unitId(index))) {
                        recordPayload(version, index, r, decoded, j);
                    }
                    if (r.fallback()) {
                        if (r.decision().reason() == RoutingReason.ROLLOUT) {
                            // a rollout version READY nowhere fails its guardrail, though the row was served
                            windows.recordFailure(model, r.decision().version(), 1, 0);
                        }
                    } else {
                        scores[windowRows++] = position.applyAsDouble(decoded.score(j));
                    }
                }
                if (windowRows > 0) {
                    windows.recordSuccess(model, version, nanos, Arrays.copyOf(scores, windowRows));
                }
            } catch (RuntimeException e) {
                windows.recordFailure(model, version, chunk.size(), nanos);
                fail(e);
                return;
            }
            if (pending.decrementAndGet() == 0) {
                result.complete(answers);
            }
        }

        private Served served(RoutedRow row, String replica) {
            Served.Builder served = Served.newBuilder()
                    .setModel(model)
                    .setVersion(row.version())
                    .setReason(row.reason())
                    .setReplica(replica);
            if (!row.fallback()) {
                served.setExperiment(row.decision().experiment().orElse(""))
                        .setVariant(row.decision().variant().orElse(""));
            }
            return served.build();
        }

        private void failed(List<Integer> chunk, String version, Throwable failure, long started, boolean mayReroute) {
            long nanos = System.nanoTime() - started;
            Status status = Status.fromThrowable(failure);
            RoutedRow first = routed[chunk.get(0)];
            boolean pinned = first.decision().reason() == RoutingReason.PINNED;
            boolean gone = status.getCode() == Status.Code.UNAVAILABLE || status.getCode() == Status.Code.NOT_FOUND;
            if (gone && !pinned && mayReroute && !result.isDone()) {
                // a poll that started after the failure came back: one that started after the call may
                // have been answered before the replica changed (a call waiting for a restarting replica)
                routing.afterFailure(model, first.served(), System.nanoTime())
                        .whenComplete((fresh, error) -> context.run(() -> {
                            if (error == null && fresh.isPresent()) {
                                reroute(chunk, fresh.get(), status, nanos);
                            } else {
                                failWith(chunk, version, failure, nanos, pinned);
                            }
                        }));
                return;
            }
            failWith(chunk, version, failure, nanos, pinned);
        }

        private void failWith(List<Integer> chunk, String version, Throwable failure, long nanos, boolean pinned) {
            Status status = Status.fromThrowable(failure);
            RouterException error;
            if (status.getCode() == Status.Code.NOT_FOUND && !pinned) {
                // the catalog said the version was ready; a routed version that vanished is an outage, not
                // the caller's mistake
                error = new RouterException(
                        RouterErrorCode.NO_REPLICA,
                        "version " + version + " of model " + model + " is routed but no replica serves it: "
                                + status.getDescription());
            } else {
                error = StatusMapper.fromUpstream(failure, model, version);
            }
            if (error.code() != RouterErrorCode.INVALID_REQUEST && error.code() != RouterErrorCode.CANCELLED) {
                windows.recordFailure(model, version, chunk.size(), nanos);
            }
            metrics.failed(options.method(), model, version, status.getCode().name());
            fail(error);
        }

        /**
         * The chunk's version went away where the call went: route its rows again (to the replicas that
         * still serve it, or they fall back) and send them once more.
         */
        private void reroute(List<Integer> chunk, CatalogSnapshot.Model fresh, Status status, long nanos) {
            List<List<Integer>> again;
            try {
                for (int index : chunk) {
                    routed[index] = routing.resolve(fresh, routed[index].decision());
                }
                again = chunks(validatedGroups(chunk));
            } catch (RuntimeException e) {
                windows.recordFailure(model, routed[chunk.get(0)].decision().version(), chunk.size(), nanos);
                metrics.failed(
                        options.method(),
                        model,
                        routed[chunk.get(0)].decision().version(),
                        status.getCode().name());
                fail(e);
                return;
            }
            pending.addAndGet(again.size() - 1);
            for (List<Integer> part : again) {
                send(part, false);
            }
        }

        private void fail(Throwable error) {
            result.completeExceptionally(error);
        }

        private void recordPayload(String version, int index, RoutedRow row, ScoredColumns response, int position) {
            FeatureSchema schema = row.schema();
            List<IntToDoubleFunction> numbers = new ArrayList<>();
            List<IntFunction<ByteString>> categories = new ArrayList<>();
            for (FeatureSchema.Feature f : schema.features()) {
                numbers.add(f.categorical() ? null : rows.numbers(f));
                categories.add(f.categorical() ? rows.categories(f) : null);
            }
            payloads.record(
                    model,
                    version,
                    rows.unitId(index),
                    PayloadSampler.featuresJson(schema, index, numbers, categories),
                    response.score(position),
                    response.label(position),
                    row.fallback() ? "" : row.decision().experiment().orElse(""),
                    row.fallback() ? "" : row.decision().variant().orElse(""));
        }

        private void recordExposure(RoutedRow row, String unitId) {
            exposures.record(new Exposure(
                    row.decision().experiment().orElseThrow(),
                    row.decision().variant().orElseThrow(),
                    row.version(),
                    row.decision().unit().orElse(unitId), // the hashed value: the unit id or the hash attribute
                    clock.instant()));
        }
    }
}
