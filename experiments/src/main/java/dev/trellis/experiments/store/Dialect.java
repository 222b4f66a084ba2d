package dev.trellis.experiments.store;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * What differs between the stores' SQL. Everything else (definitions, events, statistics,
 * retention, rollout windows) is one JDBC code path: both databases speak
 * {@code INSERT ... ON CONFLICT}, partial indexes and the same types through JDBC.
 */
interface Dialect {
    /**
     * Serializes writers of one definition inside the current transaction, so that the revision
     * check and the write are one step. SQLite's {@code BEGIN IMMEDIATE} already holds the whole
     * file; PostgreSQL takes a transaction-scoped advisory lock on the name.
     */
    void lock(Connection c, String name) throws SQLException;

    /** Called in every transaction that changed a definition; PostgreSQL notifies the other routers on commit. */
    void changed(Connection c) throws SQLException;

    /** True when the failure is the connection (the database is gone, not the statement wrong): retry later. */
    boolean isConnectionFailure(SQLException e);
}
