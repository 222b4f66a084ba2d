package dev.trellis.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.RoutingReason;

/**
 * How the router served a row: which version, and why.
 *
 * @param model logical model name
 * @param version the version that scored the row
 * @param experiment experiment key, empty unless the row was in an experiment
 * @param variant variant key, empty unless the row was in an experiment
 * @param reason why this version: PINNED, EXPERIMENT, ROLLOUT, DEFAULT, or FALLBACK (the version the
 *     request resolved to was READY on no replica)
 * @param replica address of the model-server replica that answered
 */
public record Served(
        String model, String version, String experiment, String variant, RoutingReason reason, String replica) {
    /**
     * Validates the components.
     *
     * @param model the model, not null
     * @param version the version, not null
     * @param experiment the experiment key, not null
     * @param variant the variant key, not null
     * @param reason the reason, not null
     * @param replica the replica, not null
     */
    public Served {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(experiment, "experiment is null");
        requireNonNull(variant, "variant is null");
        requireNonNull(reason, "reason is null");
        requireNonNull(replica, "replica is null");
    }

    /**
     * Converts the wire form.
     *
     * @param served the protobuf message
     * @return the record
     */
    public static Served fromProto(dev.trellis.api.v1.Served served) {
        RoutingReason reason = served.getReason() == RoutingReason.UNRECOGNIZED
                ? RoutingReason.ROUTING_REASON_UNSPECIFIED
                : served.getReason();
        return new Served(
                served.getModel(),
                served.getVersion(),
                served.getExperiment(),
                served.getVariant(),
                reason,
                served.getReplica());
    }
}
