package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.ensemble.api.Ensemble;
import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.ensemble.api.FeatureSchema;
import dev.trellis.ensemble.api.FeatureType;
import dev.trellis.ensemble.api.Predictions;
import dev.trellis.modelserver.errors.ErrorCode;
import dev.trellis.modelserver.errors.ModelServerException;
import dev.trellis.modelserver.telemetry.ServerMetrics;
import io.opentelemetry.api.common.Attributes;
import java.time.Duration;
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
 * Dynamic batching for one model version. Callers {@link #submit} rows; worker threads take
 * everything queued (up to the max batch size), make one {@link Ensemble#predict} call for it, and
 * hand each caller its slice. Batches form by themselves under load: while every worker is busy,
 * requests pile up and the next free worker takes them all at once. An idle worker waits at most
 * the max queue delay for company before scoring a partial batch.
 *
 * <p>A batch computes explanations when any of its requests asks for them; the others get the same
 * scores and ignore the contributions. The queue is bounded: a full queue refuses new requests with
 * RESOURCE_EXHAUSTED instead of growing without limit. Thread-safe.
 */
public final class Batcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Batcher.class);

    private final String name;
    private final Ensemble ensemble;
    private final FeatureSchema schema;
    private final BatchingOptions options;
    private final ServerMetrics metrics;
    private final Attributes attributes;
    private final long maxQueueDelayNanos;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();

    @GuardedBy("lock")
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();

    private final List<Thread> workers = new ArrayList<>();

    @GuardedBy("lock")
    private boolean closed;

    public Batcher(
            String name, Ensemble ensemble, BatchingOptions options, ServerMetrics metrics, Attributes attributes) {
        this.name = requireNonNull(name, "name is null");
        this.ensemble = requireNonNull(ensemble, "ensemble is null");
        this.schema = ensemble.schema();
        this.options = requireNonNull(options, "options is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.attributes = requireNonNull(attributes, "attributes is null");
        this.maxQueueDelayNanos = options.maxQueueDelay().toNanos();
        for (int i = 0; i < options.workers(); i++) {
            Thread worker = new Thread(this::work, "batcher-" + name + "-" + i);
            worker.setDaemon(true);
            workers.add(worker);
        }
        workers.forEach(Thread::start);
    }

    /**
     * Queues rows for scoring.
     *
     * @throws ModelServerException QUEUE_FULL when the queue holds the max number of requests
     */
    public CompletableFuture<ScoredRows> submit(FeatureBatch rows, boolean explain) {
        requireNonNull(rows, "rows is null");
        if (!rows.schema().equals(schema)) {
            throw new IllegalArgumentException("rows do not follow the ensemble's schema");
        }
        Pending pending = new Pending(rows, explain, System.nanoTime(), new CompletableFuture<>());
        lock.lock();
        try {
            if (closed) {
                throw new ModelServerException(
                        ErrorCode.SHUTTING_DOWN, "model version " + name + " is unloading; retry");
            }
            if (queue.size() >= options.maxQueueSize()) {
                metrics.recordQueueRejected(attributes);
                throw new ModelServerException(
                        ErrorCode.QUEUE_FULL,
                        "model version " + name + " has " + queue.size() + " requests queued (the limit); retry later");
            }
            queue.addLast(pending);
            notEmpty.signal();
        } finally {
            lock.unlock();
        }
        return pending.result();
    }

    /** Requests queued and not yet taken by a worker. */
    public int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    private void work() {
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
            score(batch);
        }
    }

    /** The next batch, or null once closed and empty. */
    private List<Pending> take() throws InterruptedException {
        lock.lock();
        try {
            while (queue.isEmpty()) {
                if (closed) {
                    return null;
                }
                notEmpty.await();
            }
            Pending first = queue.pollFirst();
            List<Pending> batch = new ArrayList<>();
            batch.add(first);
            int rows = first.rows().rows();
            long deadline = first.enqueuedNanos() + maxQueueDelayNanos;
            while (true) {
                Pending next;
                while ((next = queue.peekFirst()) != null && rows + next.rows().rows() <= options.maxBatchSize()) {
                    queue.pollFirst();
                    batch.add(next);
                    rows += next.rows().rows();
                }
                // stop when full, when the next request does not fit, or when the delay is spent
                if (next != null || rows >= options.maxBatchSize() || closed) {
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

    private void score(List<Pending> batch) {
        long start = System.nanoTime();
        int totalRows = 0;
        boolean explain = false;
        for (Pending pending : batch) {
            totalRows += pending.rows().rows();
            explain |= pending.explain();
            metrics.recordQueueDelay(attributes, (start - pending.enqueuedNanos()) / 1e9);
        }
        metrics.recordBatch(attributes, totalRows);
        Predictions predictions;
        try {
            FeatureBatch input = batch.size() == 1 ? batch.get(0).rows() : concatenate(batch, totalRows);
            predictions = ensemble.predict(input, explain);
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
        int offset = 0;
        for (Pending pending : batch) {
            int rows = pending.rows().rows();
            pending.result().complete(new ScoredRows(predictions, offset, rows, totalRows));
            offset += rows;
        }
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

    /**
     * Stops taking requests, scores what is queued, and waits up to {@code timeout} for the workers.
     * Safe to call twice.
     */
    public void close(Duration timeout) {
        lock.lock();
        try {
            closed = true;
            notEmpty.signalAll();
        } finally {
            lock.unlock();
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread worker : workers) {
            try {
                worker.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        workers.forEach(Thread::interrupt);
        failQueued();
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }

    private record Pending(
            FeatureBatch rows, boolean explain, long enqueuedNanos, CompletableFuture<ScoredRows> result) {}
}
