package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.util.OptionalDouble;

/**
 * A payload sample as stored, with the sum of its unit's outcomes of the queried metric.
 *
 * @param id increasing in the order samples were stored (the paging key)
 * @param outcome the sum of the unit's outcome values, empty when the unit has none
 */
public record StoredPayload(long id, PayloadSample sample, OptionalDouble outcome) {
    public StoredPayload {
        requireNonNull(sample, "sample is null");
        requireNonNull(outcome, "outcome is null");
    }
}
