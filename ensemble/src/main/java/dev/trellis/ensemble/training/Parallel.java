package dev.trellis.ensemble.training;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The training worker pool: {@code threads} daemon threads, each fit on one of them with one native
 * thread. On a shared, busy machine this beats OpenMP inside one fit, whose barriers stall whenever
 * a worker is descheduled. Results are collected by position, never in completion order, so they do
 * not depend on scheduling.
 */
final class Parallel {
    private Parallel() {}

    static ExecutorService pool(int threads) {
        return Executors.newFixedThreadPool(threads, runnable -> {
            Thread thread = new Thread(runnable, "trellis-train");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** The task's result; its failure rethrown as is when unchecked, the interrupt flag restored. */
    static <T> T get(Future<T> task) {
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("training interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Stops the pool's workers and waits (bounded) for them. */
    static void shutdown(ExecutorService pool) {
        pool.shutdownNow();
        try {
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
