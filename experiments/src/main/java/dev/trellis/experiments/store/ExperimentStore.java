package dev.trellis.experiments.store;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.experiments.rollout.PublishedWindow;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Durable state of the experiments module: definitions with revisions and history, default
 * versions, versions kept by operators, the exposure/outcome log, and what several routers sharing
 * one store coordinate through (change notifications, the rollout leader lease, published rollout
 * windows). Implementations are thread-safe: {@link SqliteExperimentStore} (one file, one router)
 * and {@link PostgresExperimentStore} (many routers).
 *
 * <p>Definition writes are compare-and-set on the revision inside one transaction
 * ({@link Revisions#check}): of two writers with the same expected revision, in one process or in
 * two routers, exactly one wins, the other gets {@link dev.trellis.experiments.ErrorCode#STALE_REVISION}.
 * The store assigns the new revision ({@code expectedRevision + 1}) and the output-only timestamps.
 *
 * <p>Exposures and outcomes are queued and written in batches off the caller's thread by one
 * {@link EventWriter}; {@link #recordOutcome} returns a future completed once the outcome is
 * committed, {@link #flush()} returns once everything queued before it is. Failures are
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

    /**
     * Deletes an experiment and its revision history, compare-and-set on the revision: NOT_FOUND
     * when the key does not exist, STALE_REVISION when its revision is not {@code expectedRevision}.
     * Whether the experiment may be deleted at all (only DRAFTs) is the caller's rule.
     */
    void deleteExperiment(String key, long expectedRevision);

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

    /**
     * Calls the listener (on a store thread) after definitions changed, by this or any other
     * router sharing the store: PostgreSQL notifies within milliseconds, and both stores also
     * poll a change counter as the fallback.
     */
    void onChange(Runnable listener);

    /** Versions kept loaded by an operator, ordered by model, then version. */
    List<KeptVersion> keptVersions();

    /** Keeps a version loaded; keeping it again only updates actor and time. */
    void keepVersion(String model, String version, String actor);

    /** Undoes {@link #keepVersion}; false when the version was not kept. */
    boolean releaseVersion(String model, String version);

    /** Queues an exposure for a batched write; blocks only when the queue is full (bounded wait). */
    void recordExposure(Exposure exposure);

    /**
     * Queues an outcome for a batched write and returns a future completed once it is committed
     * (or completed exceptionally with STORE_FAILURE when it was not).
     */
    CompletableFuture<Void> recordOutcome(Outcome outcome);

    /**
     * Queues a payload sample for a batched write, through the same bounded writer as exposures
     * (dropped and counted in {@link #droppedCount()} when the queue stays full).
     */
    void recordPayloadSample(PayloadSample sample);

    /**
     * Up to {@code limit} payload samples matching {@code query} with an id above {@code afterId}, in
     * id (storage) order, each with its unit's outcomes of the query's metric summed.
     */
    List<StoredPayload> payloadSamples(PayloadQuery query, long afterId, int limit);

    /** Waits until everything queued before this call is durable. */
    void flush();

    /** Exposures, outcomes and payload samples that could not be queued or written (each one logged). */
    long droppedCount();

    /** Exposures and outcomes accepted but not yet committed: what a crash right now would lose. */
    long pendingCount();

    /** False while the database cannot be reached (writes fail with STORE_FAILURE, events are buffered). */
    boolean available();

    /**
     * Unit-level aggregates per variant of an experiment for a metric. Variants without exposed
     * units are absent from the map.
     */
    Map<String, VariantStats> variantStats(String experiment, String metric);

    /**
     * Deletes exposures and outcomes recorded before the cutoff, except those of RUNNING
     * experiments (see the README's retention rule). The stores also run it in the background
     * when opened with a retention.
     */
    void deleteRecordedBefore(Instant cutoff);

    /**
     * Whether this store instance holds the rollout leader lease, taking it when it is free. At
     * most one router sharing a store holds it; when its holder dies another one takes it over.
     */
    boolean tryAcquireLeadership();

    /** Replaces this router's published windows (one per model, version and source). */
    void publishWindows(List<PublishedWindow> windows);

    /** Every router's published windows of a model for one step. */
    List<PublishedWindow> windows(String model, String step);

    /** Flushes and releases resources. Safe to call twice. */
    @Override
    void close();
}
