package dev.trellis.cli.bench;

import java.util.concurrent.CompletionStage;

/**
 * Sends one request of a benchmark without blocking. Implementations must be thread-safe: the
 * closed-loop generator calls them from several threads.
 */
@FunctionalInterface
public interface RequestSender {
    /**
     * Starts request number {@code sequence} (0, 1, 2, ...).
     *
     * @param sequence the request's sequence number, e.g. to pick a row of a data set
     * @return a stage completed when the response arrives; completed exceptionally on an error
     */
    CompletionStage<?> send(long sequence);
}
