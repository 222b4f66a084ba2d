package dev.trellis.router.routing;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.ExplainAssignmentResponse;
import dev.trellis.api.v1.RoutingReason;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.assignment.ModelRoutingState;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.assignment.RoutingDecision;
import dev.trellis.experiments.assignment.RoutingRequest;
import dev.trellis.router.errors.RouterErrorCode;
import dev.trellis.router.errors.RouterException;
import dev.trellis.router.upstream.CatalogSnapshot;
import dev.trellis.router.upstream.ModelCatalog;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The routing decision of DESIGN §5 for one request, checked against what the replicas serve:
 * the model must be known (NOT_FOUND), a pinned version must be ready somewhere (NOT_FOUND), and
 * a version chosen by an experiment, rollout or default that no replica serves is an outage of
 * that version (UNAVAILABLE), not the caller's mistake. The experiments' routing state is an
 * in-memory snapshot (no store read per request). Thread-safe.
 */
public final class RoutingService {
    private final RoutingDecider decider;
    private final ExperimentManager states;
    private final ModelCatalog catalog;

    @Inject
    public RoutingService(RoutingDecider decider, ExperimentManager states, ModelCatalog catalog) {
        this.decider = requireNonNull(decider, "decider is null");
        this.states = requireNonNull(states, "states is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
    }

    /** The model as the replicas serve it; NOT_FOUND when no replica knows it. */
    public CatalogSnapshot.Model model(String model) {
        if (model.isEmpty()) {
            throw new RouterException(
                    RouterErrorCode.INVALID_REQUEST,
                    "model is required",
                    List.of(new RouterException.Violation("model", "must not be empty")));
        }
        Optional<CatalogSnapshot.Model> known = catalog.snapshot().model(model);
        if (known.isEmpty() || known.get().highestReady().isEmpty()) {
            known = catalog.refreshOnDemand().model(model);
        }
        return known.orElseThrow(() -> new RouterException(
                RouterErrorCode.UNKNOWN_MODEL, "model " + model + " is not served by any replica" + knownModels()));
    }

    private String knownModels() {
        List<String> names =
                catalog.snapshot().models().keySet().stream().sorted().toList();
        return names.isEmpty() ? " (no replica reports any model)" : " (known: " + String.join(", ", names) + ")";
    }

    /** Routes one row of a known model. */
    public RoutedRow route(
            CatalogSnapshot.Model model, String unitId, Map<String, String> attributes, String pinnedVersion) {
        ModelRoutingState state = states.routingState(model.name());
        RoutingDecision decision =
                decider.decide(new RoutingRequest(model.name(), unitId, attributes, pinnedVersion), state);
        return resolve(model, decision);
    }

    /** The decision with its reasoning, on the same state the scoring path uses. */
    public ExplainAssignmentResponse explain(
            String model, String unitId, Map<String, String> attributes, String pinnedVersion) {
        CatalogSnapshot.Model known = model(model);
        ExplainAssignmentResponse response = decider.explain(
                new RoutingRequest(model, unitId, attributes, pinnedVersion), states.routingState(model));
        if (response.getReason() == RoutingReason.DEFAULT
                && response.getVersion().isEmpty()) {
            String highest =
                    known.highestReady().map(CatalogSnapshot.Version::version).orElse("");
            return response.toBuilder().setVersion(highest).build();
        }
        return response;
    }

    private RoutedRow resolve(CatalogSnapshot.Model model, RoutingDecision decision) {
        if (decision.version().isEmpty()) {
            CatalogSnapshot.Version highest = model.highestReady()
                    .orElseThrow(() -> new RouterException(
                            RouterErrorCode.NO_REPLICA,
                            "model " + model.name() + " has no version ready on any replica"));
            return new RoutedRow(highest.version(), decision, highest.schema().orElseThrow());
        }
        Optional<CatalogSnapshot.Version> version =
                model.version(decision.version()).filter(CatalogSnapshot.Version::servable);
        if (version.isEmpty()) {
            version = catalog.refreshOnDemand()
                    .model(model.name())
                    .flatMap(m -> m.version(decision.version()))
                    .filter(CatalogSnapshot.Version::servable);
        }
        if (version.isEmpty()) {
            String ready = String.join(
                    ", ",
                    model.versionsDescending().stream()
                            .filter(CatalogSnapshot.Version::servable)
                            .map(CatalogSnapshot.Version::version)
                            .toList());
            String message = "version " + decision.version() + " of model " + model.name()
                    + " is not ready on any replica (ready: " + (ready.isEmpty() ? "none" : ready) + ")";
            if (decision.reason() == RoutingReason.PINNED) {
                throw new RouterException(RouterErrorCode.UNKNOWN_VERSION, message);
            }
            throw new RoutingUnavailableException(decision, message);
        }
        return new RoutedRow(
                version.get().version(), decision, version.get().schema().orElseThrow());
    }

    /** A routed (not pinned) version no replica serves; the rollout controller counts it as an error of that version. */
    public static final class RoutingUnavailableException extends RuntimeException {
        private final RoutingDecision decision;

        RoutingUnavailableException(RoutingDecision decision, String message) {
            super(message, null, false, false);
            this.decision = decision;
        }

        public RoutingDecision decision() {
            return decision;
        }

        public RouterException toRouterException() {
            return new RouterException(RouterErrorCode.NO_REPLICA, getMessage());
        }
    }
}
