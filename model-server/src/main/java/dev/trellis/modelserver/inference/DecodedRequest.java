package dev.trellis.modelserver.inference;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.FeatureBatch;
import dev.trellis.modelserver.batching.Priority;
import java.time.Duration;
import java.util.Set;

/**
 * A validated ModelInfer request.
 *
 * @param rows the input rows in the model's schema
 * @param explain whether contributions are computed
 * @param outputs output tensors to return
 * @param priority the request's {@code priority} parameter
 * @param timeout the request's {@code timeout} parameter: the longest wait in the queue; zero = none
 */
record DecodedRequest(FeatureBatch rows, boolean explain, Set<String> outputs, Priority priority, Duration timeout) {
    DecodedRequest {
        requireNonNull(rows, "rows is null");
        outputs = Set.copyOf(requireNonNull(outputs, "outputs is null"));
        requireNonNull(priority, "priority is null");
        requireNonNull(timeout, "timeout is null");
    }
}
