package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The batched, bounded, counted writer of append-only records (exposures, outcomes, and any
 * later kind such as payload samples), independent of the database: a {@link Sink} writes one
 * batch in one transaction. Thread-safe.
 *
 * <p>Records wait in a bounded queue and one writer thread drains it: everything queued while a
 * commit runs goes into the next batch, so batches grow exactly when load does and one commit
 * (one fsync) is paid per batch ("group commit"). {@link #record} is fire-and-forget (exposures);
 * {@link #recordDurably} returns a future completed after the record's batch committed
 * (acknowledged outcomes). A full queue blocks the caller for a bounded time, then the record is
 * counted as dropped and logged at ERROR: nothing is lost silently.
 *
 * <p>When the database is unreachable the writer keeps the batch and retries with a capped
 * backoff, while new records fill the queue up to its bound (then drops, counted). A batch that
 * fails for another reason is retried twice, then dropped and counted.
 */
public final class EventWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventWriter.class);
    private static final int ATTEMPTS_FOR_BAD_BATCH = 3;
    private static final int ATTEMPTS_WHILE_CLOSING = 5;
    private static final long MAX_BACKOFF_MILLIS = 1_000;

    /** Writes one batch of records in one transaction; throws to have the batch retried. */
    @FunctionalInterface
    public interface Sink {
        void write(List<Object> batch) throws SQLException;
    }

    private record Durable(Object record, CompletableFuture<Void> committed) {}

    private static final class FlushMarker {
        final CountDownLatch done = new CountDownLatch(1);
    }

    private static final Object STOP = new Object();

    private final String name;
    private final Sink sink;
    private final Dialect dialect;
    private final Duration maxBlock;
    private final Duration maxDurableBlock;
    private final int maxBatch;
    private final BlockingQueue<Object> queue;
    private final Thread writer;
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong pending = new AtomicLong();
    private final Object closeLock = new Object();
    private volatile boolean closed;
    private volatile boolean closing;
    private volatile boolean healthy = true;

    /**
     * @param capacity records that may wait for the writer
     * @param maxBlock how long {@link #record} may block on a full queue before the record is dropped
     * @param maxDurableBlock the same for {@link #recordDurably}, whose caller waits for the commit anyway
     */
    EventWriter(
            String name,
            Sink sink,
            Dialect dialect,
            int capacity,
            Duration maxBlock,
            Duration maxDurableBlock,
            int maxBatch) {
        this.name = requireNonNull(name, "name is null");
        this.sink = requireNonNull(sink, "sink is null");
        this.dialect = requireNonNull(dialect, "dialect is null");
        this.maxBlock = requireNonNull(maxBlock, "maxBlock is null");
        this.maxDurableBlock = requireNonNull(maxDurableBlock, "maxDurableBlock is null");
        if (capacity < 1 || maxBatch < 1) {
            throw new IllegalArgumentException("capacity and maxBatch must be positive");
        }
        this.maxBatch = maxBatch;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.writer = new Thread(this::writeLoop, name);
        this.writer.setDaemon(true);
        this.writer.start();
    }

    /** Queues a record; blocks only when the queue is full (bounded), then counts it as dropped. */
    public void record(Object record) {
        requireNonNull(record, "record is null");
        if (!enqueue(record, maxBlock)) {
            drop(1, closed ? "store closed" : "write queue full for " + maxBlock.toMillis() + " ms");
        }
    }

    /**
     * Queues a record and returns a future completed once it is committed; completed exceptionally
     * (STORE_FAILURE) when it could not be queued or written.
     */
    public CompletableFuture<Void> recordDurably(Object record) {
        requireNonNull(record, "record is null");
        CompletableFuture<Void> committed = new CompletableFuture<>();
        if (!enqueue(new Durable(record, committed), maxDurableBlock)) {
            String why = closed ? "the store is closed" : "the write queue is full";
            drop(1, why);
            committed.completeExceptionally(new ExperimentsException(ErrorCode.STORE_FAILURE, "not stored: " + why));
        }
        return committed;
    }

    private boolean enqueue(Object item, Duration wait) {
        if (closed) {
            return false;
        }
        pending.incrementAndGet();
        boolean queued = queue.offer(item);
        if (!queued) {
            try {
                queued = queue.offer(item, wait.toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (!queued) {
            pending.decrementAndGet();
        }
        return queued;
    }

    private void drop(long count, String why) {
        long total = dropped.addAndGet(count);
        // Loud on the first drops, then once per 1000 so a sustained overload cannot flood the log.
        if (total - count < 10 || (total / 1000) != ((total - count) / 1000)) {
            log.error("{}: DROPPED {} record(s) ({}); {} dropped since start", name, count, why, total);
        }
    }

    /** Waits until everything queued before this call is committed (or dropped, counted). */
    public void flush() {
        if (closed) {
            return; // close() wrote everything it could
        }
        FlushMarker marker = new FlushMarker();
        try {
            while (!queue.offer(marker, 1, TimeUnit.SECONDS)) {
                checkAlive();
            }
            while (!marker.done.await(1, TimeUnit.SECONDS)) {
                checkAlive();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExperimentsException(ErrorCode.STORE_FAILURE, "interrupted while flushing", e);
        }
    }

    private void checkAlive() {
        if (!writer.isAlive()) {
            throw new ExperimentsException(ErrorCode.STORE_FAILURE, name + " has stopped");
        }
        if (!healthy) {
            throw new ExperimentsException(
                    ErrorCode.STORE_FAILURE, "the store is unreachable; queued records are kept and retried");
        }
    }

    /** Records dropped so far (queue full, store closed, or a batch that could not be written). */
    public long droppedCount() {
        return dropped.get();
    }

    /** Records committed since start. */
    public long writtenCount() {
        return written.get();
    }

    /** Records accepted but not yet committed: what a crash right now would lose. */
    public long pendingCount() {
        return pending.get();
    }

    /** False while the last write attempt failed (the database is unreachable). */
    public boolean healthy() {
        return healthy;
    }

    private void writeLoop() {
        try {
            drainLoop();
        } catch (RuntimeException | Error e) {
            log.error("{} stopped: every later record is dropped and counted", name, e);
            throw e;
        }
    }

    private void drainLoop() {
        List<Object> batch = new ArrayList<>(maxBatch);
        List<Object> items = new ArrayList<>(maxBatch); // records and Durables, in queue order
        boolean stop = false;
        while (!stop) {
            Object first;
            try {
                first = queue.take();
            } catch (InterruptedException e) {
                return; // abandoned (crash simulation); close() uses STOP instead
            }
            batch.add(first);
            queue.drainTo(batch, maxBatch - 1);
            if (batch.contains(STOP)) {
                stop = true;
                queue.drainTo(batch); // what was queued before close() is still written
            }
            for (Object item : batch) {
                if (item instanceof FlushMarker marker) {
                    if (!writeAll(items)) {
                        return;
                    }
                    marker.done.countDown();
                } else if (item != STOP) {
                    items.add(item);
                }
            }
            batch.clear();
            if (!writeAll(items)) {
                return;
            }
        }
    }

    /** Writes the items in batches of at most maxBatch; false when the thread was interrupted. */
    private boolean writeAll(List<Object> items) {
        for (int from = 0; from < items.size(); from += maxBatch) {
            if (!writeBatch(items.subList(from, Math.min(items.size(), from + maxBatch)))) {
                return false;
            }
        }
        items.clear();
        return true;
    }

    private boolean writeBatch(List<Object> items) {
        List<Object> records = new ArrayList<>(items.size());
        for (Object item : items) {
            records.add(item instanceof Durable d ? d.record() : item);
        }
        long backoff = 50;
        for (int attempt = 1; ; attempt++) {
            try {
                sink.write(records);
                written.addAndGet(records.size());
                pending.addAndGet(-records.size());
                if (!healthy) {
                    log.warn("{}: the store is reachable again", name);
                }
                healthy = true;
                complete(items, null);
                return true;
            } catch (SQLException | RuntimeException | AssertionError e) {
                // pgjdbc throws AssertionError from executeBatch when the connection breaks mid-batch
                boolean connection =
                        e instanceof AssertionError || e instanceof SQLException s && dialect.isConnectionFailure(s);
                if (connection && healthy) {
                    log.error(
                            "{}: the store is unreachable ({}); keeping {} record(s) and retrying",
                            name,
                            e.getMessage(),
                            records.size());
                }
                healthy = !connection;
                boolean giveUp =
                        connection ? closing && attempt >= ATTEMPTS_WHILE_CLOSING : attempt >= ATTEMPTS_FOR_BAD_BATCH;
                if (giveUp) {
                    log.error("{}: cannot write {} record(s) after {} attempts", name, records.size(), attempt, e);
                    pending.addAndGet(-records.size());
                    drop(records.size(), "write failed: " + e.getMessage());
                    complete(items, new ExperimentsException(ErrorCode.STORE_FAILURE, "not stored: " + e.getMessage()));
                    return true;
                }
                if (!connection) {
                    log.warn(
                            "{}: write of {} records failed (attempt {}), retrying: {}",
                            name,
                            records.size(),
                            attempt,
                            e.getMessage());
                }
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    return false; // abandoned
                }
                backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
            }
        }
    }

    private static void complete(List<Object> items, Throwable failure) {
        for (Object item : items) {
            if (item instanceof Durable d) {
                if (failure == null) {
                    d.committed().complete(null);
                } else {
                    d.committed().completeExceptionally(failure);
                }
            }
        }
    }

    /** Writes what is queued and stops the writer. Safe to call twice. */
    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closing = true;
            closed = true;
            boolean interrupted = false;
            while (true) {
                try {
                    queue.put(STOP);
                    writer.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // finish the clean shutdown, then restore the flag
                }
            }
            // Anything a racing caller enqueued after STOP was taken is counted, never lost silently.
            List<Object> late = new ArrayList<>();
            queue.drainTo(late);
            long count = 0;
            for (Object item : late) {
                if (item instanceof FlushMarker m) {
                    m.done.countDown();
                } else if (item instanceof Durable d) {
                    d.committed()
                            .completeExceptionally(
                                    new ExperimentsException(ErrorCode.STORE_FAILURE, "not stored: the store closed"));
                    count++;
                } else if (item != STOP) {
                    count++;
                }
            }
            if (count > 0) {
                pending.addAndGet(-count);
                drop(count, "recorded while the store was closing");
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Simulates a crash: stops the writer without writing what is queued. */
    void abandon() {
        synchronized (closeLock) {
            closed = true;
            writer.interrupt();
            try {
                writer.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
