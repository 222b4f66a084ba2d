package dev.trellis.experiments.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on a real SQLite file, plus what only SQLite does. */
class SqliteExperimentStoreTest extends ExperimentStoreContract {
    @TempDir
    Path dir;

    @Override
    JdbcExperimentStore open(StoreOptions options) {
        return SqliteExperimentStore.open(dir.resolve("experiments.db"), clock, options);
    }

    @Test
    void tryAcquireLeadership_oneRouterPerFileAlwaysLeads() {
        try (JdbcExperimentStore store = open()) {
            assertThat(store.tryAcquireLeadership()).isTrue();
            assertThat(store.tryAcquireLeadership()).isTrue();
        }
    }
}
