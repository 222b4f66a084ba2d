package dev.trellis.experiments.assignment;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * What the router knows about one request when it picks a version.
 *
 * @param model logical model name
 * @param unitId randomization unit, or null: such requests are never put in an experiment
 * @param attributes targeting attributes (null is read as empty)
 * @param pinnedVersion a version pinned by the request, or null/empty
 */
public record RoutingRequest(String model, String unitId, Map<String, String> attributes, String pinnedVersion) {
    public RoutingRequest {
        requireNonNull(model, "model is null");
        attributes = attributes == null ? Map.of() : attributes;
    }

    public boolean hasUnitId() {
        return unitId != null && !unitId.isEmpty();
    }

    public boolean hasPinnedVersion() {
        return pinnedVersion != null && !pinnedVersion.isEmpty();
    }
}
