package dev.trellis.modelserver.inference;

import static java.util.Objects.requireNonNull;

import dev.trellis.ensemble.api.FeatureBatch;
import java.util.Set;

/**
 * A validated ModelInfer request.
 *
 * @param rows the input rows in the model's schema
 * @param explain whether contributions are computed
 * @param outputs output tensors to return
 */
record DecodedRequest(FeatureBatch rows, boolean explain, Set<String> outputs) {
    DecodedRequest {
        requireNonNull(rows, "rows is null");
        outputs = Set.copyOf(requireNonNull(outputs, "outputs is null"));
    }
}
