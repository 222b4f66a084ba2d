package dev.trellis.router.routing;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.RoutingReason;
import dev.trellis.experiments.assignment.RoutingDecision;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.FeatureSchema;

/**
 * Where one row goes: the concrete version that serves it (as the catalog knows it: replicas and
 * schema), the decision behind it, and the reason reported in {@code served}: the decision's, or
 * FALLBACK when the decided version is READY on no replica and {@code served} is another one.
 */
public record RoutedRow(CatalogSnapshot.Version served, RoutingDecision decision, RoutingReason reason) {
    public RoutedRow {
        requireNonNull(served, "served is null");
        requireNonNull(decision, "decision is null");
        requireNonNull(reason, "reason is null");
        if (served.schema().isEmpty()) {
            throw new IllegalArgumentException("version " + served.version() + " has no known schema");
        }
    }

    /** The version that serves the row. */
    public String version() {
        return served.version();
    }

    public FeatureSchema schema() {
        return served.schema().orElseThrow();
    }

    public boolean fallback() {
        return reason == RoutingReason.FALLBACK;
    }

    /** An experiment row served its arm's version: only then is an exposure logged. */
    public boolean exposed() {
        return decision.isExperiment() && !fallback();
    }
}
