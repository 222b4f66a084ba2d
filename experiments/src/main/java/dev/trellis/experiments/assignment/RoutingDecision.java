package dev.trellis.experiments.assignment;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.RoutingReason;
import java.util.Optional;

/**
 * The version that serves a request and why. {@code version} is empty when the reason is DEFAULT
 * and the model has no default version: the router then serves its highest ready version.
 *
 * @param unit for an EXPERIMENT decision, the value that was hashed (the unit id, or the
 *     experiment's hash attribute): the unit its exposure is logged under
 */
public record RoutingDecision(
        String version,
        RoutingReason reason,
        Optional<String> experiment,
        Optional<String> variant,
        Optional<String> unit) {
    public RoutingDecision {
        requireNonNull(version, "version is null");
        requireNonNull(reason, "reason is null");
        requireNonNull(experiment, "experiment is null");
        requireNonNull(variant, "variant is null");
        requireNonNull(unit, "unit is null");
    }

    /** A decision without an exposure unit (anything but EXPERIMENT). */
    public RoutingDecision(
            String version, RoutingReason reason, Optional<String> experiment, Optional<String> variant) {
        this(version, reason, experiment, variant, Optional.empty());
    }

    /** True when the request was assigned to an experiment variant: the router logs an exposure. */
    public boolean isExperiment() {
        return reason == RoutingReason.EXPERIMENT;
    }
}
