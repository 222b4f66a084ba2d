package dev.trellis.experiments.store;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Durable state of the experiments module: definitions with revisions and history, default
 * versions, versions kept by operators, and the exposure/outcome log. Implementations are thread-safe. Nothing here is
 * specific to SQLite, so that a PostgreSQL store can back several routers later.
 *
 * <p>Definition writes are compare-and-set on the revision inside one transaction: of two writers
 * with the same expected revision exactly one wins, the other gets
 * {@link dev.trellis.experiments.ErrorCode#STALE_REVISION}. The store assigns the new revision
 * ({@code expectedRevision + 1}) and the output-only timestamps.
 *
 * <p>Exposures and outcomes are queued and written in batches off the caller's thread;
 * {@link #flush()} returns once everything queued before it is durable. Failures are
 * {@link dev.trellis.experiments.ExperimentsException}s with code STORE_FAILURE.
 */
public interface ExperimentStore extends AutoCloseable {

    /** Every experiment, ordered by model, then key. */
    List<Experiment> listExperiments();

    Optional<Experiment> getExperiment(String key);

    /** Revisions of one experiment, oldest first; empty when unknown. */
    List<Revision> experimentHistory(String key);

    /**
     * Stores a new revision of an experiment.
     *
     * @param expectedRevision the revision the caller read; 0 to create (ALREADY_EXISTS if present)
     * @param action recorded in the history: CREATED, UPDATED, STOPPED
     * @return the stored definition with revision, created, updated and updated_by set
     */
    Experiment putExperiment(Experiment experiment, long expectedRevision, String actor, String action);

    /** The model's current or last rollout. */
    Optional<Rollout> getRollout(String model);

    /** Every model's current or last rollout, ordered by model. */
    List<Rollout> listRollouts();

    /** Revisions of one model's rollouts, oldest first. */
    List<Revision> rolloutHistory(String model);

    /**
     * Stores a new revision of the model's rollout (one row per model: a new rollout replaces the
     * finished previous one, whose revisions remain in the history).
     *
     * @param expectedRevision the revision the caller read; 0 when the model has no rollout yet
     * @param newDefaultVersion when present, set as the model's default version in the same transaction
     */
    Rollout putRollout(
            Rollout rollout, long expectedRevision, String actor, String action, Optional<String> newDefaultVersion);

    Optional<String> getDefaultVersion(String model);

    /** model → default version. */
    Map<String, String> defaultVersions();

    void setDefaultVersion(String model, String version, String actor);

    /** Versions kept loaded by an operator, ordered by model, then version. */
    List<KeptVersion> keptVersions();

    /** Keeps a version loaded; keeping it again only updates actor and time. */
    void keepVersion(String model, String version, String actor);

    /** Undoes {@link #keepVersion}; false when the version was not kept. */
    boolean releaseVersion(String model, String version);

    /** Queues an exposure for a batched write; blocks only when the queue is full (bounded wait). */
    void recordExposure(Exposure exposure);

    /** Queues an outcome for a batched write; blocks only when the queue is full (bounded wait). */
    void recordOutcome(Outcome outcome);

    /** Waits until everything queued before this call is durable. */
    void flush();

    /** Exposures and outcomes that could not be queued or written (each one logged). */
    long droppedCount();

    /**
     * Unit-level aggregates per variant of an experiment for a metric. Variants without exposed
     * units are absent from the map.
     */
    Map<String, VariantStats> variantStats(String experiment, String metric);

    /** Flushes and releases resources. Safe to call twice. */
    @Override
    void close();
}
