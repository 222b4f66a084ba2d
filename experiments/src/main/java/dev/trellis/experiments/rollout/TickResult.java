package dev.trellis.experiments.rollout;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Rollout;

/**
 * The rollout after a tick.
 *
 * @param windowReset true when the step advanced or the state changed: the router must start new
 *     metric windows for both versions
 */
public record TickResult(Rollout rollout, boolean windowReset) {
    public TickResult {
        requireNonNull(rollout, "rollout is null");
    }
}
