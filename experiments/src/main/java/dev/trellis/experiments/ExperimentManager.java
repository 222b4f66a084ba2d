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
import dev.trellis.experiments.store.Revisions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the router calls: experiment definitions (validated, revisioned), the routing snapshot
 * per model, exposure and outcome logging, results, default and kept versions, and (through
 * {@link #rollouts()}) canary rollouts. Thread-safe.
 *
 * <p>{@link #routingState} is served from an immutable in-memory snapshot, replaced after every
 * change made through this manager (or its rollout manager), on {@link #refresh()}, and whenever
 * the store reports a change by another router sharing it; the hot path is one map lookup. When
 * the store cannot be read, the last snapshot keeps serving. Changes are serialized by a private
 * lock; the store's revision check protects against writers in other processes.
 */
public final class ExperimentManager {
    private static final Logger log = LoggerFactory.getLogger(ExperimentManager.class);

    /** Remembered (experiment, unit) pairs; beyond this the memory is cleared and starts over. */
    static final int EXPOSURE_DEDUPE_CAPACITY = 500_000;

    private final ExperimentStore store;
    private final DefinitionValidator validator;
    private final ResultsCalculator calculator = new ResultsCalculator();
    private final RolloutManager rollouts;
    private final Object writeLock = new Object();
    private final Set<String> exposed = ConcurrentHashMap.newKeySet();
    private volatile Map<String, ModelRoutingState> snapshot = Map.of();
    private volatile List<KeptVersion> kept = List.of();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

    public ExperimentManager(ExperimentStore store, Clock clock, DefinitionValidator validator) {
        this.store = requireNonNull(store, "store is null");
        this.validator = requireNonNull(validator, "validator is null");
        this.rollouts =
                new RolloutManager(store, requireNonNull(clock, "clock is null"), validator, model -> refresh());
        refresh();
        store.onChange(this::refreshQuietly);
    }

    private void refreshQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            log.warn("cannot reload definitions from the store ({}); serving the last known ones", e.getMessage());
            return;
        }
        for (Runnable listener : listeners) {
            listener.run();
        }
    }

    /**
     * Calls {@code listener} after the snapshot was reloaded because definitions changed in the store,
     * by this or another router (e.g. so the control plane reconciles without waiting for its next pass).
     */
    public void onStoreChange(Runnable listener) {
        listeners.add(requireNonNull(listener, "listener is null"));
    }

    /** The rollout manager over the same store; its changes refresh this manager's snapshot. */
    public RolloutManager rollouts() {
        return rollouts;
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

    /**
     * Deletes a DRAFT experiment with its history; any other status is ILLEGAL_TRANSITION naming
     * it (a DRAFT never took traffic, so no exposure or result refers to it).
     *
     * @param expectedRevision the revision the caller read; 0 skips the check
     * @return the definition as it was when deleted
     */
    public Experiment delete(String key, long expectedRevision, String actor) {
        requireNonNull(actor, "actor is null");
        synchronized (writeLock) {
            Experiment current = require(key);
            long expected = expectedRevision == 0 ? current.getRevision() : expectedRevision;
            checkRevision(key, Optional.of(current), expected);
            if (current.getStatus() != ExperimentStatus.DRAFT) {
                throw new ExperimentsException(
                        ErrorCode.ILLEGAL_TRANSITION,
                        "experiment '" + key + "' is " + current.getStatus() + "; only a DRAFT can be deleted"
                                + (current.getStatus() == ExperimentStatus.RUNNING ? " (stop it instead)" : ""));
            }
            store.deleteExperiment(key, expected);
            log.info("experiment '{}' (DRAFT, revision {}) deleted by {}", key, expected, actor);
            refresh();
            return current;
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

    /** Queues an outcome; the future completes once it is committed (acknowledge only then). */
    public CompletableFuture<Void> recordOutcome(Outcome outcome) {
        return store.recordOutcome(requireNonNull(outcome, "outcome is null"));
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
        Revisions.check("experiment '" + key + "'", current.map(Experiment::getRevision), expectedRevision);
    }
}
