package dev.trellis.router.scoring;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.Value;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.api.v1.ScoreRequest;
import dev.trellis.api.v1.ScoreResponse;
import dev.trellis.api.v1.Served;
import dev.trellis.experiments.store.Exposure;
import dev.trellis.proto.inference.ModelInferRequest;
import dev.trellis.proto.inference.ModelInferResponse;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.errors.StatusMapper;
import dev.trellis.router.rollout.VersionWindows;
import dev.trellis.router.routing.RoutedRow;
import dev.trellis.router.routing.RoutingService;
import dev.trellis.router.telemetry.ScoringMetrics;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ReplicaCapture;
import dev.trellis.router.upstream.UpstreamPool;
import io.grpc.Status;
import jakarta.inject.Inject;

import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.util.Objects.requireNonNull;

/**
 * The scoring path shared by Score, ScoreBatch and ScoreStream: check the model, route every row,
 * validate its features against the routed version's schema, send one ModelInfer per version
 * (rows of a version travel together, in chunks of at most {@link #MAX_ROWS_PER_CALL}), and put
 * the answers back in request order. A batch succeeds or fails as a whole. Exposures are logged
 * for rows served by an experiment; every call feeds the rollout windows and the metrics.
 * Thread-safe.
 */
public final class ScoreExecutor
{
    static final int MAX_ROWS_PER_CALL = 1000;

    private final RoutingService routing;
    private final UpstreamPool pool;
    private final ExposureLog exposures;
    private final VersionWindows windows;
    private final ScoringMetrics metrics;
    private final Clock clock;

    @Inject
    public ScoreExecutor(RoutingService routing, UpstreamPool pool, ExposureLog exposures, VersionWindows windows, ScoringMetrics metrics, Clock clock)
    {
        this.routing = requireNonNull(routing, "routing is null");
        this.pool = requireNonNull(pool, "pool is null");
        this.exposures = requireNonNull(exposures, "exposures is null");
        this.windows = requireNonNull(windows, "windows is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /**
     * Scores rows of one model. Must be called in the gRPC context of the server call, so the
     * caller's deadline and cancellation reach the upstream calls.
     *
     * @param batchPin version pin for rows without their own, or ""
     * @param batchExplain explain every row
     * @param batch whether the rows came in a ScoreBatch (field names then start with rows[i].)
     */
    public CompletableFuture<List<ScoreResponse>> score(String model, List<ScoreRequest> rows, String batchPin, boolean batchExplain, boolean batch)
    {
        CompletableFuture<List<ScoreResponse>> result = new CompletableFuture<>();
        try {
            start(model, rows, batchPin, batchExplain, batch, result);
        }
        catch (RuntimeException e) {
            result.completeExceptionally(e);
        }
        return result;
    }

    private void start(String model, List<ScoreRequest> rows, String batchPin, boolean batchExplain, boolean batch, CompletableFuture<List<ScoreResponse>> result)
    {
        List<String> prefixes = new ArrayList<>(rows.size());
        List<RouterException.Violation> modelViolations = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            String prefix = batch ? "rows[" + i + "]." : "";
            prefixes.add(prefix);
            if (batch && !rows.get(i).getModel().isEmpty() && !rows.get(i).getModel().equals(model)) {
                modelViolations.add(new RouterException.Violation(prefix + "model", "must be empty or equal to the batch's model " + model));
            }
        }
        if (!modelViolations.isEmpty()) {
            throw new RouterException(RouterErrorCode.INVALID_REQUEST, "rows name a different model than the batch", modelViolations);
        }
        CatalogSnapshot.Model known = routing.model(model);
        if (rows.isEmpty()) {
            result.complete(List.of());
            return;
        }

        // route every row, group by version (insertion order keeps the first row's version first)
        RoutedRow[] routed = new RoutedRow[rows.size()];
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < rows.size(); i++) {
            ScoreRequest row = rows.get(i);
            String pin = row.getVersion().isEmpty() ? batchPin : row.getVersion();
            try {
                routed[i] = routing.route(known, row.getUnitId(), row.getAttributesMap(), pin);
            }
            catch (RoutingService.RoutingUnavailableException e) {
                windows.recordFailure(model, e.decision().version(), 1, 0);
                metrics.failed(batch ? "ScoreBatch" : "Score", model, e.decision().version(), Status.Code.UNAVAILABLE.name());
                throw e.toRouterException();
            }
            groups.computeIfAbsent(routed[i].version(), v -> new ArrayList<>()).add(i);
        }

        // validate all rows before any upstream work
        List<RouterException.Violation> violations = new ArrayList<>();
        for (Map.Entry<String, List<Integer>> group : groups.entrySet()) {
            List<Map<String, Value>> features = new ArrayList<>();
            List<String> groupPrefixes = new ArrayList<>();
            for (int index : group.getValue()) {
                features.add(rows.get(index).getFeaturesMap());
                groupPrefixes.add(prefixes.get(index));
            }
            try {
                InferenceCodec.validate(routed[group.getValue().get(0)].schema(), features, groupPrefixes, model, group.getKey());
            }
            catch (RouterException e) {
                violations.addAll(e.violations());
            }
        }
        if (!violations.isEmpty()) {
            RouterException.Violation first = violations.get(0);
            throw new RouterException(RouterErrorCode.INVALID_REQUEST,
                    "invalid features: " + first.field() + ": " + first.description()
                            + (violations.size() > 1 ? " (and " + (violations.size() - 1) + " more)" : ""),
                    violations);
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
            send(model, rows, routed, chunk, batchExplain, batch, responses, pending, result);
        }
    }

    private void send(String model, List<ScoreRequest> rows, RoutedRow[] routed, List<Integer> chunk, boolean batchExplain, boolean batch,
            ScoreResponse[] responses, AtomicInteger pending, CompletableFuture<List<ScoreResponse>> result)
    {
        RoutedRow first = routed[chunk.get(0)];
        String version = first.version();
        boolean explain = batchExplain;
        List<Map<String, Value>> features = new ArrayList<>(chunk.size());
        for (int index : chunk) {
            features.add(rows.get(index).getFeaturesMap());
            explain |= rows.get(index).getExplain();
        }
        ModelInferRequest request = InferenceCodec.encode(model, version, first.schema(), features, explain);
        AtomicReference<String> replica = new AtomicReference<>("");
        long started = System.nanoTime();
        ListenableFuture<ModelInferResponse> call = pool.stub().withOption(ReplicaCapture.KEY, replica).modelInfer(request);
        boolean anyExplain = explain;
        Futures.addCallback(call, new FutureCallback<>()
        {
            @Override
            public void onSuccess(ModelInferResponse response)
            {
                long nanos = System.nanoTime() - started;
                try {
                    List<ScoreResponse.Builder> decoded = InferenceCodec.decode(response, chunk.size());
                    double[] scores = new double[chunk.size()];
                    for (int j = 0; j < chunk.size(); j++) {
                        int index = chunk.get(j);
                        ScoreRequest row = rows.get(index);
                        RoutedRow r = routed[index];
                        ScoreResponse.Builder b = decoded.get(j);
                        if (anyExplain && !batchExplain && !row.getExplain()) {
                            b.clearExplanation();
                        }
                        b.setRequestId(row.getRequestId());
                        b.setServed(Served.newBuilder()
                                .setModel(model)
                                .setVersion(version)
                                .setExperiment(r.decision().experiment().orElse(""))
                                .setVariant(r.decision().variant().orElse(""))
                                .setReason(r.decision().reason())
                                .setReplica(replica.get()));
                        responses[index] = b.build();
                        scores[j] = b.getScore();
                        metrics.served(model, version, r.decision().variant().orElse(""), r.decision().reason().name(), 1, nanos / 1e6);
                        if (r.decision().isExperiment()) {
                            recordExposure(r, version, row.getUnitId());
                        }
                    }
                    windows.recordSuccess(model, version, nanos, scores);
                }
                catch (RuntimeException e) {
                    windows.recordFailure(model, version, chunk.size(), nanos);
                    result.completeExceptionally(e);
                    return;
                }
                if (pending.decrementAndGet() == 0) {
                    result.complete(List.of(responses));
                }
            }

            @Override
            public void onFailure(Throwable t)
            {
                long nanos = System.nanoTime() - started;
                Status status = Status.fromThrowable(t);
                boolean pinned = first.decision().reason() == RoutingReason.PINNED;
                RouterException error;
                if (status.getCode() == Status.Code.NOT_FOUND && !pinned) {
                    // the catalog said the version was ready; a routed version that vanished is an outage, not the caller's mistake
                    error = new RouterException(RouterErrorCode.NO_REPLICA, "version " + version + " of model " + model
                            + " is routed but no replica serves it: " + status.getDescription());
                }
                else {
                    error = StatusMapper.fromUpstream(status, model, version);
                }
                if (error.code() != RouterErrorCode.INVALID_REQUEST && error.code() != RouterErrorCode.CANCELLED) {
                    windows.recordFailure(model, version, chunk.size(), nanos);
                }
                metrics.failed(batch ? "ScoreBatch" : "Score", model, version, status.getCode().name());
                result.completeExceptionally(error);
            }
        }, MoreExecutors.directExecutor());
    }

    private void recordExposure(RoutedRow row, String version, String unitId)
    {
        exposures.record(new Exposure(row.decision().experiment().orElseThrow(), row.decision().variant().orElseThrow(),
                version, unitId, clock.instant()));
    }
}
