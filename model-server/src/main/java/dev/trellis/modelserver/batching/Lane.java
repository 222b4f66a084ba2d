package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.common.sched.BulkThreads;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.modelserver.monitoring.ProfileWindow;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import io.opentelemetry.api.common.Attributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bounded queue of a model version and the threads that score it. A worker takes everything
 * queued (up to the max batch size), makes one {@link Ensemble#predict} call for it, and hands each
 * caller its slice. Batches form by themselves under load: while every worker is busy, requests
 * pile up and the next free worker takes them all at once. An idle worker waits at most the max
 * queue delay for company before scoring a partial batch. A full queue refuses new requests at
 * once (QUEUE_FULL); a request whose caller went away or whose queue timeout passed is dropped
 * when a worker reaches it, without being scored. Thread-safe.
 */
final class Lane {
    private static final Logger log = LoggerFactory.getLogger(Lane.class);

    private final String name;
    private final LaneKind kind;
    private final Ensemble ensemble;
    private final FeatureSchema schema;
    private final int maxBatchSize;
    private final int maxQueueSize;
    private final long maxQueueDelayNanos;
    private final ServerMetrics metrics;
    private final Attributes attributes;
    private final ProfileWindow window;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();

    @GuardedBy("lock")
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();

    private final List<Thread> workers = new ArrayList<>();

    @GuardedBy("lock")
    private boolean closed;

    Lane(
            String name,
            LaneKind kind,
            Ensemble ensemble,
            BatchingOptions options,
            ServerMetrics metrics,
            Attributes attributes,
            ProfileWindow window) {
        this.name = requireNonNull(name, "name is null");
        this.kind = requireNonNull(kind, "kind is null");
        this.ensemble = requireNonNull(ensemble, "ensemble is null");
        this.schema = ensemble.schema();
        this.maxBatchSize = options.maxBatchSize();
        this.maxQueueSize = options.queueSize(kind);
        this.maxQueueDelayNanos = options.maxQueueDelay().toNanos();
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.attributes = requireNonNull(attributes, "attributes is null");
        this.window = requireNonNull(window, "window is null");
        for (int i = 0; i < options.workers(kind); i++) {
            Thread worker = new Thread(this::work, "batcher-" + name + "-" + kind.label() + "-" + i);
            worker.setDaemon(true);
            workers.add(worker);
        }
        workers.forEach(Thread::start);
    }

    /**
     * Queues rows.
     *
     * @param deadlineNanos {@link System#nanoTime()} after which the request is dropped unscored;
     *     {@link Long#MAX_VALUE} for none
     * @throws ModelServerException QUEUE_FULL when the queue holds the max number of requests
     */
    CompletableFuture<ScoredRows> submit(FeatureBatch rows, long deadlineNanos) {
        Pending pending = new Pending(rows, System.nanoTime(), deadlineNanos, new CompletableFuture<>());
        lock.lock();
        try {
            if (closed) {
                throw new ModelServerException(
                        ErrorCode.SHUTTING_DOWN, "model version " + name + " is unloading; retry");
            }
            if (queue.size() >= maxQueueSize) {
                metrics.recordQueueRejected(attributes);
                throw new ModelServerException(
                        ErrorCode.QUEUE_FULL,
                        "model version " + name + " has " + queue.size() + " " + kind.label()
                                + " requests queued (the limit); retry later");
            }
            queue.addLast(pending);
            notEmpty.signal();
        } finally {
            lock.unlock();
        }
        return pending.result();
    }

    int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    private void work() {
        if (kind != LaneKind.INTERACTIVE) {
            // bulk and explain scoring take only the CPU interactive rows leave over
            BulkThreads.lowerCurrentThread();
        }
        while (true) {
            List<Pending> batch;
            try {
                batch = take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failQueued();
                return;
            }
            if (batch == null) {
                return;
            }
            if (!batch.isEmpty()) {
                score(batch);
            }
        }
    }

    /** The next batch (possibly empty when every request taken had expired), or null once closed and empty. */
    private List<Pending> take() throws InterruptedException {
        lock.lock();
        try {
            while (queue.isEmpty()) {
                if (closed) {
                    return null;
                }
                notEmpty.await();
            }
            List<Pending> batch = new ArrayList<>();
            Pending first = nextLive();
            if (first == null) {
                return batch;
            }
            batch.add(first);
            int rows = first.rows().rows();
            long deadline = first.enqueuedNanos() + maxQueueDelayNanos;
            while (true) {
                Pending next;
                while ((next = peekLive()) != null && rows + next.rows().rows() <= maxBatchSize) {
                    queue.pollFirst();
                    batch.add(next);
                    rows += next.rows().rows();
                }
                // stop when full, when the next request does not fit, or when the delay is spent
                if (next != null || rows >= maxBatchSize || closed) {
                    break;
                }
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) {
                    break;
                }
                notEmpty.awaitNanos(remaining);
            }
            if (!queue.isEmpty()) {
                // more work than this batch: let another idle worker start on it now
                notEmpty.signal();
            }
            return batch;
        } finally {
            lock.unlock();
        }
    }

    @GuardedBy("lock")
    private Pending nextLive() {
        Pending pending;
        while ((pending = queue.pollFirst()) != null) {
            if (live(pending)) {
                return pending;
            }
        }
        return null;
    }

    @GuardedBy("lock")
    private Pending peekLive() {
        Pending pending;
        while ((pending = queue.peekFirst()) != null && !live(pending)) {
            queue.pollFirst();
        }
        return pending;
    }

    /** False (and the request failed or dropped) when its caller went away or its queue timeout passed. */
    private boolean live(Pending pending) {
        if (pending.result().isDone()) {
            return false; // cancelled by the caller
        }
        if (System.nanoTime() - pending.deadlineNanos() > 0) {
            metrics.recordQueueExpired(attributes);
            pending.result()
                    .completeExceptionally(new ModelServerException(
                            ErrorCode.QUEUE_TIMEOUT,
                            "the request's timeout passed while it waited in the " + kind.label() + " queue of "
                                    + name));
            return false;
        }
        return true;
    }

    private void score(List<Pending> batch) {
        long start = System.nanoTime();
        int totalRows = 0;
        for (Pending pending : batch) {
            totalRows += pending.rows().rows();
            metrics.recordQueueDelay(attributes, (start - pending.enqueuedNanos()) / 1e9);
        }
        metrics.recordBatch(attributes, totalRows);
        Predictions predictions;
        FeatureBatch input;
        try {
            input = batch.size() == 1 ? batch.get(0).rows() : concatenate(batch, totalRows);
            predictions = ensemble.predict(input, kind == LaneKind.EXPLAIN);
            if (predictions.rows() != totalRows) {
                throw new IllegalStateException("ensemble returned " + predictions.rows() + " rows for " + totalRows);
            }
        } catch (RuntimeException | Error e) {
            ModelServerException failure =
                    new ModelServerException(ErrorCode.SCORING_FAILED, "scoring failed in model version " + name);
            log.error("scoring failed in model version {}", name, e);
            batch.forEach(pending -> pending.result().completeExceptionally(failure));
            return;
        }
        long computeNanos = System.nanoTime() - start;
        int offset = 0;
        for (Pending pending : batch) {
            int rows = pending.rows().rows();
            pending.result()
                    .complete(new ScoredRows(
                            predictions, offset, rows, totalRows, start - pending.enqueuedNanos(), computeNanos));
            offset += rows;
        }
        // after the callers have their answers: the live profile costs them no latency
        window.record(input, predictions.score());
    }

    private FeatureBatch concatenate(List<Pending> batch, int totalRows) {
        FeatureBatch merged = new FeatureBatch(schema, totalRows);
        for (int feature = 0; feature < schema.size(); feature++) {
            boolean numeric = schema.features().get(feature).type() == FeatureType.NUMERIC;
            Object target = numeric ? merged.numeric(feature) : merged.categorical(feature);
            int offset = 0;
            for (Pending pending : batch) {
                FeatureBatch rows = pending.rows();
                Object source = numeric ? rows.numeric(feature) : rows.categorical(feature);
                System.arraycopy(source, 0, target, offset, rows.rows());
                offset += rows.rows();
            }
        }
        return merged;
    }

    private void failQueued() {
        lock.lock();
        try {
            Pending pending;
            while ((pending = queue.pollFirst()) != null) {
                pending.result()
                        .completeExceptionally(new ModelServerException(
                                ErrorCode.SHUTTING_DOWN, "model version " + name + " is unloading; retry"));
            }
        } finally {
            lock.unlock();
        }
    }

    /** Stops taking requests and tells the workers to finish what is queued. */
    void stop() {
        lock.lock();
        try {
            closed = true;
            notEmpty.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits for the workers until {@code deadlineNanos}, then interrupts them and fails what is left. */
    void awaitStopped(long deadlineNanos) {
        for (Thread worker : workers) {
            try {
                worker.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        workers.forEach(Thread::interrupt);
        failQueued();
    }

    private record Pending(
            FeatureBatch rows, long enqueuedNanos, long deadlineNanos, CompletableFuture<ScoredRows> result) {}
}
