package dev.trellis.experiments.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.testing.PostgresServer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The store contract on a real PostgreSQL server, plus what only the shared store does. */
class PostgresExperimentStoreTest extends ExperimentStoreContract {
    private final PostgresServer server = PostgresServer.shared();
    private String database;

    @BeforeEach
    void createDatabase() {
        database = server.createDatabase();
    }

    @Override
    JdbcExperimentStore open(StoreOptions options) {
        return PostgresExperimentStore.open(
                PostgresLocation.parse(database), Optional.of(server.password()), clock, options);
    }

    @Test
    void tryAcquireLeadership_oneHolderAndTakeoverWhenItGoes() {
        try (JdbcExperimentStore a = open();
                JdbcExperimentStore b = open()) {
            assertThat(a.tryAcquireLeadership()).isTrue();
            assertThat(b.tryAcquireLeadership()).isFalse();
            assertThat(a.tryAcquireLeadership()).isTrue(); // held, not re-taken
            a.abandonForTest(); // the holder dies: its session ends, and with it the lock
            await("b takes the lease over").atMost(Duration.ofSeconds(30)).until(b::tryAcquireLeadership);
            try (JdbcExperimentStore c = open()) {
                assertThat(c.tryAcquireLeadership()).isFalse();
            }
        }
    }

    @Test
    void open_unreachableServerOneClearError() {
        ExperimentsException e = catchThrowableOfType(
                ExperimentsException.class,
                () -> PostgresExperimentStore.open(
                        PostgresLocation.parse("postgresql://trellis@127.0.0.1:1/trellis"),
                        Optional.of("x"),
                        clock,
                        StoreOptions.defaults()));
        assertThat(e.code()).isEqualTo(ErrorCode.STORE_FAILURE);
        assertThat(e.getMessage())
                .startsWith("cannot open the experiment store postgresql://trellis@127.0.0.1:1/trellis: ")
                .contains("refused")
                .doesNotContain("\n");
    }

    @Test
    void open_wrongPasswordOrDatabaseOneClearError() {
        String wrongPassword = catchThrowableOfType(
                        ExperimentsException.class,
                        () -> PostgresExperimentStore.open(
                                PostgresLocation.parse(database), Optional.of("wrong"), clock, StoreOptions.defaults()))
                .getMessage();
        String noDatabase = catchThrowableOfType(
                        ExperimentsException.class,
                        () -> PostgresExperimentStore.open(
                                PostgresLocation.parse(server.url("missing")),
                                Optional.of(server.password()),
                                clock,
                                StoreOptions.defaults()))
                .getMessage();
        assertThat(wrongPassword).contains("password authentication failed").doesNotContain("wrong");
        assertThat(noDatabase).contains("\"missing\" does not exist");
    }

    @Test
    void parse_locationRules() {
        PostgresLocation l = PostgresLocation.parse("postgresql://app@db.internal/trellis?sslmode=require");
        assertThat(l.jdbcUrl()).isEqualTo("jdbc:postgresql://db.internal:5432/trellis");
        assertThat(l.user()).isEqualTo("app");
        assertThat(l.parameters()).containsEntry("sslmode", "require");
        assertThat(PostgresLocation.parse("postgres://h:6543/d?user=u").port()).isEqualTo(6543);
        assertThatThrownBy(() -> PostgresLocation.parse("postgresql://app:secret@h/d"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--store-password-file")
                .hasMessageNotContaining("secret");
        assertThatThrownBy(() -> PostgresLocation.parse("postgresql://h/d?user=u&password=secret"))
                .hasMessageContaining("TRELLIS_STORE_PASSWORD");
        assertThatThrownBy(() -> PostgresLocation.parse("postgresql://h/d")).hasMessageContaining("needs a user");
        assertThatThrownBy(() -> PostgresLocation.parse("postgresql://u@h/")).hasMessageContaining("database");
    }

    @Test
    void lostDatabase_writesFailUnavailableEventsAreBufferedAndWrittenLater() throws Exception {
        try (PostgresServer own = PostgresServer.start()) {
            String url = own.createDatabase();
            Instant t = clock.instant();
            try (JdbcExperimentStore store = PostgresExperimentStore.open(
                    PostgresLocation.parse(url),
                    Optional.of(own.password()),
                    clock,
                    StoreOptions.defaults().withIntervals(Duration.ofMillis(100), Duration.ofHours(1)))) {
                store.putExperiment(experiment("e1"), 0, "a", "CREATED");
                own.stop();

                assertThat(catchThrowableOfType(
                                        ExperimentsException.class,
                                        () -> store.putExperiment(experiment("e2"), 0, "a", "CREATED"))
                                .code())
                        .isEqualTo(ErrorCode.STORE_FAILURE);
                List<CompletableFuture<Void>> acks = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    store.recordExposure(new Exposure("e1", "control", "1", "u" + i, t));
                    acks.add(store.recordOutcome(new Outcome("u" + i, "m", 1, null, t, "o" + i)));
                }
                await("the store reports itself unavailable")
                        .atMost(Duration.ofSeconds(30))
                        .until(() -> !store.available());
                assertThat(store.pendingCount()).isEqualTo(200); // buffered, not dropped
                assertThat(store.droppedCount()).isZero();

                own.restart();
                CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
                store.flush();
                await("available again").atMost(Duration.ofSeconds(30)).until(store::available);
                assertThat(store.variantStats("e1", "m").get("control").sum()).isEqualTo(100);
                assertThat(store.droppedCount()).isZero();
            }
        }
    }
}
