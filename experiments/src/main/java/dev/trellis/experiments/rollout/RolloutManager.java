package dev.trellis.experiments.rollout;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.definition.DefinitionValidator;
import dev.trellis.experiments.store.ExperimentStore;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Runs rollouts through the {@link RolloutStateMachine} and persists every transition in the
 * store, so a new manager over the same store resumes where the old one was (step and
 * step_started included). Thread-safe: changes are serialized by a private lock, and the store's
 * revision check catches a second router changing the same rollout.
 *
 * <p>Promotion makes the candidate the model's default version in the same store transaction.
 * An abort makes the stable version the default when the model has no default or its default is
 * the rejected candidate (e.g. adopted as the highest ready version), so the rejected candidate
 * never keeps traffic.
 */
public final class RolloutManager {
    /** Actor recorded for transitions made by {@link #tick}. */
    public static final String CONTROLLER = "rollout-controller";

    private final ExperimentStore store;
    private final DefinitionValidator validator;
    private final RolloutStateMachine machine;
    private final Consumer<String> onChange;
    private final Object lock = new Object();

    public RolloutManager(ExperimentStore store, Clock clock, DefinitionValidator validator) {
        this(store, clock, validator, model -> {});
    }

    /** @param onChange called with the model after every persisted change (e.g. to refresh routing) */
    public RolloutManager(
            ExperimentStore store, Clock clock, DefinitionValidator validator, Consumer<String> onChange) {
        this.store = requireNonNull(store, "store is null");
        this.validator = requireNonNull(validator, "validator is null");
        this.machine = new RolloutStateMachine(requireNonNull(clock, "clock is null"));
        this.onChange = requireNonNull(onChange, "onChange is null");
    }

    /**
     * Validates the spec, fills in defaults and starts it at its first step.
     *
     * @throws dev.trellis.experiments.definition.ValidationException INVALID_DEFINITION for a bad
     *     spec, ILLEGAL_TRANSITION when the model already has an active rollout
     */
    public Rollout start(Rollout spec, String actor, Set<String> knownVersions) {
        requireNonNull(spec, "spec is null");
        requireNonNull(actor, "actor is null");
        synchronized (lock) {
            Optional<Rollout> current = store.getRollout(spec.getModel());
            validator.validateRollout(spec, current, knownVersions);
            Rollout started = machine.start(spec);
            Rollout stored = store.putRollout(
                    started, current.map(Rollout::getRevision).orElse(0L), actor, "STARTED", Optional.empty());
            onChange.accept(stored.getModel());
            return stored;
        }
    }

    /** The model's current or last rollout. */
    public Optional<Rollout> get(String model) {
        return store.getRollout(requireNonNull(model, "model is null"));
    }

    /** Rollouts that take traffic (PROGRESSING or PAUSED), ordered by model. */
    public List<Rollout> active() {
        return store.listRollouts().stream().filter(RoutingDecider::isActive).toList();
    }

    public Rollout pause(String model, String reason, String actor) {
        return change(model, actor, "PAUSED", r -> machine.pause(r, nullToEmpty(reason)));
    }

    public Rollout resume(String model, String reason, String actor) {
        return change(model, actor, "RESUMED", r -> machine.resume(r, nullToEmpty(reason)));
    }

    public Rollout promote(String model, String reason, String actor) {
        return change(model, actor, "PROMOTED", r -> machine.promote(r, nullToEmpty(reason)));
    }

    public Rollout abort(String model, String reason, String actor) {
        return change(model, actor, "ABORTED", r -> machine.abort(r, nullToEmpty(reason)));
    }

    /**
     * One step of the controller loop with the router's metrics since the current step started.
     * Persists and notifies only when something changed.
     */
    public TickResult tick(String model, VersionWindow candidate, VersionWindow stable) {
        synchronized (lock) {
            Rollout current = require(model);
            TickResult result = machine.tick(current, candidate, stable);
            if (result.rollout().equals(current)) {
                return result;
            }
            Rollout stored = persist(
                    current,
                    result.rollout(),
                    CONTROLLER,
                    result.rollout().getState().name());
            return new TickResult(stored, result.windowReset());
        }
    }

    private Rollout change(String model, String actor, String action, UnaryOperator<Rollout> transition) {
        requireNonNull(actor, "actor is null");
        synchronized (lock) {
            Rollout current = require(model);
            return persist(current, transition.apply(current), actor, action);
        }
    }

    private Rollout persist(Rollout current, Rollout next, String actor, String action) {
        Optional<String> newDefault = Optional.empty();
        if (next.getState() == RolloutState.PROMOTED) {
            newDefault = Optional.of(next.getCandidateVersion());
        } else if (next.getState() == RolloutState.ABORTED
                && store.getDefaultVersion(next.getModel())
                        .map(v -> v.equals(next.getCandidateVersion()))
                        .orElse(true)) {
            newDefault = Optional.of(next.getStableVersion());
        }
        Rollout stored = store.putRollout(next, current.getRevision(), actor, action, newDefault);
        onChange.accept(stored.getModel());
        return stored;
    }

    private Rollout require(String model) {
        requireNonNull(model, "model is null");
        return store.getRollout(model)
                .orElseThrow(
                        () -> new ExperimentsException(ErrorCode.NOT_FOUND, "model '" + model + "' has no rollout"));
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }
}
