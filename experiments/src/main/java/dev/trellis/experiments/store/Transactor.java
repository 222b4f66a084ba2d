package dev.trellis.experiments.store;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Runs work in one database transaction: commits when it returns, rolls back when it throws.
 * A {@link SQLException} becomes an {@link dev.trellis.experiments.ExperimentsException} with code
 * STORE_FAILURE ("cannot {@code what}: ..."); other exceptions pass through after the rollback.
 * Implementations are thread-safe.
 */
interface Transactor {
    <T> T run(String what, Work<T> work);

    /** Work inside a transaction. */
    @FunctionalInterface
    interface Work<T> {
        T run(Connection connection) throws SQLException;
    }
}
