package dev.trellis.router.scoring;

import static java.util.Objects.requireNonNull;

import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.experiments.store.Exposure;
import dev.trellis.experiments.store.PayloadSample;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands exposures (and payload samples) to the experiments module off the transport threads: scoring callbacks run on
 * gRPC's event loop, and the store may block briefly when its own queue is full. A full hand-off
 * queue drops the exposure, counts it and logs loudly (never silently). Thread-safe; closing
 * drains what is queued into the store.
 */
public final class ExposureLog implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(ExposureLog.class);
    static final int CAPACITY = 50_000;

    private final ExperimentManager experiments;
    private final ExperimentStore store;
    private final ThreadPoolExecutor executor;
    private final AtomicLong dropped = new AtomicLong();

    @Inject
    public ExposureLog(ExperimentManager experiments, ExperimentStore store) {
        this.experiments = requireNonNull(experiments, "experiments is null");
        this.store = requireNonNull(store, "store is null");
        this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(CAPACITY), r -> {
            Thread t = new Thread(r, "trellis-exposures");
            t.setDaemon(true);
            return t;
        });
    }

    public void record(Exposure exposure) {
        try {
            executor.execute(() -> {
                try {
                    experiments.recordExposure(exposure);
                } catch (RuntimeException e) {
                    drop(e.toString());
                }
            });
        } catch (RejectedExecutionException e) {
            drop("hand-off queue full (" + CAPACITY + ")");
        }
    }

    /** Hands a payload sample to the store, on the same thread and bounded queue as exposures. */
    public void recordPayload(PayloadSample sample) {
        try {
            executor.execute(() -> {
                try {
                    store.recordPayloadSample(sample);
                } catch (RuntimeException e) {
                    drop(e.toString());
                }
            });
        } catch (RejectedExecutionException e) {
            drop("hand-off queue full (" + CAPACITY + ")");
        }
    }

    private void drop(String why) {
        long count = dropped.incrementAndGet();
        if (Long.bitCount(count) == 1) { // 1, 2, 4, 8, ...: loud without flooding the log
            log.error("exposure or payload sample dropped ({} so far): {}", count, why);
        }
    }

    /** Waits until every exposure queued before this call has been handed to the store. */
    public void flush() {
        try {
            executor.submit(() -> {}).get(10, TimeUnit.SECONDS); // one worker, FIFO: earlier tasks are done
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException
                | java.util.concurrent.TimeoutException
                | RejectedExecutionException e) {
            log.warn("exposure hand-off not drained: {}", e.toString());
        }
    }

    /** Exposures handed off but not yet queued in the store. */
    public long queued() {
        return executor.getQueue().size();
    }

    /** Exposures lost so far. */
    public long droppedCount() {
        return dropped.get();
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                log.error(
                        "{} exposures not handed to the store at shutdown",
                        executor.getQueue().size());
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
