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
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The routing decision of DESIGN §5 for one request, checked against what the replicas serve:
 *
 * <ul>
 *   <li>the model must be known (NOT_FOUND);
 *   <li>a pinned version must exist somewhere (NOT_FOUND) and be READY somewhere (UNAVAILABLE, naming
 *       the version and each replica's state): a pin never falls back;
 *   <li>a version chosen by an experiment, a rollout or the default that is READY on no replica is
 *       served by the model's best available version instead, reason FALLBACK: the previous default
 *       when it is ready, else the highest ready version (see {@link Fallbacks}). Only when the model
 *       has no ready version at all is the request UNAVAILABLE.
 * </ul>
 *
 * The experiments' routing state is an in-memory snapshot (no store read per request). Thread-safe.
 */
public final class RoutingService {
    private final RoutingDecider decider;
    private final ExperimentManager states;
    private final ModelCatalog catalog;
    private final Fallbacks fallbacks;

    @Inject
    public RoutingService(RoutingDecider decider, ExperimentManager states, ModelCatalog catalog, Fallbacks fallbacks) {
        this.decider = requireNonNull(decider, "decider is null");
        this.states = requireNonNull(states, "states is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.fallbacks = requireNonNull(fallbacks, "fallbacks is null");
    }

    /** The model as the replicas serve it; NOT_FOUND when no replica knows it. May block for a poll. */
    public CatalogSnapshot.Model model(String model) {
        checkName(model);
        Optional<CatalogSnapshot.Model> known = catalog.snapshot().model(model);
        if (known.isEmpty() || known.get().highestReady().isEmpty()) {
            known = catalog.refreshOnDemand().model(model);
        }
        return known.orElseThrow(() -> unknownModel(model));
    }

    /**
     * The model for rows pinned to {@code pins} (the versions rows are pinned to) without blocking, for the
     * scoring path on a transport thread: the current snapshot's when it has a ready version of the
     * model and knows every pinned version, else the snapshot of an on-demand poll, which then runs
     * on the catalog's thread (what {@link #model} and a pinned row would otherwise block for: a
     * model or version loaded since the last poll). The future completes with NOT_FOUND when no
     * replica knows the model.
     *
     * @throws RouterException when the model name is empty
     */
    public CompletableFuture<CatalogSnapshot.Model> modelAsync(String model, Set<String> pins) {
        checkName(model);
        Optional<CatalogSnapshot.Model> known = catalog.snapshot().model(model);
        if (known.isPresent()
                && known.get().highestReady().isPresent()
                && pins.stream().allMatch(pin -> known.get().version(pin).isPresent())) {
            return CompletableFuture.completedFuture(known.get());
        }
        return catalog.refreshOnDemandAsync()
                .thenApply(fresh -> fresh.model(model).orElseThrow(() -> unknownModel(model)));
    }

    private static void checkName(String model) {
        if (model.isEmpty()) {
            throw new RouterException(
                    RouterErrorCode.INVALID_REQUEST,
                    "model is required",
                    List.of(new RouterException.Violation("model", "must not be empty")));
        }
    }

    private RouterException unknownModel(String model) {
        return new RouterException(
                RouterErrorCode.UNKNOWN_MODEL, "model " + model + " is not served by any replica" + knownModels());
    }

    private String knownModels() {
        List<String> names =
                catalog.snapshot().models().keySet().stream().sorted().toList();
        return names.isEmpty() ? " (no replica reports any model)" : " (known: " + String.join(", ", names) + ")";
    }

    /**
     * Routes one row of a model from {@link #modelAsync}, which polled already for a pinned version
     * the catalog had not seen. Never blocks.
     */
    public RoutedRow route(
            CatalogSnapshot.Model model, String unitId, Map<String, String> attributes, String pinnedVersion) {
        ModelRoutingState state = states.routingState(model.name());
        RoutingDecision decision =
                decider.decide(new RoutingRequest(model.name(), unitId, attributes, pinnedVersion), state);
        return resolve(model, decision, true, false);
    }

    /**
     * Routes rows again after their upstream call failed although the catalog said their version was
     * ready on {@code tried}'s replicas: with a snapshot from a poll that started after the failure
     * ({@code failedNanos}), the version may now be READY nowhere (its rows fall back) or on other
     * replicas than the call could reach (a restarted replica that cannot load it any more: its rows
     * go to the ones that still serve it). Empty when nothing changed (the version is ready on the
     * same replicas), so the failure stands. Does not block: the poll runs on the catalog's thread,
     * and the future completes there.
     */
    public CompletableFuture<Optional<CatalogSnapshot.Model>> afterFailure(
            String model, CatalogSnapshot.Version tried, long failedNanos) {
        return catalog.refreshIfOlderThanAsync(failedNanos)
                .thenApply(fresh -> fresh.model(model)
                        .filter(m -> m.servable(tried.version())
                                .map(now -> !now.readyReplicas().equals(tried.readyReplicas()))
                                .orElse(true)));
    }

    /** The decision with its reasoning, on the same state and resolution the scoring path uses. */
    public ExplainAssignmentResponse explain(
            String model, String unitId, Map<String, String> attributes, String pinnedVersion) {
        CatalogSnapshot.Model known = model(model);
        RoutingRequest request = new RoutingRequest(model, unitId, attributes, pinnedVersion);
        ModelRoutingState state = states.routingState(model);
        ExplainAssignmentResponse response = decider.explain(request, state);
        RoutedRow routed = resolve(known, decider.decide(request, state), false, true);
        if (routed.fallback()) {
            return response.toBuilder()
                    .setVersion(routed.version())
                    .setReason(RoutingReason.FALLBACK)
                    .setSummary(response.getSummary() + " -> version "
                            + routed.decision().version() + " is READY on no replica: FALLBACK to version "
                            + routed.version())
                    .build();
        }
        if (response.getReason() == RoutingReason.DEFAULT
                && response.getVersion().isEmpty()) {
            return response.toBuilder().setVersion(routed.version()).build();
        }
        return response;
    }

    /**
     * The version a decision resolves to on {@code model}: itself when ready, else a fallback.
     * Never blocks (no catalog poll), so it may run on any thread.
     */
    public RoutedRow resolve(CatalogSnapshot.Model model, RoutingDecision decision) {
        return resolve(model, decision, true, false);
    }

    /**
     * @param servesARow whether a row is served this way (ExplainAssignment only asks)
     * @param mayPoll whether a pinned version the catalog has never seen may trigger an on-demand poll (blocking)
     */
    private RoutedRow resolve(
            CatalogSnapshot.Model model, RoutingDecision decision, boolean servesARow, boolean mayPoll) {
        if (decision.version().isEmpty()) {
            // no default set yet (the control plane adopts one at its next pass): the highest ready version
            CatalogSnapshot.Version highest = model.highestReady()
                    .orElseThrow(() -> new RouterException(
                            RouterErrorCode.NO_REPLICA,
                            "model " + model.name() + " has no version ready on any replica"));
            return new RoutedRow(highest, decision, decision.reason());
        }
        Optional<CatalogSnapshot.Version> version = model.servable(decision.version());
        if (version.isEmpty()
                && mayPoll
                && decision.reason() == RoutingReason.PINNED
                && model.version(decision.version()).isEmpty()) {
            // a pinned version the last poll did not see at all: perhaps it loaded since. (A routed one was
            // READY when its definition was accepted; if it is gone, that is an outage: no poll per request.)
            version = catalog.refreshOnDemand().model(model.name()).flatMap(m -> m.servable(decision.version()));
        }
        if (version.isPresent()) {
            fallbacks.servedAsDecided(model.name(), decision);
            return new RoutedRow(version.get(), decision, decision.reason());
        }
        Optional<CatalogSnapshot.Version> known = model.version(decision.version());
        String why = known.map(CatalogSnapshot.Version::whyNotReady).orElse("not in any replica's repository");
        if (decision.reason() == RoutingReason.PINNED) {
            if (known.isEmpty() || !known.get().inAnyRepository()) {
                throw new RouterException(
                        RouterErrorCode.UNKNOWN_VERSION,
                        "model " + model.name() + " has no version " + decision.version() + " (versions: "
                                + versions(model) + ")");
            }
            throw new RouterException(
                    RouterErrorCode.NO_REPLICA,
                    "pinned version " + decision.version() + " of model " + model.name() + " is READY on no replica ("
                            + why + "); a pinned version never falls back");
        }
        CatalogSnapshot.Version fallback = fallbacks
                .previousDefault(model.name())
                .filter(previous -> !previous.equals(decision.version()))
                .flatMap(model::servable)
                .or(model::highestReady)
                .orElseThrow(() -> new RouterException(
                        RouterErrorCode.NO_REPLICA,
                        "version " + decision.version() + " of model " + model.name() + " is READY on no replica ("
                                + why + ") and no other version of the model is ready"));
        fallbacks.fellBack(model.name(), decision, fallback.version(), why, servesARow);
        return new RoutedRow(fallback, decision, RoutingReason.FALLBACK);
    }

    private static String versions(CatalogSnapshot.Model model) {
        List<String> versions = model.versionsDescending().stream()
                .map(CatalogSnapshot.Version::version)
                .toList();
        return versions.isEmpty() ? "none" : String.join(", ", versions);
    }
}
