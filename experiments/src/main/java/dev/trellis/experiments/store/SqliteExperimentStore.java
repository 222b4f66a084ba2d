package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import dev.trellis.api.v1.Experiment;
import dev.trellis.api.v1.Revision;
import dev.trellis.api.v1.Rollout;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.definition.Definitions;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.sqlite.SQLiteConfig;

/**
 * The embedded store: one SQLite file in WAL mode. Thread-safe.
 *
 * <p>Three connections, each with one owner: definitions (guarded by a lock, transactions
 * {@code BEGIN IMMEDIATE} so the revision check and the write are one atomic step even against
 * another process on the same file), statistics reads (guarded by another lock, so a long results
 * query never holds up a definition write), and the event connection, used only by the background
 * writer thread that drains the bounded exposure/outcome queue in batches.
 *
 * <p>{@code synchronous=FULL}: every commit is fsynced, so "acknowledged" means durable even
 * across power loss, not only across a process crash as with NORMAL. The cost is one fsync per
 * commit; exposures are committed in batches of up to {@value #MAX_BATCH}, so it is paid per batch
 * and batches grow exactly when load does.
 */
public final class SqliteExperimentStore implements ExperimentStore {
    private static final Logger log = LoggerFactory.getLogger(SqliteExperimentStore.class);

    static final int SCHEMA_VERSION = 1;
    static final int MAX_BATCH = 5_000;
    public static final int DEFAULT_QUEUE_CAPACITY = 100_000;
    public static final Duration DEFAULT_MAX_BLOCK = Duration.ofMillis(200);

    private static final String EXPOSURE_UPSERT = """
            INSERT INTO exposures (experiment, unit_id, variant, version, first_ms, last_ms, requests)
            VALUES (?, ?, ?, ?, ?, ?, 1)
            ON CONFLICT (experiment, unit_id) DO UPDATE SET
              variant = CASE WHEN excluded.first_ms < exposures.first_ms THEN excluded.variant ELSE exposures.variant END,
              version = CASE WHEN excluded.first_ms < exposures.first_ms THEN excluded.version ELSE exposures.version END,
              first_ms = MIN(exposures.first_ms, excluded.first_ms),
              last_ms = MAX(exposures.last_ms, excluded.last_ms),
              requests = exposures.requests + 1
            """;
    private static final String OUTCOME_INSERT =
            "INSERT INTO outcomes (unit_id, metric, value, experiment, time_ms) VALUES (?, ?, ?, ?, ?)";
    private static final String VARIANT_STATS = """
            SELECT x.variant, COUNT(*), SUM(CASE WHEN x.v > 0 THEN 1 ELSE 0 END), SUM(x.v), SUM(x.v * x.v)
            FROM (SELECT e.variant AS variant,
                         COALESCE((SELECT SUM(o.value) FROM outcomes o
                                   WHERE o.unit_id = e.unit_id AND o.metric = ?
                                     AND (o.experiment IS NULL OR o.experiment = e.experiment)), 0) AS v
                  FROM exposures e WHERE e.experiment = ?) x
            GROUP BY x.variant
            """;

    private final Path file;
    private final Clock clock;
    private final Duration maxBlock;

    private final Object definitionsLock = new Object();

    @GuardedBy("definitionsLock")
    private final Connection definitions;

    private final Object readsLock = new Object();

    @GuardedBy("readsLock")
    private final Connection reads;

    private final Connection events; // writer thread only

    private final BlockingQueue<Object> queue;
    private final Thread writer;
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final Object closeLock = new Object();
    private volatile boolean closed;

    private SqliteExperimentStore(Path file, Clock clock, int queueCapacity, Duration maxBlock) throws SQLException {
        this.file = file;
        this.clock = clock;
        this.maxBlock = maxBlock;
        this.definitions = connect(file);
        try {
            migrate(definitions);
            this.reads = connect(file);
            this.events = connect(file);
        } catch (SQLException | RuntimeException e) {
            definitions.close();
            throw e;
        }
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.writer = new Thread(this::writeLoop, "experiments-store-writer");
        this.writer.setDaemon(true);
        this.writer.start();
    }

    /** Opens (creating or migrating) the store file with the default queue settings. */
    public static SqliteExperimentStore open(Path file, Clock clock) {
        return open(file, clock, DEFAULT_QUEUE_CAPACITY, DEFAULT_MAX_BLOCK);
    }

    /**
     * @param queueCapacity exposures and outcomes that may wait for the writer
     * @param maxBlock how long a caller may block on a full queue before the item is counted as dropped
     */
    public static SqliteExperimentStore open(Path file, Clock clock, int queueCapacity, Duration maxBlock) {
        requireNonNull(file, "file is null");
        requireNonNull(clock, "clock is null");
        requireNonNull(maxBlock, "maxBlock is null");
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("queueCapacity must be positive");
        }
        try {
            return new SqliteExperimentStore(file, clock, queueCapacity, maxBlock);
        } catch (SQLException e) {
            throw new ExperimentsException(
                    ErrorCode.STORE_FAILURE, "cannot open experiments store " + file + ": " + e.getMessage(), e);
        }
    }

    private static Connection connect(Path file) throws SQLException {
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        config.setBusyTimeout(10_000);
        // Auto-commit on, transactions begun explicitly: sqlite-jdbc's autoCommit=false mode opens
        // the next transaction right after each commit, which would hold the write lock while idle.
        return config.createConnection("jdbc:sqlite:" + file.toAbsolutePath());
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static void migrate(Connection c) throws SQLException {
        execute(c, "BEGIN IMMEDIATE");
        try {
            migrateInTransaction(c);
            execute(c, "COMMIT");
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(c);
            throw e;
        }
    }

    private static void migrateInTransaction(Connection c) throws SQLException {
        int version;
        try (Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("PRAGMA user_version")) {
            version = rs.next() ? rs.getInt(1) : 0;
        }
        if (version > SCHEMA_VERSION) {
            throw new SQLException("store schema version " + version + " is newer than this build's " + SCHEMA_VERSION);
        }
        try (Statement s = c.createStatement()) {
            if (version < 1) {
                s.executeUpdate("""
                        CREATE TABLE IF NOT EXISTS experiments (
                          key TEXT PRIMARY KEY, model TEXT NOT NULL, status TEXT NOT NULL,
                          revision INTEGER NOT NULL, definition_json TEXT NOT NULL)""");
                s.executeUpdate("CREATE INDEX IF NOT EXISTS experiments_model ON experiments (model, key)");
                s.executeUpdate("""
                        CREATE TABLE IF NOT EXISTS experiment_revisions (
                          key TEXT NOT NULL, revision INTEGER NOT NULL, time_ms INTEGER NOT NULL,
                          actor TEXT NOT NULL, action TEXT NOT NULL, definition_json TEXT NOT NULL,
                          PRIMARY KEY (key, revision))""");
                s.executeUpdate("""
                        CREATE TABLE IF NOT EXISTS rollouts (
                          model TEXT PRIMARY KEY, state TEXT NOT NULL, revision INTEGER NOT NULL,
                          definition_json TEXT NOT NULL)""");
                s.executeUpdate("""
                        CREATE TABLE IF NOT EXISTS rollout_revisions (
                          model TEXT NOT NULL, revision INTEGER NOT NULL, time_ms INTEGER NOT NULL,
                          actor TEXT NOT NULL, action TEXT NOT NULL, definition_json TEXT NOT NULL,
                          PRIMARY KEY (model, revision))""");
                s.executeUpdate("""
                        CREATE TABLE IF NOT EXISTS default_versions (
                          model TEXT PRIMARY KEY, version TEXT NOT NULL, updated_ms INTEGER NOT NULL,
                          updated_by TEXT NOT NULL)""");
                s.executeUpdate("""
                        CREATE TABLE IF NOT EXISTS exposures (
                          experiment TEXT NOT NULL, unit_id TEXT NOT NULL, variant TEXT NOT NULL,
                          version TEXT NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
                          requests INTEGER NOT NULL, PRIMARY KEY (experiment, unit_id)) WITHOUT ROWID""");
                s.executeUpdate("""
                        CREATE TABLE IF NOT EXISTS outcomes (
                          id INTEGER PRIMARY KEY, unit_id TEXT NOT NULL, metric TEXT NOT NULL,
                          value REAL NOT NULL, experiment TEXT, time_ms INTEGER NOT NULL)""");
                s.executeUpdate("CREATE INDEX IF NOT EXISTS outcomes_unit ON outcomes (unit_id, metric)");
            }
            // Later migrations: if (version < 2) { ALTER TABLE ... }
            s.executeUpdate("PRAGMA user_version = " + SCHEMA_VERSION);
        }
        createKeptVersions(c);
    }

    /** Versions kept by operators: an additive table, created on any schema version. */
    private static void createKeptVersions(Connection c) throws SQLException {
        execute(c, """
                CREATE TABLE IF NOT EXISTS kept_versions (
                  model TEXT NOT NULL, version TEXT NOT NULL, updated_ms INTEGER NOT NULL,
                  updated_by TEXT NOT NULL, PRIMARY KEY (model, version))""");
    }

    public Path file() {
        return file;
    }

    // ---------------------------------------------------------------------------------------------
    // Definitions
    // ---------------------------------------------------------------------------------------------

    @Override
    public List<Experiment> listExperiments() {
        return listDefinitions(
                "list experiments",
                "SELECT definition_json FROM experiments ORDER BY model, key",
                SqliteExperimentStore::parseExperiment);
    }

    @Override
    public Optional<Experiment> getExperiment(String key) {
        requireNonNull(key, "key is null");
        return withDefinitions("get experiment", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT definition_json FROM experiments WHERE key = ?")) {
                ps.setString(1, key);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(parseExperiment(rs.getString(1))) : Optional.<Experiment>empty();
                }
            }
        });
    }

    @Override
    public List<Revision> experimentHistory(String key) {
        requireNonNull(key, "key is null");
        return history("experiment_revisions", "key", key);
    }

    @Override
    public Experiment putExperiment(Experiment experiment, long expectedRevision, String actor, String action) {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(actor, "actor is null");
        requireNonNull(action, "action is null");
        String key = experiment.getKey();
        return withDefinitions("put experiment", c -> {
            Optional<Experiment> current;
            try (PreparedStatement ps = c.prepareStatement("SELECT definition_json FROM experiments WHERE key = ?")) {
                ps.setString(1, key);
                try (ResultSet rs = ps.executeQuery()) {
                    current = rs.next() ? Optional.of(parseExperiment(rs.getString(1))) : Optional.empty();
                }
            }
            checkRevision("experiment '" + key + "'", current.map(Experiment::getRevision), expectedRevision);
            long now = clock.millis();
            Experiment stored = experiment.toBuilder()
                    .setRevision(expectedRevision + 1)
                    .setCreated(current.map(Experiment::getCreated).orElse(Timestamps.fromMillis(now)))
                    .setUpdated(Timestamps.fromMillis(now))
                    .setUpdatedBy(actor)
                    .build();
            String json = Definitions.toJson(stored);
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT OR REPLACE INTO experiments (key, model, status, revision, definition_json) VALUES (?, ?, ?, ?, ?)")) {
                ps.setString(1, key);
                ps.setString(2, stored.getModel());
                ps.setString(3, stored.getStatus().name());
                ps.setLong(4, stored.getRevision());
                ps.setString(5, json);
                ps.executeUpdate();
            }
            insertRevision(c, "experiment_revisions", key, stored.getRevision(), now, actor, action, json);
            return stored;
        });
    }

    @Override
    public Optional<Rollout> getRollout(String model) {
        requireNonNull(model, "model is null");
        return withDefinitions("get rollout", c -> currentRollout(c, model));
    }

    @Override
    public List<Rollout> listRollouts() {
        return listDefinitions(
                "list rollouts",
                "SELECT definition_json FROM rollouts ORDER BY model",
                SqliteExperimentStore::parseRollout);
    }

    @Override
    public List<Revision> rolloutHistory(String model) {
        requireNonNull(model, "model is null");
        return history("rollout_revisions", "model", model);
    }

    @Override
    public Rollout putRollout(
            Rollout rollout, long expectedRevision, String actor, String action, Optional<String> newDefaultVersion) {
        requireNonNull(rollout, "rollout is null");
        requireNonNull(actor, "actor is null");
        requireNonNull(action, "action is null");
        requireNonNull(newDefaultVersion, "newDefaultVersion is null");
        String model = rollout.getModel();
        return withDefinitions("put rollout", c -> {
            Optional<Rollout> current = currentRollout(c, model);
            checkRevision("rollout of model '" + model + "'", current.map(Rollout::getRevision), expectedRevision);
            long now = clock.millis();
            Rollout stored =
                    rollout.toBuilder().setRevision(expectedRevision + 1).build();
            String json = Definitions.toJson(stored);
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT OR REPLACE INTO rollouts (model, state, revision, definition_json) VALUES (?, ?, ?, ?)")) {
                ps.setString(1, model);
                ps.setString(2, stored.getState().name());
                ps.setLong(3, stored.getRevision());
                ps.setString(4, json);
                ps.executeUpdate();
            }
            insertRevision(c, "rollout_revisions", model, stored.getRevision(), now, actor, action, json);
            if (newDefaultVersion.isPresent()) {
                upsertDefault(c, model, newDefaultVersion.get(), now, actor);
            }
            return stored;
        });
    }

    @Override
    public Optional<String> getDefaultVersion(String model) {
        requireNonNull(model, "model is null");
        return withDefinitions("get default version", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT version FROM default_versions WHERE model = ?")) {
                ps.setString(1, model);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(rs.getString(1)) : Optional.<String>empty();
                }
            }
        });
    }

    @Override
    public Map<String, String> defaultVersions() {
        return withDefinitions("list default versions", c -> {
            Map<String, String> result = new LinkedHashMap<>();
            try (PreparedStatement ps =
                            c.prepareStatement("SELECT model, version FROM default_versions ORDER BY model");
                    ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.put(rs.getString(1), rs.getString(2));
                }
            }
            return result;
        });
    }

    @Override
    public void setDefaultVersion(String model, String version, String actor) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(actor, "actor is null");
        withDefinitions("set default version", c -> {
            upsertDefault(c, model, version, clock.millis(), actor);
            return null;
        });
    }

    @Override
    public List<KeptVersion> keptVersions() {
        return withDefinitions("list kept versions", c -> {
            List<KeptVersion> kept = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(
                            "SELECT model, version, updated_by, updated_ms FROM kept_versions ORDER BY model, version");
                    ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    kept.add(new KeptVersion(
                            rs.getString(1), rs.getString(2), rs.getString(3), Instant.ofEpochMilli(rs.getLong(4))));
                }
            }
            return kept;
        });
    }

    @Override
    public void keepVersion(String model, String version, String actor) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(actor, "actor is null");
        withDefinitions("keep version", c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT OR REPLACE INTO kept_versions (model, version, updated_ms, updated_by) VALUES (?, ?, ?, ?)")) {
                ps.setString(1, model);
                ps.setString(2, version);
                ps.setLong(3, clock.millis());
                ps.setString(4, actor);
                ps.executeUpdate();
            }
            return null;
        });
    }

    @Override
    public boolean releaseVersion(String model, String version) {
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        return withDefinitions("release version", c -> {
            try (PreparedStatement ps =
                    c.prepareStatement("DELETE FROM kept_versions WHERE model = ? AND version = ?")) {
                ps.setString(1, model);
                ps.setString(2, version);
                return ps.executeUpdate() > 0;
            }
        });
    }

    private static void upsertDefault(Connection c, String model, String version, long now, String actor)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT OR REPLACE INTO default_versions (model, version, updated_ms, updated_by) VALUES (?, ?, ?, ?)")) {
            ps.setString(1, model);
            ps.setString(2, version);
            ps.setLong(3, now);
            ps.setString(4, actor);
            ps.executeUpdate();
        }
    }

    private static Optional<Rollout> currentRollout(Connection c, String model) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT definition_json FROM rollouts WHERE model = ?")) {
            ps.setString(1, model);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(parseRollout(rs.getString(1))) : Optional.empty();
            }
        }
    }

    private static void checkRevision(String what, Optional<Long> currentRevision, long expectedRevision) {
        if (expectedRevision < 0) {
            throw new ExperimentsException(ErrorCode.INVALID_DEFINITION, "expected revision must not be negative");
        }
        if (expectedRevision == 0 && currentRevision.isPresent()) {
            throw new ExperimentsException(
                    ErrorCode.ALREADY_EXISTS,
                    what + " already exists at revision " + currentRevision.get()
                            + "; pass it as expected_revision to update");
        }
        if (expectedRevision > 0 && currentRevision.isEmpty()) {
            throw new ExperimentsException(
                    ErrorCode.NOT_FOUND, what + " does not exist; pass expected_revision 0 to create it");
        }
        if (expectedRevision > 0 && currentRevision.get() != expectedRevision) {
            throw new ExperimentsException(
                    ErrorCode.STALE_REVISION,
                    what + " is at revision " + currentRevision.get() + ", not the expected " + expectedRevision
                            + "; read it again and retry");
        }
    }

    private static void insertRevision(
            Connection c, String table, String id, long revision, long now, String actor, String action, String json)
            throws SQLException {
        String idColumn = table.startsWith("experiment") ? "key" : "model";
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (" + idColumn
                + ", revision, time_ms, actor, action, definition_json) VALUES (?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, id);
            ps.setLong(2, revision);
            ps.setLong(3, now);
            ps.setString(4, actor);
            ps.setString(5, action);
            ps.setString(6, json);
            ps.executeUpdate();
        }
    }

    private List<Revision> history(String table, String idColumn, String id) {
        return withDefinitions("read history", c -> {
            List<Revision> result = new ArrayList<>();
            try (PreparedStatement ps =
                    c.prepareStatement("SELECT revision, time_ms, actor, action, definition_json FROM " + table
                            + " WHERE " + idColumn + " = ? ORDER BY revision")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        result.add(Revision.newBuilder()
                                .setRevision(rs.getLong(1))
                                .setTime(Timestamps.fromMillis(rs.getLong(2)))
                                .setActor(rs.getString(3))
                                .setAction(rs.getString(4))
                                .setDefinitionJson(rs.getString(5))
                                .build());
                    }
                }
            }
            return result;
        });
    }

    /** Parses one stored definition. */
    private interface DefinitionParser<T> {
        T parse(String json) throws SQLException;
    }

    /** Every definition a query's first column holds, in the query's order. */
    private <T> List<T> listDefinitions(String what, String sql, DefinitionParser<T> parser) {
        return withDefinitions(what, c -> {
            List<T> result = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql);
                    ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(parser.parse(rs.getString(1)));
                }
            }
            return result;
        });
    }

    private static Experiment parseExperiment(String json) throws SQLException {
        try {
            Experiment.Builder b = Experiment.newBuilder();
            // Stored rows were written by this or an older build: tolerate fields a newer build added.
            JsonFormat.parser().ignoringUnknownFields().merge(json, b);
            return b.build();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new SQLException("corrupt experiment row: " + e.getMessage(), e);
        }
    }

    private static Rollout parseRollout(String json) throws SQLException {
        try {
            Rollout.Builder b = Rollout.newBuilder();
            JsonFormat.parser().ignoringUnknownFields().merge(json, b);
            return b.build();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new SQLException("corrupt rollout row: " + e.getMessage(), e);
        }
    }

    @FunctionalInterface
    private interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    /** Runs one transaction on the definitions connection; commits, or rolls back on any failure. */
    private <T> T withDefinitions(String what, Work<T> work) {
        synchronized (definitionsLock) {
            if (closed) {
                throw new ExperimentsException(ErrorCode.STORE_FAILURE, "experiments store is closed");
            }
            try {
                execute(definitions, "BEGIN IMMEDIATE");
                T result = work.run(definitions);
                execute(definitions, "COMMIT");
                return result;
            } catch (SQLException e) {
                rollbackQuietly(definitions);
                throw new ExperimentsException(ErrorCode.STORE_FAILURE, "cannot " + what + ": " + e.getMessage(), e);
            } catch (RuntimeException e) {
                rollbackQuietly(definitions);
                throw e;
            }
        }
    }

    private static void rollbackQuietly(Connection c) {
        try {
            if (!c.isClosed() && !c.getAutoCommit()) {
                c.rollback();
            } else if (!c.isClosed()) {
                execute(c, "ROLLBACK");
            }
        } catch (SQLException e) {
            if (String.valueOf(e.getMessage()).contains("no transaction is active")) {
                return;
            }
            log.warn("rollback failed", e);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Statistics reads
    // ---------------------------------------------------------------------------------------------

    @Override
    public Map<String, VariantStats> variantStats(String experiment, String metric) {
        requireNonNull(experiment, "experiment is null");
        requireNonNull(metric, "metric is null");
        synchronized (readsLock) {
            if (closed) {
                throw new ExperimentsException(ErrorCode.STORE_FAILURE, "experiments store is closed");
            }
            try {
                Map<String, VariantStats> result = new LinkedHashMap<>();
                try (PreparedStatement ps = reads.prepareStatement(VARIANT_STATS)) {
                    ps.setString(1, metric);
                    ps.setString(2, experiment);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            String variant = rs.getString(1);
                            result.put(
                                    variant,
                                    new VariantStats(
                                            variant, rs.getLong(2), rs.getLong(3), rs.getDouble(4), rs.getDouble(5)));
                        }
                    }
                }
                return result;
            } catch (SQLException e) {
                throw new ExperimentsException(ErrorCode.STORE_FAILURE, "cannot read results: " + e.getMessage(), e);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Exposure and outcome log
    // ---------------------------------------------------------------------------------------------

    private static final class FlushMarker {
        final CountDownLatch done = new CountDownLatch(1);
    }

    private static final Object STOP = new Object();

    @Override
    public void recordExposure(Exposure exposure) {
        enqueue(requireNonNull(exposure, "exposure is null"));
    }

    @Override
    public void recordOutcome(Outcome outcome) {
        enqueue(requireNonNull(outcome, "outcome is null"));
    }

    private void enqueue(Object item) {
        if (closed) {
            drop(1, "store closed");
            return;
        }
        if (queue.offer(item)) {
            return;
        }
        try {
            if (queue.offer(item, maxBlock.toNanos(), TimeUnit.NANOSECONDS)) {
                return;
            }
            drop(1, "write queue full for " + maxBlock.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            drop(1, "interrupted while waiting for the write queue");
        }
    }

    private void drop(long count, String why) {
        long total = dropped.addAndGet(count);
        // Loud on the first drops, then once per 1000 so a sustained overload cannot flood the log.
        if (total - count < 10 || (total / 1000) != ((total - count) / 1000)) {
            log.error(
                    "DROPPED {} exposure/outcome record(s) ({}); {} dropped since start — the store cannot keep up or is closed",
                    count,
                    why,
                    total);
        }
    }

    @Override
    public void flush() {
        if (closed) {
            return; // close() flushed everything
        }
        FlushMarker marker = new FlushMarker();
        try {
            while (!queue.offer(marker, 1, TimeUnit.SECONDS)) {
                if (!writer.isAlive()) {
                    throw new ExperimentsException(ErrorCode.STORE_FAILURE, "experiments store writer has stopped");
                }
            }
            while (!marker.done.await(1, TimeUnit.SECONDS)) {
                if (!writer.isAlive()) {
                    throw new ExperimentsException(ErrorCode.STORE_FAILURE, "experiments store writer has stopped");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExperimentsException(ErrorCode.STORE_FAILURE, "interrupted while flushing", e);
        }
    }

    @Override
    public long droppedCount() {
        return dropped.get();
    }

    /** Records written to the file since open. */
    public long writtenCount() {
        return written.get();
    }

    private void writeLoop() {
        List<Object> batch = new ArrayList<>(MAX_BATCH);
        List<Object> pending = new ArrayList<>(MAX_BATCH);
        boolean stop = false;
        try (PreparedStatement exposures = events.prepareStatement(EXPOSURE_UPSERT);
                PreparedStatement outcomes = events.prepareStatement(OUTCOME_INSERT)) {
            while (!stop) {
                Object first;
                try {
                    first = queue.take();
                } catch (InterruptedException e) {
                    return; // abandoned (crash simulation); close() uses STOP instead
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                for (Object item : batch) {
                    if (item instanceof FlushMarker marker) {
                        writePending(pending, exposures, outcomes);
                        marker.done.countDown();
                    } else if (item == STOP) {
                        stop = true;
                    } else {
                        pending.add(item);
                    }
                }
                batch.clear();
                if (stop) {
                    // What was queued before close() was called is still written.
                    queue.drainTo(pending);
                    pending.removeIf(x -> x == STOP || x instanceof FlushMarker m && release(m));
                }
                writePending(pending, exposures, outcomes);
            }
        } catch (SQLException e) {
            log.error("experiments store writer cannot prepare statements; every later record is dropped", e);
        }
    }

    private static boolean release(FlushMarker marker) {
        marker.done.countDown();
        return true;
    }

    private void writePending(List<Object> pending, PreparedStatement exposures, PreparedStatement outcomes) {
        if (pending.isEmpty()) {
            return;
        }
        for (int attempt = 1; ; attempt++) {
            try {
                execute(events, "BEGIN IMMEDIATE");
                for (Object item : pending) {
                    if (item instanceof Exposure x) {
                        long ms = x.time().toEpochMilli();
                        exposures.setString(1, x.experiment());
                        exposures.setString(2, x.unitId());
                        exposures.setString(3, x.variant());
                        exposures.setString(4, x.version());
                        exposures.setLong(5, ms);
                        exposures.setLong(6, ms);
                        exposures.addBatch();
                    } else if (item instanceof Outcome o) {
                        outcomes.setString(1, o.unitId());
                        outcomes.setString(2, o.metric());
                        outcomes.setDouble(3, o.value());
                        if (o.experiment() == null) {
                            outcomes.setNull(4, Types.VARCHAR);
                        } else {
                            outcomes.setString(4, o.experiment());
                        }
                        outcomes.setLong(5, o.time().toEpochMilli());
                        outcomes.addBatch();
                    }
                }
                exposures.executeBatch();
                outcomes.executeBatch();
                execute(events, "COMMIT");
                written.addAndGet(pending.size());
                pending.clear();
                return;
            } catch (SQLException e) {
                rollbackQuietly(events);
                try {
                    exposures.clearBatch();
                    outcomes.clearBatch();
                } catch (SQLException ignored) {
                    // the next attempt rebinds everything anyway
                }
                if (attempt >= 3 || closedConnection()) {
                    log.error("cannot write {} exposure/outcome records after {} attempts", pending.size(), attempt, e);
                    drop(pending.size(), "write failed: " + e.getMessage());
                    pending.clear();
                    return;
                }
                log.warn(
                        "write of {} records failed (attempt {}), retrying: {}",
                        pending.size(),
                        attempt,
                        e.getMessage());
                try {
                    Thread.sleep(50L * attempt);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    drop(pending.size(), "writer interrupted");
                    pending.clear();
                    return;
                }
            }
        }
    }

    private boolean closedConnection() {
        try {
            return events.isClosed();
        } catch (SQLException e) {
            return true;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Lifecycle
    // ---------------------------------------------------------------------------------------------

    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
            boolean interrupted = false;
            while (true) {
                try {
                    queue.put(STOP);
                    writer.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // finish the clean shutdown, then restore the flag
                }
            }
            // Anything a racing caller enqueued after STOP was taken is counted, never lost silently.
            List<Object> late = new ArrayList<>();
            queue.drainTo(late);
            late.removeIf(x -> x == STOP || x instanceof FlushMarker m && release(m));
            if (!late.isEmpty()) {
                drop(late.size(), "recorded while the store was closing");
            }
            closeConnections();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Simulates a crash: stops the writer and closes the connections without writing what is
     * queued. Only what was acknowledged by {@link #flush()} is guaranteed to be in the file.
     */
    void abandonForTest() {
        synchronized (closeLock) {
            closed = true;
            writer.interrupt();
            try {
                writer.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            closeConnections();
        }
    }

    private void closeConnections() {
        synchronized (definitionsLock) {
            closeQuietly(definitions);
        }
        synchronized (readsLock) {
            closeQuietly(reads);
        }
        closeQuietly(events);
    }

    private static void closeQuietly(Connection c) {
        try {
            if (!c.isClosed()) {
                c.close(); // an open transaction is rolled back
            }
        } catch (SQLException e) {
            log.warn("closing the experiments store connection failed", e);
        }
    }
}
