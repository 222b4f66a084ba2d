package dev.trellis.router.routing;

import static java.util.Objects.requireNonNull;

import dev.trellis.experiments.assignment.RoutingDecision;
import dev.trellis.router.upstream.FeatureSchema;

/**
 * Where one row goes: the concrete version (a DEFAULT decision without a configured default is
 * resolved to the highest ready version), the decision behind it, and that version's schema.
 */
public record RoutedRow(String version, RoutingDecision decision, FeatureSchema schema) {
    public RoutedRow {
        requireNonNull(version, "version is null");
        requireNonNull(decision, "decision is null");
        requireNonNull(schema, "schema is null");
    }
}
