package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;

/** Opens the store a {@code --store} value names: a PostgreSQL URL, else a SQLite file. */
public final class ExperimentStores {
    private ExperimentStores() {}

    /**
     * @param password the PostgreSQL password (from a file or the environment), empty for none or SQLite
     * @throws IllegalArgumentException for a malformed PostgreSQL URL
     * @throws dev.trellis.experiments.ExperimentsException STORE_FAILURE when the database cannot be opened
     */
    public static ExperimentStore open(String store, Optional<String> password, Clock clock, StoreOptions options) {
        requireNonNull(store, "store is null");
        requireNonNull(password, "password is null");
        if (PostgresLocation.matches(store)) {
            return PostgresExperimentStore.open(PostgresLocation.parse(store), password, clock, options);
        }
        return SqliteExperimentStore.open(Path.of(store), clock, options);
    }
}
