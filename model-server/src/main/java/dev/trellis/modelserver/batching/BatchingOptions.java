package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import dev.trellis.modelserver.config.ModelServerConfig;
import java.time.Duration;

/**
 * How one model version's requests are batched.
 *
 * @param maxBatchSize most rows per ensemble call; a larger request is scored alone
 * @param maxQueueDelay how long an idle worker holding a partial batch waits for more requests
 * @param maxQueueSize most queued requests before new ones are refused
 * @param workers scoring threads
 */
public record BatchingOptions(int maxBatchSize, Duration maxQueueDelay, int maxQueueSize, int workers) {
    public BatchingOptions {
        if (maxBatchSize < 1 || maxQueueSize < 1 || workers < 1) {
            throw new IllegalArgumentException("maxBatchSize, maxQueueSize and workers must be positive");
        }
        requireNonNull(maxQueueDelay, "maxQueueDelay is null");
    }

    public static BatchingOptions from(ModelServerConfig config) {
        return new BatchingOptions(
                config.maxBatchSize(), config.maxQueueDelay(), config.maxQueueSize(), config.batchWorkers());
    }
}
