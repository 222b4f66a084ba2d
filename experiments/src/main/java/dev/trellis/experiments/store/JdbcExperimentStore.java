package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.rollout.PublishedWindow;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What both stores share: the definitions ({@link DefinitionTables}), the event writer and tables
 * ({@link EventWriter}, {@link EventTables}), the rollout windows ({@link WindowTables}), change
 * polling and background retention. A subclass supplies the connections, the dialect, the lease,
 * and releases its resources. Thread-safe.
 */
public abstract class JdbcExperimentStore implements ExperimentStore {
    private static final Logger log = LoggerFactory.getLogger(JdbcExperimentStore.class);
    static final int MAX_BATCH = 5_000;
    /** How long an acknowledged outcome's caller may wait for room in the queue. */
    static final Duration MAX_DURABLE_BLOCK = Duration.ofSeconds(5);
    /** Published rollout windows nobody updated for this long are deleted. */
    static final Duration WINDOW_RETENTION = Duration.ofDays(1);

    private final Clock clock;
    private final StoreOptions options;
    private final DefinitionTables definitions;
    private final EventTables events;
    private final PayloadTables payloads;
    private final WindowTables windows;
    private final EventWriter writer;
    private final ScheduledExecutorService background;
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long seenChangeVersion;
    private volatile boolean pollOk = true;

    JdbcExperimentStore(
            String name,
            Clock clock,
            StoreOptions options,
            Dialect dialect,
            Transactor definitionsTx,
            Transactor readsTx,
            Transactor eventsTx) {
        this.clock = requireNonNull(clock, "clock is null");
        this.options = requireNonNull(options, "options is null");
        this.definitions = new DefinitionTables(definitionsTx, dialect, clock);
        this.events = new EventTables(eventsTx, readsTx);
        this.payloads = new PayloadTables(readsTx);
        this.windows = new WindowTables(definitionsTx, clock);
        this.seenChangeVersion = definitions.changeVersion();
        this.writer = new EventWriter(
                name + "-writer",
                events,
                dialect,
                options.queueCapacity(),
                options.maxBlock(),
                MAX_DURABLE_BLOCK,
                MAX_BATCH);
        this.background = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name + "-background");
            t.setDaemon(true);
            return t;
        });
        long poll = options.pollInterval().toMillis();
        background.scheduleWithFixedDelay(this::pollChanges, poll, poll, TimeUnit.MILLISECONDS);
        if (options.retention().isPresent()) {
            long every = options.retentionInterval().toMillis();
            background.scheduleWithFixedDelay(
                    this::retentionQuietly, Math.min(every, 60_000), every, TimeUnit.MILLISECONDS);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Definitions
    // ---------------------------------------------------------------------------------------------

    @Override
    public List<Experiment> listExperiments() {
        checkOpen();
        return definitions.listExperiments();
    }

    @Override
    public Optional<Experiment> getExperiment(String key) {
        requireNonNull(key, "key is null");
        checkOpen();
        return definitions.getExperiment(key);
    }

    @Override
    public List<Revision> experimentHistory(String key) {
        requireNonNull(key, "key is null");
        checkOpen();
        return definitions.experimentHistory(key);
    }

    @Override
    public Experiment putExperiment(Experiment experiment, long expectedRevision, String actor, String action) {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(actor, "actor is null");
        requireNonNull(action, "action is null");
        checkOpen();
        return definitions.putExperiment(experiment, expectedRevision, actor, action);
    }

    @Override
    public void deleteExperiment(String key, long expectedRevision) {
        requireNonNull(key, "key is null");
        checkOpen();
        definitions.deleteExperiment(key, expectedRevision);
    }

    @Override
    public Optional<Rollout> getRollout(String model) {
        requireNonNull(model, "model is null");
        checkOpen();
        return definitions.getRollout(model);
    }

    @Override
    public List<Rollout> listRollouts() {
        checkOpen();
        return definitions.listRollouts();
    }

    @Override
    public List<Revision> rolloutHistory(String model) {
        requireNonNull(model, "model is null");
        checkOpen();
        return definitions.rolloutHistory(model);
    }

    @Override
    public Rollout putRollout(
            Rollout rollout, long expectedRevision, String actor, String action, Optional<String> newDefaultVersion) {
        requireNonNull(rollout, "rollout is null");
        requireNonNull(actor, "actor is null");
        requireNonNull(action, "action is null");
        requireNonNull(newDefaultVersion, "newDefaultVersion is null");
        checkOpen();
        return definitions.putRollout(rollout, expectedRevision, actor, action, newDefaultVersion);
    }

    @Override
    public Optional<String> getDefaultVersion(String model) {
        requireNonNull(model, "model is null");
        checkOpen();
        return definitions.getDefaultVersion(model);
    }

    @Override
    public Map<String, String> defaultVersions() {
        checkOpen();
        return definitions.defaultVersions();
    }

    @Override
    public void setDefaultVersion(String model, String version, String actor) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(actor, "actor is null");
        checkOpen();
        definitions.setDefaultVersion(model, version, actor);
    }

    @Override
    public List<KeptVersion> keptVersions() {
        checkOpen();
        return definitions.keptVersions();
    }

    @Override
    public void keepVersion(String model, String version, String actor) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(actor, "actor is null");
        checkOpen();
        definitions.keepVersion(model, version, actor);
    }

    @Override
    public boolean releaseVersion(String model, String version) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        checkOpen();
        return definitions.releaseVersion(model, version);
    }

    // ---------------------------------------------------------------------------------------------
    // Changes by other routers
    // ---------------------------------------------------------------------------------------------

    @Override
    public void onChange(Runnable listener) {
        listeners.add(requireNonNull(listener, "listener is null"));
    }

    /** Tells the listeners that definitions changed (subclasses call it on a notification). */
    final void fireChanged() {
        for (Runnable listener : listeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                log.warn("change listener failed: {}", e.toString());
            }
        }
    }

    private void pollChanges() {
        if (closed.get()) {
            return;
        }
        try {
            long version = definitions.changeVersion();
            if (!pollOk) {
                log.warn("the experiment store is reachable again");
            }
            pollOk = true;
            if (version != seenChangeVersion) {
                seenChangeVersion = version;
                fireChanged();
            }
        } catch (RuntimeException e) {
            if (pollOk) {
                log.error("the experiment store is unreachable: {}", e.getMessage());
            }
            pollOk = false;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    @Override
    public void recordExposure(Exposure exposure) {
        writer.record(requireNonNull(exposure, "exposure is null"));
    }

    @Override
    public CompletableFuture<Void> recordOutcome(Outcome outcome) {
        return writer.recordDurably(requireNonNull(outcome, "outcome is null"));
    }

    @Override
    public void recordPayloadSample(PayloadSample sample) {
        writer.record(requireNonNull(sample, "sample is null"));
    }

    @Override
    public List<StoredPayload> payloadSamples(PayloadQuery query, long afterId, int limit) {
        requireNonNull(query, "query is null");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
        checkOpen();
        return payloads.read(query, afterId, limit);
    }

    @Override
    public void flush() {
        writer.flush();
    }

    @Override
    public long droppedCount() {
        return writer.droppedCount();
    }

    @Override
    public long pendingCount() {
        return writer.pendingCount();
    }

    /** Records committed since open. */
    public long writtenCount() {
        return writer.writtenCount();
    }

    @Override
    public boolean available() {
        return !closed.get() && pollOk && writer.healthy();
    }

    @Override
    public Map<String, VariantStats> variantStats(String experiment, String metric) {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(metric, "metric is null");
        checkOpen();
        return events.variantStats(experiment, metric);
    }

    @Override
    public void deleteRecordedBefore(Instant cutoff) {
        requireNonNull(cutoff, "cutoff is null");
        checkOpen();
        EventTables.RetentionResult result = events.deleteBefore(cutoff.toEpochMilli());
        windows.deleteBefore(clock.millis() - WINDOW_RETENTION.toMillis());
        if (result.exposures() + result.outcomes() > 0) {
            log.info(
                    "retention: deleted {} exposures and {} outcomes recorded before {}",
                    result.exposures(),
                    result.outcomes(),
                    cutoff);
        }
    }

    private void retentionQuietly() {
        try {
            deleteRecordedBefore(clock.instant().minus(options.retention().orElseThrow()));
        } catch (RuntimeException e) {
            log.warn("retention pass failed: {}", e.getMessage());
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Rollout windows
    // ---------------------------------------------------------------------------------------------

    @Override
    public void publishWindows(List<PublishedWindow> published) {
        requireNonNull(published, "published is null");
        checkOpen();
        windows.publish(published);
    }

    @Override
    public List<PublishedWindow> windows(String model, String step) {
        requireNonNull(model, "model is null");
        requireNonNull(step, "step is null");
        checkOpen();
        return windows.windows(model, step);
    }

    // ---------------------------------------------------------------------------------------------
    // Lifecycle
    // ---------------------------------------------------------------------------------------------

    private void checkOpen() {
        if (closed.get()) {
            throw new ExperimentsException(ErrorCode.STORE_FAILURE, "experiments store is closed");
        }
    }

    /** Releases the subclass's connections; called once, after the writer stopped. */
    abstract void closeResources();

    @Override
    public final void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        background.shutdownNow();
        writer.close();
        closeResources();
    }

    /**
     * Simulates a crash: stops the writer and closes the connections without writing what is
     * queued. Only what was acknowledged (committed) is guaranteed to be in the database.
     */
    void abandonForTest() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        background.shutdownNow();
        writer.abandon();
        closeResources();
    }
}
