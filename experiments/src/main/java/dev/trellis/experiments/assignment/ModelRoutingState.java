package dev.trellis.experiments.assignment;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.Rollout;
import java.util.List;
import java.util.Optional;

/**
 * A consistent snapshot of everything that routes one model: its default version, its RUNNING
 * experiments in evaluation order, and its active (PROGRESSING or PAUSED) rollout.
 */
public record ModelRoutingState(
        String model,
        Optional<String> defaultVersion,
        List<Experiment> runningExperiments,
        Optional<Rollout> activeRollout) {
    public ModelRoutingState {
        requireNonNull(model, "model is null");
        requireNonNull(defaultVersion, "defaultVersion is null");
        runningExperiments = List.copyOf(requireNonNull(runningExperiments, "runningExperiments is null"));
        requireNonNull(activeRollout, "activeRollout is null");
    }

    /** A model nobody configured: no default, no experiments, no rollout. */
    public static ModelRoutingState empty(String model) {
        return new ModelRoutingState(model, Optional.empty(), List.of(), Optional.empty());
    }
}
