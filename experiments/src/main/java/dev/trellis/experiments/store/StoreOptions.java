package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.Optional;

/**
 * How a store runs: the event queue, change polling and retention. The defaults live in
 * {@link #defaults()}.
 *
 * @param queueCapacity exposures and outcomes that may wait for the writer
 * @param maxBlock how long a caller may block on a full queue before an exposure is counted as dropped
 * @param pollInterval how often the change counter is polled (the fallback of PostgreSQL's notifications)
 * @param retention exposures and outcomes older than this are deleted (kept while their experiment runs)
 * @param retentionInterval how often retention runs
 */
public record StoreOptions(
        int queueCapacity,
        Duration maxBlock,
        Duration pollInterval,
        Optional<Duration> retention,
        Duration retentionInterval) {
    public static final int DEFAULT_QUEUE_CAPACITY = 100_000;

    public StoreOptions {
        requireNonNull(maxBlock, "maxBlock is null");
        requireNonNull(pollInterval, "pollInterval is null");
        requireNonNull(retention, "retention is null");
        requireNonNull(retentionInterval, "retentionInterval is null");
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("queueCapacity must be positive");
        }
        if (pollInterval.isZero()
                || pollInterval.isNegative()
                || retentionInterval.isZero()
                || retentionInterval.isNegative()) {
            throw new IllegalArgumentException("poll and retention intervals must be positive");
        }
        if (retention.isPresent()
                && (retention.get().isZero() || retention.get().isNegative())) {
            throw new IllegalArgumentException("retention must be positive, was " + retention.get());
        }
    }

    public static StoreOptions defaults() {
        return new StoreOptions(
                DEFAULT_QUEUE_CAPACITY,
                Duration.ofMillis(200),
                Duration.ofSeconds(1),
                Optional.empty(),
                Duration.ofHours(1));
    }

    public StoreOptions withQueue(int capacity, Duration block) {
        return new StoreOptions(capacity, block, pollInterval, retention, retentionInterval);
    }

    public StoreOptions withRetention(Optional<Duration> keep) {
        return new StoreOptions(queueCapacity, maxBlock, pollInterval, keep, retentionInterval);
    }

    public StoreOptions withIntervals(Duration poll, Duration retentionEvery) {
        return new StoreOptions(queueCapacity, maxBlock, poll, retention, retentionEvery);
    }
}
