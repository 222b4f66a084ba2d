package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Statement;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared store: one PostgreSQL database behind any number of routers. Thread-safe.
 *
 * <ul>
 *   <li>Connections come from a HikariCP pool; the schema is migrated by Flyway at open (Flyway
 *       serializes routers that start together).
 *   <li>Definition writes lock the definition with a transaction-scoped advisory lock, check the
 *       revision and write in one transaction, so revisions and conflicts are exact across routers.
 *   <li>Every definition change sends {@code NOTIFY trellis_changes} in its transaction; a
 *       listener thread on its own connection ({@code LISTEN}) tells {@link #onChange} listeners
 *       within milliseconds of the commit. The change counter is polled as the fallback.
 *   <li>The rollout leader lease is a session-level advisory lock held on a dedicated connection:
 *       when the holder dies, PostgreSQL ends its session and another router takes the lock.
 * </ul>
 */
public final class PostgresExperimentStore extends JdbcExperimentStore {
    private static final Logger log = LoggerFactory.getLogger(PostgresExperimentStore.class);
    static final String CHANNEL = "trellis_changes";
    private static final int DEFINITION_LOCKS = 7311;
    private static final int LEASE_LOCKS = 7312;
    private static final int POOL_SIZE = 6;

    private static final Dialect DIALECT = new Dialect() {
        @Override
        public void lock(Connection c, String name) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?, ?)")) {
                ps.setInt(1, DEFINITION_LOCKS);
                ps.setInt(2, name.hashCode());
                ps.execute();
            }
        }

        @Override
        public void changed(Connection c) throws SQLException {
            try (Statement s = c.createStatement()) {
                s.execute("NOTIFY " + CHANNEL);
            }
        }

        @Override
        public boolean isConnectionFailure(SQLException e) {
            return isConnectionProblem(e);
        }
    };

    private final PostgresLocation location;
    private final HikariDataSource pool;
    private final Listener listener;
    private final Lease lease;

    private PostgresExperimentStore(
            PostgresLocation location,
            Properties connectProperties,
            HikariDataSource pool,
            Clock clock,
            StoreOptions options) {
        super(
                "experiments-store-pg",
                clock,
                options,
                DIALECT,
                new PoolTransactor(pool),
                new PoolTransactor(pool),
                new PoolTransactor(pool));
        this.location = location;
        this.pool = pool;
        this.lease = new Lease(location, connectProperties);
        this.listener = new Listener(location, connectProperties, this::fireChanged);
        this.listener.start();
    }

    /**
     * Connects, migrates the schema and starts listening for changes.
     *
     * @throws ExperimentsException STORE_FAILURE with one line naming the database and the reason
     *     (unreachable, wrong password, missing database, a schema from a newer build)
     */
    public static PostgresExperimentStore open(
            PostgresLocation location, Optional<String> password, Clock clock, StoreOptions options) {
        requireNonNull(location, "location is null");
        requireNonNull(password, "password is null");
        requireNonNull(clock, "clock is null");
        requireNonNull(options, "options is null");
        Properties props = connectProperties(location, password);
        HikariConfig config = new HikariConfig();
        config.setPoolName("trellis-store");
        config.setJdbcUrl(location.jdbcUrl());
        config.setDataSourceProperties(props);
        config.setAutoCommit(false);
        config.setMaximumPoolSize(POOL_SIZE);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(3_000); // admin calls fail fast with UNAVAILABLE while the database is down
        config.setValidationTimeout(1_000);
        config.setInitializationFailTimeout(1); // an unreachable database fails the start, with its reason
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw failure(location, e);
        }
        try {
            Flyway.configure()
                    .dataSource(pool)
                    .locations("classpath:dev/trellis/experiments/store/postgresql")
                    .table("trellis_schema_history")
                    .load()
                    .migrate();
            return new PostgresExperimentStore(location, props, pool, clock, options);
        } catch (FlywayException | ExperimentsException e) {
            pool.close();
            throw failure(location, e);
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    private static Properties connectProperties(PostgresLocation location, Optional<String> password) {
        Properties props = new Properties();
        props.setProperty("user", location.user());
        password.ifPresent(p -> props.setProperty("password", p));
        props.setProperty("ApplicationName", "trellis-router");
        props.setProperty("reWriteBatchedInserts", "true");
        props.setProperty("connectTimeout", "5");
        props.setProperty("socketTimeout", "60");
        props.setProperty("tcpKeepAlive", "true");
        for (Map.Entry<String, String> p : location.parameters().entrySet()) {
            props.setProperty(p.getKey(), p.getValue());
        }
        return props;
    }

    private static ExperimentsException failure(PostgresLocation location, Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String reason = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return new ExperimentsException(
                ErrorCode.STORE_FAILURE, "cannot open the experiment store " + location + ": " + reason.strip(), e);
    }

    static boolean isConnectionProblem(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLTransientConnectionException) {
                return true;
            }
            if (t instanceof SQLException s && s.getSQLState() != null) {
                String state = s.getSQLState();
                if (state.startsWith("08") || state.startsWith("57P")) {
                    return true;
                }
            }
            if (t == t.getCause()) {
                break;
            }
        }
        return false;
    }

    /** Where this store is (no password). */
    public PostgresLocation location() {
        return location;
    }

    @Override
    public boolean tryAcquireLeadership() {
        return lease.tryAcquire();
    }

    @Override
    void closeResources() {
        listener.close();
        lease.close();
        pool.close();
    }

    /** One pooled connection per transaction. */
    private static final class PoolTransactor implements Transactor {
        private final HikariDataSource pool;

        PoolTransactor(HikariDataSource pool) {
            this.pool = pool;
        }

        @Override
        public <T> T run(String what, Work<T> work) {
            try (Connection c = pool.getConnection()) {
                try {
                    T result = work.run(c);
                    c.commit();
                    return result;
                } catch (SQLException | RuntimeException e) {
                    try {
                        c.rollback();
                    } catch (SQLException rollback) {
                        e.addSuppressed(rollback);
                    }
                    throw e;
                }
            } catch (SQLException e) {
                throw new ExperimentsException(ErrorCode.STORE_FAILURE, "cannot " + what + ": " + e.getMessage(), e);
            }
        }
    }

    /** The rollout leader lease: a session advisory lock on a connection of its own. */
    private static final class Lease {
        private final PostgresLocation location;
        private final Properties props;
        private final Object lock = new Object();

        @GuardedBy("lock")
        private Connection connection;

        @GuardedBy("lock")
        private boolean held;

        @GuardedBy("lock")
        private boolean closed;

        Lease(PostgresLocation location, Properties props) {
            this.location = location;
            this.props = props;
        }

        boolean tryAcquire() {
            synchronized (lock) {
                if (closed) {
                    return false;
                }
                try {
                    if (held) {
                        if (connection.isValid(2)) {
                            return true;
                        }
                        log.warn("rollout leader lease lost: its connection to {} broke", location);
                        held = false;
                        closeConnection();
                    }
                    if (connection == null || !connection.isValid(2)) {
                        closeConnection();
                        connection = DriverManager.getConnection(location.jdbcUrl(), props);
                        connection.setAutoCommit(true);
                    }
                    try (PreparedStatement ps = connection.prepareStatement("SELECT pg_try_advisory_lock(?, 1)")) {
                        ps.setInt(1, LEASE_LOCKS);
                        try (ResultSet rs = ps.executeQuery()) {
                            held = rs.next() && rs.getBoolean(1);
                        }
                    }
                    if (held) {
                        log.info("this router now holds the rollout leader lease");
                    }
                    return held;
                } catch (SQLException e) {
                    held = false;
                    closeConnection();
                    return false;
                }
            }
        }

        @GuardedBy("lock")
        private void closeConnection() {
            if (connection != null) {
                try {
                    connection.close();
                } catch (SQLException e) {
                    // the session is gone either way, and with it the lock
                }
                connection = null;
            }
        }

        void close() {
            synchronized (lock) {
                closed = true;
                held = false;
                closeConnection(); // ends the session: the lock goes to another router now
            }
        }
    }

    /** LISTEN on a connection of its own; reconnects after failures and then reports a change. */
    private static final class Listener implements Runnable {
        private final PostgresLocation location;
        private final Properties props;
        private final Runnable onChange;
        private final Thread thread;
        private volatile boolean closed;
        private volatile Connection connection;

        Listener(PostgresLocation location, Properties props, Runnable onChange) {
            this.location = location;
            this.props = props;
            this.onChange = onChange;
            this.thread = new Thread(this, "experiments-store-listen");
            this.thread.setDaemon(true);
        }

        void start() {
            thread.start();
        }

        @Override
        public void run() {
            boolean reconnected = false;
            while (!closed) {
                try (Connection c = DriverManager.getConnection(location.jdbcUrl(), props)) {
                    connection = c;
                    c.setAutoCommit(true);
                    try (Statement s = c.createStatement()) {
                        s.execute("LISTEN " + CHANNEL);
                    }
                    if (reconnected) {
                        onChange.run(); // changes may have been missed while disconnected
                    }
                    PGConnection pg = c.unwrap(PGConnection.class);
                    while (!closed) {
                        PGNotification[] notifications = pg.getNotifications(500);
                        if (notifications != null && notifications.length > 0) {
                            onChange.run();
                        }
                    }
                } catch (SQLException e) {
                    if (!closed) {
                        log.warn(
                                "change notifications from {} interrupted ({}); polling until reconnected",
                                location,
                                e.getMessage());
                    }
                }
                reconnected = true;
                if (!closed) {
                    try {
                        Thread.sleep(1_000);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }

        void close() {
            closed = true;
            thread.interrupt();
            Connection c = connection;
            if (c != null) {
                try {
                    c.close();
                } catch (SQLException e) {
                    // closing anyway
                }
            }
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
