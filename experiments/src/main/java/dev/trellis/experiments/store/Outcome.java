package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * A metric value for a unit. With {@code experiment == null} it counts for every experiment the
 * unit was exposed in; otherwise only for that experiment. Values of one unit and metric are summed.
 *
 * @param outcomeId the caller's idempotency key, or null: an outcome whose id is already stored is
 *     not stored again, so a retried call stores nothing twice
 */
public record Outcome(String unitId, String metric, double value, String experiment, Instant time, String outcomeId) {
    public Outcome {
        requireNonNull(unitId, "unitId is null");
        requireNonNull(metric, "metric is null");
        requireNonNull(time, "time is null");
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException("value is not finite: " + value);
        }
        if (experiment != null && experiment.isEmpty()) {
            experiment = null;
        }
        if (outcomeId != null && outcomeId.isEmpty()) {
            outcomeId = null;
        }
    }

    /** An outcome without an idempotency key. */
    public Outcome(String unitId, String metric, double value, String experiment, Instant time) {
        this(unitId, metric, value, experiment, time, null);
    }
}
