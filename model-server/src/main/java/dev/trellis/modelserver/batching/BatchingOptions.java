package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import dev.trellis.modelserver.config.ModelServerConfig;
import java.time.Duration;

/**
 * How one model version's requests are queued and batched.
 *
 * @param maxBatchSize most rows per ensemble call; a larger request is scored alone (in the bulk lane)
 * @param maxQueueDelay how long an idle worker holding a partial batch waits for more requests
 * @param maxQueueSize most queued interactive requests before new ones are refused
 * @param workers interactive scoring threads
 * @param bulkWorkers bulk scoring threads
 * @param explainWorkers explain scoring threads
 * @param bulkQueueSize most queued bulk requests
 * @param explainQueueSize most queued explain requests
 */
public record BatchingOptions(
        int maxBatchSize,
        Duration maxQueueDelay,
        int maxQueueSize,
        int workers,
        int bulkWorkers,
        int explainWorkers,
        int bulkQueueSize,
        int explainQueueSize) {
    public BatchingOptions {
        if (maxBatchSize < 1
                || maxQueueSize < 1
                || workers < 1
                || bulkWorkers < 1
                || explainWorkers < 1
                || bulkQueueSize < 1
                || explainQueueSize < 1) {
            throw new IllegalArgumentException("batch sizes, queue sizes and worker counts must be positive");
        }
        requireNonNull(maxQueueDelay, "maxQueueDelay is null");
    }

    /** One lane of each kind with the same queue bound and workers (tests). */
    public BatchingOptions(int maxBatchSize, Duration maxQueueDelay, int maxQueueSize, int workers) {
        this(maxBatchSize, maxQueueDelay, maxQueueSize, workers, workers, workers, maxQueueSize, maxQueueSize);
    }

    public static BatchingOptions from(ModelServerConfig config) {
        return new BatchingOptions(
                config.maxBatchSize(),
                config.maxQueueDelay(),
                config.maxQueueSize(),
                config.batchWorkers(),
                config.bulkWorkers(),
                config.explainWorkers(),
                config.bulkQueueSize(),
                config.explainQueueSize());
    }

    int queueSize(LaneKind lane) {
        return switch (lane) {
            case INTERACTIVE -> maxQueueSize;
            case BULK -> bulkQueueSize;
            case EXPLAIN -> explainQueueSize;
        };
    }

    int workers(LaneKind lane) {
        return switch (lane) {
            case INTERACTIVE -> workers;
            case BULK -> bulkWorkers;
            case EXPLAIN -> explainWorkers;
        };
    }
}
