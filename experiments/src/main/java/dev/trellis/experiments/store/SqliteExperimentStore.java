package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteErrorCode;

/**
 * The embedded store: one SQLite file in WAL mode, for one router. Thread-safe.
 *
 * <p>Three connections, each behind its own lock: definitions (transactions {@code BEGIN
 * IMMEDIATE}, so the revision check and the write are one atomic step even against another
 * process on the same file), statistics reads (so a long results query never holds up a
 * definition write), and events (the {@link EventWriter}'s thread and retention).
 *
 * <p>{@code synchronous=FULL}: every commit is fsynced, so "acknowledged" means durable even
 * across power loss. The cost is one fsync per commit; events are committed in batches of up to
 * {@value JdbcExperimentStore#MAX_BATCH}, so it is paid per batch and batches grow with load.
 *
 * <p>The rollout lease is always held: a SQLite file serves one router (several processes on one
 * file stay correct, because every definition write is revision-checked, but that is not a
 * supported deployment).
 */
public final class SqliteExperimentStore extends JdbcExperimentStore {
    private static final Logger log = LoggerFactory.getLogger(SqliteExperimentStore.class);

    static final int SCHEMA_VERSION = 4;
    public static final int DEFAULT_QUEUE_CAPACITY = StoreOptions.DEFAULT_QUEUE_CAPACITY;
    public static final Duration DEFAULT_MAX_BLOCK = StoreOptions.defaults().maxBlock();

    private static final Dialect DIALECT = new Dialect() {
        @Override
        public void lock(Connection c, String name) {
            // BEGIN IMMEDIATE holds the file's write lock for the whole transaction
        }

        @Override
        public void changed(Connection c) {
            // other processes poll the change counter
        }

        @Override
        public boolean isConnectionFailure(SQLException e) {
            int code = e.getErrorCode() & 0xff;
            return code == SQLiteErrorCode.SQLITE_BUSY.code
                    || code == SQLiteErrorCode.SQLITE_LOCKED.code
                    || String.valueOf(e.getMessage()).contains("database connection closed");
        }
    };

    private final Path file;
    private final SqliteTransactor definitions;
    private final SqliteTransactor reads;
    private final SqliteTransactor events;

    private SqliteExperimentStore(
            Path file,
            Clock clock,
            StoreOptions options,
            SqliteTransactor definitions,
            SqliteTransactor reads,
            SqliteTransactor events) {
        super("experiments-store", clock, options, DIALECT, definitions, reads, events);
        this.file = file;
        this.definitions = definitions;
        this.reads = reads;
        this.events = events;
    }

    /** Opens (creating or migrating) the store file with the default options. */
    public static SqliteExperimentStore open(Path file, Clock clock) {
        return open(file, clock, StoreOptions.defaults());
    }

    /**
     * @param queueCapacity exposures and outcomes that may wait for the writer
     * @param maxBlock how long a caller may block on a full queue before the item is counted as dropped
     */
    public static SqliteExperimentStore open(Path file, Clock clock, int queueCapacity, Duration maxBlock) {
        return open(file, clock, StoreOptions.defaults().withQueue(queueCapacity, maxBlock));
    }

    public static SqliteExperimentStore open(Path file, Clock clock, StoreOptions options) {
        requireNonNull(file, "file is null");
        requireNonNull(clock, "clock is null");
        requireNonNull(options, "options is null");
        SqliteTransactor definitions = null;
        SqliteTransactor reads = null;
        SqliteTransactor events = null;
        try {
            definitions = new SqliteTransactor(connect(file), "BEGIN IMMEDIATE");
            definitions.migrate();
            reads = new SqliteTransactor(connect(file), "BEGIN");
            events = new SqliteTransactor(connect(file), "BEGIN IMMEDIATE");
            return new SqliteExperimentStore(file, clock, options, definitions, reads, events);
        } catch (SQLException | RuntimeException e) {
            for (SqliteTransactor t : new SqliteTransactor[] {definitions, reads, events}) {
                if (t != null) {
                    t.close();
                }
            }
            if (e instanceof ExperimentsException x) {
                throw x;
            }
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

    public Path file() {
        return file;
    }

    @Override
    public boolean tryAcquireLeadership() {
        return available();
    }

    @Override
    void closeResources() {
        definitions.close();
        reads.close();
        events.close();
    }

    /** One connection with its own lock; transactions begin with the given statement. */
    private static final class SqliteTransactor implements Transactor {
        private final Object lock = new Object();

        @GuardedBy("lock")
        private final Connection connection;

        private final String begin;

        SqliteTransactor(Connection connection, String begin) {
            this.connection = connection;
            this.begin = begin;
        }

        @Override
        public <T> T run(String what, Work<T> work) {
            synchronized (lock) {
                try {
                    if (connection.isClosed()) {
                        throw new ExperimentsException(ErrorCode.STORE_FAILURE, "experiments store is closed");
                    }
                    execute(connection, begin);
                    T result = work.run(connection);
                    execute(connection, "COMMIT");
                    return result;
                } catch (SQLException e) {
                    rollbackQuietly();
                    throw new ExperimentsException(
                            ErrorCode.STORE_FAILURE, "cannot " + what + ": " + e.getMessage(), e);
                } catch (RuntimeException e) {
                    rollbackQuietly();
                    throw e;
                }
            }
        }

        void migrate() throws SQLException {
            synchronized (lock) {
                execute(connection, "BEGIN IMMEDIATE");
                try {
                    migrateInTransaction(connection);
                    execute(connection, "COMMIT");
                } catch (SQLException | RuntimeException e) {
                    rollbackQuietly();
                    throw e;
                }
            }
        }

        @GuardedBy("lock")
        private void rollbackQuietly() {
            try {
                if (!connection.isClosed()) {
                    execute(connection, "ROLLBACK");
                }
            } catch (SQLException e) {
                if (!String.valueOf(e.getMessage()).contains("no transaction is active")) {
                    log.warn("rollback failed", e);
                }
            }
        }

        void close() {
            synchronized (lock) {
                try {
                    if (!connection.isClosed()) {
                        connection.close(); // an open transaction is rolled back
                    }
                } catch (SQLException e) {
                    log.warn("closing the experiments store connection failed", e);
                }
            }
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static final String PAYLOAD_SAMPLES = """
            CREATE TABLE payload_samples (
              id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, version TEXT NOT NULL,
              unit_id TEXT NOT NULL, time_ms INTEGER NOT NULL, features TEXT NOT NULL, score REAL NOT NULL,
              label TEXT NOT NULL, experiment TEXT, variant TEXT)""";

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
            if (version < 2) {
                // exposures keep the first exposure only: "requests" and "last seen" were never true
                // across routers (each router deduplicates in memory), so they are gone
                s.executeUpdate("ALTER TABLE exposures DROP COLUMN last_ms");
                s.executeUpdate("ALTER TABLE exposures DROP COLUMN requests");
                s.executeUpdate("ALTER TABLE outcomes ADD COLUMN outcome_id TEXT");
                s.executeUpdate("CREATE UNIQUE INDEX outcomes_id ON outcomes (outcome_id)");
                // the results query sums one metric's outcomes per unit
                s.executeUpdate("DROP INDEX IF EXISTS outcomes_unit");
                s.executeUpdate("CREATE INDEX outcomes_metric ON outcomes (metric, unit_id)");
                s.executeUpdate(
                        "CREATE TABLE store_state (id INTEGER PRIMARY KEY CHECK (id = 1), change_version INTEGER NOT NULL)");
                s.executeUpdate("INSERT INTO store_state (id, change_version) VALUES (1, 0)");
                s.executeUpdate("""
                        CREATE TABLE rollout_windows (
                          source TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, step TEXT NOT NULL,
                          requests INTEGER NOT NULL, errors INTEGER NOT NULL, latency BLOB NOT NULL,
                          score_bins TEXT NOT NULL, updated_ms INTEGER NOT NULL,
                          PRIMARY KEY (source, model, version))""");
            }
            if (version < 3) {
                // versions kept loaded by operators (trellis models keep)
                s.executeUpdate("""
                        CREATE TABLE kept_versions (
                          model TEXT NOT NULL, version TEXT NOT NULL, updated_ms INTEGER NOT NULL,
                          updated_by TEXT NOT NULL, PRIMARY KEY (model, version))""");
            }
            if (version < 4) {
                // the scored rows the router logs for drift, live performance and retraining
                s.executeUpdate(PAYLOAD_SAMPLES);
                s.executeUpdate("CREATE INDEX payload_samples_model ON payload_samples (model, time_ms)");
            }
            s.executeUpdate("PRAGMA user_version = " + SCHEMA_VERSION);
        }
    }
}
