package dev.trellis.experiments;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.ExperimentStatus;
import dev.trellis.api.v1.GetResultsResponse;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.experiments.assignment.ModelRoutingState;
import dev.trellis.experiments.assignment.RoutingDecider;
import dev.trellis.experiments.definition.DefinitionValidator;
import dev.trellis.experiments.rollout.RolloutManager;
import dev.trellis.experiments.stats.ResultsCalculator;
import dev.trellis.experiments.store.ExperimentStore;
import dev.trellis.experiments.store.Exposure;
import dev.trellis.experiments.store.KeptVersion;
import dev.trellis.experiments.store.Outcome;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the router calls: experiment definitions (validated, revisioned), the routing snapshot
 * per model, exposure and outcome logging, results, default and kept versions, and (through
 * {@link #rollouts()}) canary rollouts. Thread-safe.
 *
 * <p>{@link #routingState} is served from an immutable in-memory snapshot, replaced after every
 * change made through this manager (or its rollout manager) and on {@link #refresh()}; the hot
 * path is one map lookup. Changes are serialized by a private lock; the store's revision check
 * protects against writers in other processes.
 */
public final class ExperimentManager {
    /** Remembered (experiment, unit) pairs; beyond this the memory is cleared and starts over. */
    static final int EXPOSURE_DEDUPE_CAPACITY = 500_000;

    private final ExperimentStore store;
    private final Clock clock;
    private final DefinitionValidator validator;
    private final ResultsCalculator calculator = new ResultsCalculator();
    private final RolloutManager rollouts;
    private final Object writeLock = new Object();
    private final Set<String> exposed = ConcurrentHashMap.newKeySet();
    private volatile Map<String, ModelRoutingState> snapshot = Map.of();
    private volatile List<KeptVersion> kept = List.of();

    public ExperimentManager(ExperimentStore store, Clock clock, DefinitionValidator validator) {
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.validator = requireNonNull(validator, "validator is null");
        this.rollouts = new RolloutManager(store, clock, validator, model -> refresh());
        refresh();
    }

    /** The rollout manager over the same store; its changes refresh this manager's snapshot. */
    public RolloutManager rollouts() {
        return rollouts;
    }

    public Clock clock() {
        return clock;
    }

    /**
     * Creates or updates an experiment. Output-only fields of the argument are ignored.
     *
     * @param expectedRevision the revision the caller read; 0 to create
     * @param knownVersions versions of the model that exist; empty skips that check
     * @param validateOnly validate and return the definition as it would be stored, store nothing
     */
    public Experiment put(
            Experiment experiment,
            long expectedRevision,
            String actor,
            Set<String> knownVersions,
            boolean validateOnly) {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(actor, "actor is null");
        requireNonNull(knownVersions, "knownVersions is null");
        Experiment candidate = experiment.toBuilder()
                .clearRevision()
                .clearCreated()
                .clearUpdated()
                .clearUpdatedBy()
                .build();
        synchronized (writeLock) {
            Optional<Experiment> current =
                    candidate.getKey().isEmpty() ? Optional.empty() : store.getExperiment(candidate.getKey());
            checkRevision(candidate.getKey(), current, expectedRevision);
            validator.validateExperiment(candidate, current, othersOfModel(candidate), knownVersions);
            if (validateOnly) {
                return candidate.toBuilder().setRevision(expectedRevision).build();
            }
            String action = current.isEmpty()
                    ? "CREATED"
                    : candidate.getStatus() == ExperimentStatus.STOPPED ? "STOPPED" : "UPDATED";
            Experiment stored = store.putExperiment(candidate, expectedRevision, actor, action);
            refresh();
            return stored;
        }
    }

    /**
     * Concludes a RUNNING experiment.
     *
     * @param winner winning variant key, or null/empty
     * @param expectedRevision the revision the caller read; 0 skips the check
     */
    public Experiment stop(String key, String winner, long expectedRevision, String actor) {
        requireNonNull(key, "key is null");
        requireNonNull(actor, "actor is null");
        synchronized (writeLock) {
            Experiment current = require(key);
            long expected = expectedRevision == 0 ? current.getRevision() : expectedRevision;
            checkRevision(key, Optional.of(current), expected);
            Experiment candidate = current.toBuilder()
                    .setStatus(ExperimentStatus.STOPPED)
                    .setWinner(winner == null ? "" : winner)
                    .clearRevision()
                    .clearCreated()
                    .clearUpdated()
                    .clearUpdatedBy()
                    .build();
            validator.validateExperiment(candidate, Optional.of(current), othersOfModel(candidate), Set.of());
            Experiment stored = store.putExperiment(candidate, expected, actor, "STOPPED");
            refresh();
            return stored;
        }
    }

    /** Experiments ordered by model, then key; null filters match everything. */
    public List<Experiment> list(String model, ExperimentStatus status) {
        boolean anyStatus = status == null || status == ExperimentStatus.EXPERIMENT_STATUS_UNSPECIFIED;
        return store.listExperiments().stream()
                .filter(e -> model == null || model.isEmpty() || e.getModel().equals(model))
                .filter(e -> anyStatus || e.getStatus() == status)
                .toList();
    }

    public Optional<Experiment> get(String key) {
        return store.getExperiment(requireNonNull(key, "key is null"));
    }

    /** Revisions oldest first. */
    public List<Revision> history(String key) {
        require(key);
        return store.experimentHistory(key);
    }

    /** The routing snapshot of a model; cheap, no I/O. */
    public ModelRoutingState routingState(String model) {
        ModelRoutingState state = snapshot.get(model);
        return state != null ? state : ModelRoutingState.empty(model);
    }

    /** Models that have a default version, a running experiment or an active rollout. */
    public Set<String> routedModels() {
        return new TreeSet<>(snapshot.keySet());
    }

    /** Rebuilds the routing snapshot from the store (e.g. after another router changed it). */
    public void refresh() {
        synchronized (writeLock) {
            Map<String, List<Experiment>> running = new HashMap<>();
            for (Experiment e : store.listExperiments()) { // ordered by model, then key: the evaluation order
                if (e.getStatus() == ExperimentStatus.RUNNING) {
                    running.computeIfAbsent(e.getModel(), m -> new ArrayList<>())
                            .add(e);
                }
            }
            Map<String, Rollout> active = new HashMap<>();
            for (Rollout r : store.listRollouts()) {
                if (RoutingDecider.isActive(r)) {
                    active.put(r.getModel(), r);
                }
            }
            Map<String, String> defaults = store.defaultVersions();
            Set<String> models = new TreeSet<>(running.keySet());
            models.addAll(active.keySet());
            models.addAll(defaults.keySet());
            Map<String, ModelRoutingState> next = new HashMap<>();
            for (String model : models) {
                next.put(
                        model,
                        new ModelRoutingState(
                                model,
                                Optional.ofNullable(defaults.get(model)),
                                running.getOrDefault(model, List.of()),
                                Optional.ofNullable(active.get(model))));
            }
            snapshot = Map.copyOf(next);
            kept = List.copyOf(store.keptVersions());
        }
    }

    /** Versions operators keep loaded, ordered by model and version; from the in-memory snapshot. */
    public List<KeptVersion> keptVersions() {
        return kept;
    }

    /** Keeps a version loaded on the replicas (checking that it exists is the caller's job). */
    public void keepVersion(String model, String version, String actor) {
        requireModelAndVersion(model, version);
        requireNonNull(actor, "actor is null");
        synchronized (writeLock) {
            store.keepVersion(model, version, actor);
            refresh();
        }
    }

    /** Undoes {@link #keepVersion}; false when the version was not kept. */
    public boolean releaseVersion(String model, String version) {
        requireModelAndVersion(model, version);
        synchronized (writeLock) {
            boolean released = store.releaseVersion(model, version);
            refresh();
            return released;
        }
    }

    private static void requireModelAndVersion(String model, String version) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        if (model.isEmpty() || version.isEmpty()) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION,
                    "model and version must not be empty",
                    List.of(new FieldViolation(model.isEmpty() ? "model" : "version", "must not be empty")),
                    null);
        }
    }

    /**
     * Logs an exposure; cheap enough to call per request. Repeats of an (experiment, unit) pair
     * seen recently are not queued again: the analysis only uses the first exposure of a unit.
     */
    public void recordExposure(Exposure exposure) {
        requireNonNull(exposure, "exposure is null");
        String key = exposure.experiment() + '\u0000' + exposure.unitId();
        if (exposed.contains(key)) {
            return;
        }
        if (exposed.size() >= EXPOSURE_DEDUPE_CAPACITY) {
            exposed.clear(); // crude but O(1) amortized; the store deduplicates anyway
        }
        exposed.add(key);
        store.recordExposure(exposure);
    }

    public void recordOutcome(Outcome outcome) {
        store.recordOutcome(requireNonNull(outcome, "outcome is null"));
    }

    /**
     * Results of an experiment for a metric (null or empty: the experiment's metric). Flushes the
     * exposure/outcome queue first, so everything recorded before the call is counted (the wait is
     * bounded by the queue size: about a second at the benchmarked write rate).
     */
    public GetResultsResponse results(String experimentKey, String metric) {
        Experiment experiment = require(experimentKey);
        String m = metric == null || metric.isEmpty() ? experiment.getMetric() : metric;
        if (m.isEmpty()) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION,
                    "experiment '" + experimentKey + "' has no metric; pass one",
                    List.of(new FieldViolation("metric", "must not be empty")),
                    null);
        }
        store.flush();
        return calculator.calculate(experiment, m, store.variantStats(experimentKey, m));
    }

    public Optional<String> defaultVersion(String model) {
        return routingState(requireNonNull(model, "model is null")).defaultVersion();
    }

    public void setDefaultVersion(String model, String version, String actor) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(actor, "actor is null");
        requireModelAndVersion(model, version);
        synchronized (writeLock) {
            store.setDefaultVersion(model, version, actor);
            refresh();
        }
    }

    private List<Experiment> othersOfModel(Experiment candidate) {
        return store.listExperiments().stream()
                .filter(e ->
                        e.getModel().equals(candidate.getModel()) && !e.getKey().equals(candidate.getKey()))
                .toList();
    }

    private Experiment require(String key) {
        requireNonNull(key, "key is null");
        return store.getExperiment(key)
                .orElseThrow(
                        () -> new ExperimentsException(ErrorCode.NOT_FOUND, "experiment '" + key + "' does not exist"));
    }

    private static void checkRevision(String key, Optional<Experiment> current, long expectedRevision) {
        if (expectedRevision < 0) {
            throw new ExperimentsException(
                    ErrorCode.INVALID_DEFINITION,
                    "expected_revision must not be negative",
                    List.of(new FieldViolation("expected_revision", "must not be negative")),
                    null);
        }
        if (expectedRevision == 0 && current.isPresent()) {
            throw new ExperimentsException(
                    ErrorCode.ALREADY_EXISTS,
                    "experiment '" + key + "' already exists at revision "
                            + current.get().getRevision() + "; pass it as expected_revision to update");
        }
        if (expectedRevision > 0 && current.isEmpty()) {
            throw new ExperimentsException(
                    ErrorCode.NOT_FOUND,
                    "experiment '" + key + "' does not exist; use expected_revision 0 to create it");
        }
        if (expectedRevision > 0 && current.get().getRevision() != expectedRevision) {
            throw new ExperimentsException(
                    ErrorCode.STALE_REVISION,
                    "experiment '" + key + "' is at revision " + current.get().getRevision() + ", not the expected "
                            + expectedRevision + "; read it again and retry");
        }
    }
}
