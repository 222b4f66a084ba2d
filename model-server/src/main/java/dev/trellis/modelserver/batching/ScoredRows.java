package dev.trellis.modelserver.batching;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.Predictions;

/**
 * One caller's share of a batch's predictions: rows {@code [offset, offset + rows)}.
 *
 * @param predictions the whole batch's predictions (shared, read-only)
 * @param offset first row of this caller in {@code predictions}
 * @param rows number of rows of this caller
 * @param batchRows rows in the whole batch (for tracing and tests)
 * @param queueNanos how long this caller's rows waited in the queue
 * @param computeNanos how long the batch's ensemble call took
 */
public record ScoredRows(
        Predictions predictions, int offset, int rows, int batchRows, long queueNanos, long computeNanos) {
    public ScoredRows {
        requireNonNull(predictions, "predictions is null");
        if (offset < 0 || rows < 0 || offset + rows > predictions.rows()) {
            throw new IllegalArgumentException(
                    "rows [" + offset + ", " + (offset + rows) + ") outside a batch of " + predictions.rows());
        }
    }
}
