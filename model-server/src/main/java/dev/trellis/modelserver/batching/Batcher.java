package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.modelserver.monitoring.ProfileWindow;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import io.opentelemetry.api.common.Attributes;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Admission control and dynamic batching for one model version: three {@link LaneKind lanes},
 * each a bounded queue with its own scoring threads, so that interactive single rows never wait
 * behind bulk batches or explanations.
 *
 * <ul>
 *   <li>A request with explanations goes to the explain lane.
 *   <li>Otherwise one with more rows than the max batch size, or with low {@link Priority}, goes to
 *       the bulk lane.
 *   <li>Everything else is interactive.
 * </ul>
 *
 * Within a lane, requests are batched as described in {@link Lane}; a full lane refuses at once
 * with RESOURCE_EXHAUSTED instead of letting its callers' deadlines expire. Bulk and explain
 * threads default to half the cores and run at low operating-system priority ({@code BulkThreads}):
 * separate queues alone do not keep interactive rows from waiting for a core when bulk work keeps
 * every core busy, a lower priority does. Thread-safe.
 */
public final class Batcher implements AutoCloseable {
    private final String name;
    private final Ensemble ensemble;
    private final int maxBatchSize;
    private final Map<LaneKind, Lane> lanes = new EnumMap<>(LaneKind.class);
    private final Runnable onClose;
    private final AtomicBoolean closed = new AtomicBoolean();

    public Batcher(
            String name, Ensemble ensemble, BatchingOptions options, ServerMetrics metrics, Attributes attributes) {
        this(name, ensemble, options, metrics, attributes, ProfileWindow.NONE, () -> {});
    }

    /**
     * @param window the version's live profile, fed with every scored batch
     * @param onClose runs once the lanes stopped (closes the live profile)
     */
    public Batcher(
            String name,
            Ensemble ensemble,
            BatchingOptions options,
            ServerMetrics metrics,
            Attributes attributes,
            ProfileWindow window,
            Runnable onClose) {
        this.name = requireNonNull(name, "name is null");
        this.onClose = requireNonNull(onClose, "onClose is null");
        requireNonNull(window, "window is null");
        this.ensemble = requireNonNull(ensemble, "ensemble is null");
        this.maxBatchSize = requireNonNull(options, "options is null").maxBatchSize();
        requireNonNull(attributes, "attributes is null");
        for (LaneKind kind : LaneKind.values()) {
            lanes.put(
                    kind,
                    new Lane(
                            name,
                            kind,
                            ensemble,
                            options,
                            metrics,
                            attributes.toBuilder()
                                    .put(ServerMetrics.LANE, kind.label())
                                    .build(),
                            window));
        }
    }

    /** Queues rows with the default priority and no queue timeout. */
    public CompletableFuture<ScoredRows> submit(FeatureBatch rows, boolean explain) {
        return submit(rows, explain, Priority.DEFAULT, Long.MAX_VALUE);
    }

    /**
     * Queues rows in the lane their size, explanation and priority call for.
     *
     * @param deadlineNanos {@link System#nanoTime()} after which the request is dropped unscored
     *     (DEADLINE_EXCEEDED); {@link Long#MAX_VALUE} for none
     * @return completes with the caller's rows; cancel it when the caller goes away, and the rows
     *     are dropped unscored if no worker reached them yet
     * @throws ModelServerException QUEUE_FULL when the lane holds its max number of requests
     */
    public CompletableFuture<ScoredRows> submit(
            FeatureBatch rows, boolean explain, Priority priority, long deadlineNanos) {
        requireNonNull(rows, "rows is null");
        requireNonNull(priority, "priority is null");
        if (!rows.schema().equals(ensemble.schema())) {
            throw new IllegalArgumentException("rows do not follow the ensemble's schema");
        }
        return lanes.get(lane(rows.rows(), explain, priority)).submit(rows, deadlineNanos);
    }

    /** The lane of a request. */
    public LaneKind lane(int rows, boolean explain, Priority priority) {
        if (explain) {
            return LaneKind.EXPLAIN;
        }
        if (priority == Priority.LOW || rows > maxBatchSize) {
            return LaneKind.BULK;
        }
        return LaneKind.INTERACTIVE;
    }

    /** Requests queued in every lane and not yet taken by a worker. */
    public int queued() {
        return lanes.values().stream().mapToInt(Lane::queued).sum();
    }

    /** Requests queued in one lane. */
    public int queued(LaneKind kind) {
        return lanes.get(kind).queued();
    }

    /**
     * Stops taking requests, scores what is queued, and waits up to {@code timeout} for the workers
     * of every lane. Safe to call twice.
     */
    public void close(Duration timeout) {
        lanes.values().forEach(Lane::stop);
        long deadline = System.nanoTime() + timeout.toNanos();
        lanes.values().forEach(lane -> lane.awaitStopped(deadline));
        if (closed.compareAndSet(false, true)) {
            onClose.run();
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }

    @Override
    public String toString() {
        return "Batcher[" + name + "]";
    }
}
