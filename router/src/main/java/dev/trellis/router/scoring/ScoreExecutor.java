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
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.Served;
import dev.trellis.experiments.assignment.RoutingDecision;
import dev.trellis.experiments.store.Exposure;
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
import io.grpc.Status;
import jakarta.inject.Inject;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import java.util.function.IntToDoubleFunction;
import java.util.function.Supplier;

/**
 * The scoring path shared by Score, ScoreBatch (rows or columns, see {@link ScoreRows}) and
 * ScoreStream: check the model, route every row, validate its features against the routed
 * version's schema, send one ModelInfer per version (rows of a version travel together, in chunks
 * of at most {@link #MAX_ROWS_PER_CALL}), and put the answers back in request order. A batch succeeds or fails as a whole. Exposures are logged
 * for rows served by an experiment; every call feeds the rollout windows and the metrics.
 * Thread-safe.
 */
public final class ScoreExecutor {
    static final int MAX_ROWS_PER_CALL = 1000;
    private static final int BULK_ROWS = 64;
    private static final String SCORE = "Score";
    private static final String SCORE_BATCH = "ScoreBatch";

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
     * Scores rows of one model. Must be called in the gRPC context of the server call, so the
     * caller's deadline and cancellation reach the upstream calls.
     *
     * @param batchPin version pin for rows without their own, or ""
     * @param batchExplain explain every row
     * @param batch whether the rows came in a ScoreBatch (field names then start with rows[i].)
     */
    public CompletableFuture<List<ScoreResponse>> score(
            String model, List<ScoreRequest> rows, String batchPin, boolean batchExplain, boolean batch) {
        Priority priority =
                rows.isEmpty() ? Priority.PRIORITY_UNSPECIFIED : rows.get(0).getPriority();
        return run(
                model,
                () -> RequestRows.of(model, rows, batch),
                batchPin,
                batchExplain,
                batch ? SCORE_BATCH : SCORE,
                InferenceCodec.upstreamPriority(priority, batch ? Priority.LOW : Priority.HIGH));
    }

    /**
     * Scores a ScoreBatch in either form, rows or columns (not both). Must be called in the gRPC
     * context of the server call.
     */
    public CompletableFuture<List<ScoreResponse>> scoreBatch(ScoreBatchRequest request) {
        return run(
                request.getModel(),
                () -> rowsOf(request),
                request.getVersion(),
                request.getExplain(),
                SCORE_BATCH,
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

    private CompletableFuture<List<ScoreResponse>> run(
            String model,
            Supplier<ScoreRows> rows,
            String batchPin,
            boolean batchExplain,
            String method,
            long priority) {
        CompletableFuture<List<ScoreResponse>> result = new CompletableFuture<>();
        try {
            start(model, rows.get(), batchPin, batchExplain, method, priority, result);
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
        }
        return result;
    }

    private void start(
            String model,
            ScoreRows rows,
            String batchPin,
            boolean batchExplain,
            String method,
            long priority,
            CompletableFuture<List<ScoreResponse>> result) {
        CatalogSnapshot.Model known = routing.model(model);
        if (rows.size() == 0) {
            result.complete(List.of());
            return;
        }

        // route every row, group by version (insertion order keeps the first row's version first)
        RoutedRow[] routed = new RoutedRow[rows.size()];
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < rows.size(); i++) {
            String pin = rows.version(i).isEmpty() ? batchPin : rows.version(i);
            try {
                routed[i] = routing.route(known, rows.unitId(i), rows.attributes(i), pin);
            } catch (RoutingService.RoutingUnavailableException e) {
                windows.recordFailure(model, e.decision().version(), 1, 0);
                metrics.failed(method, model, e.decision().version(), Status.Code.UNAVAILABLE.name());
                throw e.toRouterException();
            }
            groups.computeIfAbsent(routed[i].version(), v -> new ArrayList<>()).add(i);
        }

        // validate all rows before any upstream work
        List<RouterException.Violation> violations = new ArrayList<>();
        for (Map.Entry<String, List<Integer>> group : groups.entrySet()) {
            rows.validate(
                    routed[group.getValue().get(0)].schema(), group.getValue(), model, group.getKey(), violations);
        }
        if (!violations.isEmpty()) {
            throw RouterException.invalidRequest("invalid features", violations);
        }

        ScoreResponse[] responses = new ScoreResponse[rows.size()];
        List<List<Integer>> chunks = new ArrayList<>();
        for (List<Integer> group : groups.values()) {
            for (int from = 0; from < group.size(); from += MAX_ROWS_PER_CALL) {
                chunks.add(group.subList(from, Math.min(group.size(), from + MAX_ROWS_PER_CALL)));
            }
        }
        AtomicInteger pending = new AtomicInteger(chunks.size());
        for (List<Integer> chunk : chunks) {
            if (result.isDone()) {
                return; // an earlier chunk already failed the batch
            }
            send(model, rows, routed, chunk, batchExplain, method, priority, responses, pending, result);
        }
    }

    private void send(
            String model,
            ScoreRows rows,
            RoutedRow[] routed,
            List<Integer> chunk,
            boolean batchExplain,
            String method,
            long priority,
            ScoreResponse[] responses,
            AtomicInteger pending,
            CompletableFuture<List<ScoreResponse>> result) {
        RoutedRow first = routed[chunk.get(0)];
        String version = first.version();
        boolean explain = batchExplain;
        for (int index : chunk) {
            explain |= rows.explain(index);
        }
        ModelInferRequest request =
                InferenceCodec.encode(model, version, first.schema(), rows, chunk, explain, priority);
        AtomicReference<String> replica = new AtomicReference<>("");
        long started = System.nanoTime();
        // large and explained answers are handled off the connection's transport thread
        boolean bulk = explain || priority == 2 || chunk.size() > BULK_ROWS;
        ListenableFuture<ModelInferResponse> call = (bulk ? pool.bulkStub() : pool.stub())
                .withOption(ReplicaCapture.KEY, replica)
                .modelInfer(request);
        boolean anyExplain = explain;
        Futures.addCallback(
                call,
                new FutureCallback<>() {
                    @Override
                    public void onSuccess(ModelInferResponse response) {
                        long nanos = System.nanoTime() - started;
                        try {
                            List<ScoreResponse.Builder> decoded = InferenceCodec.decode(response, chunk.size());
                            double[] scores = new double[chunk.size()];
                            // rows of a chunk share a handful of decisions: build each one's Served once
                            Map<RoutingDecision, Served> served = new HashMap<>();
                            for (int j = 0; j < chunk.size(); j++) {
                                int index = chunk.get(j);
                                RoutedRow r = routed[index];
                                ScoreResponse.Builder b = decoded.get(j);
                                if (anyExplain && !batchExplain && !rows.explain(index)) {
                                    b.clearExplanation();
                                }
                                b.setRequestId(rows.requestId(index));
                                b.setServed(served.computeIfAbsent(
                                        r.decision(),
                                        d -> Served.newBuilder()
                                                .setModel(model)
                                                .setVersion(version)
                                                .setExperiment(d.experiment().orElse(""))
                                                .setVariant(d.variant().orElse(""))
                                                .setReason(d.reason())
                                                .setReplica(replica.get())
                                                .build()));
                                responses[index] = b.build();
                                scores[j] = b.getScore();
                                metrics.served(
                                        model,
                                        version,
                                        r.decision().variant().orElse(""),
                                        r.decision().reason().name(),
                                        1,
                                        nanos / 1e6);
                                if (r.decision().isExperiment()) {
                                    recordExposure(r, version, rows.unitId(index));
                                }
                                if (payloads.sampled(model, rows.unitId(index))) {
                                    recordPayload(model, version, rows, index, first.schema(), b, r);
                                }
                            }
                            windows.recordSuccess(model, version, nanos, scores);
                        } catch (RuntimeException e) {
                            windows.recordFailure(model, version, chunk.size(), nanos);
                            result.completeExceptionally(e);
                            return;
                        }
                        if (pending.decrementAndGet() == 0) {
                            result.complete(List.of(responses));
                        }
                    }

                    @Override
                    public void onFailure(Throwable t) {
                        long nanos = System.nanoTime() - started;
                        Status status = Status.fromThrowable(t);
                        boolean pinned = first.decision().reason() == RoutingReason.PINNED;
                        RouterException error;
                        if (status.getCode() == Status.Code.NOT_FOUND && !pinned) {
                            // the catalog said the version was ready; a routed version that vanished is an outage, not
                            // the caller's mistake
                            error = new RouterException(
                                    RouterErrorCode.NO_REPLICA,
                                    "version " + version + " of model " + model
                                            + " is routed but no replica serves it: " + status.getDescription());
                        } else {
                            error = StatusMapper.fromUpstream(t, model, version);
                        }
                        if (error.code() != RouterErrorCode.INVALID_REQUEST
                                && error.code() != RouterErrorCode.CANCELLED) {
                            windows.recordFailure(model, version, chunk.size(), nanos);
                        }
                        metrics.failed(method, model, version, status.getCode().name());
                        result.completeExceptionally(error);
                    }
                },
                MoreExecutors.directExecutor());
    }

    private void recordPayload(
            String model,
            String version,
            ScoreRows rows,
            int index,
            FeatureSchema schema,
            ScoreResponse.Builder response,
            RoutedRow row) {
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
                response.getScore(),
                response.getLabel(),
                row.decision().experiment().orElse(""),
                row.decision().variant().orElse(""));
    }

    private void recordExposure(RoutedRow row, String version, String unitId) {
        exposures.record(new Exposure(
                row.decision().experiment().orElseThrow(),
                row.decision().variant().orElseThrow(),
                version,
                row.decision().unit().orElse(unitId), // the hashed value: the unit id or the hash attribute
                clock.instant()));
    }
}
