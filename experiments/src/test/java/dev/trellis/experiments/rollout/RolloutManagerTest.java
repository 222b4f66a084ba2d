package dev.trellis.experiments.rollout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.util.Durations;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutEvent;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.experiments.ErrorCode;
import dev.trellis.experiments.ExperimentsException;
import dev.trellis.experiments.FakeClock;
import dev.trellis.experiments.definition.DefinitionValidator;
import dev.trellis.experiments.store.SqliteExperimentStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RolloutManagerTest {
    private static final long[] SCORES = {10, 20, 30, 40, 50, 50, 40, 30, 20, 10};

    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();
    private final List<String> changes = new ArrayList<>();
    private SqliteExperimentStore store;
    private RolloutManager manager;

    @BeforeEach
    void open() {
        store = SqliteExperimentStore.open(dir.resolve("store.db"), clock);
        manager = new RolloutManager(store, clock, new DefinitionValidator(), changes::add);
    }

    @AfterEach
    void close() {
        store.close();
    }

    private static Rollout spec() {
        return Rollout.newBuilder()
                .setModel("leads")
                .setStableVersion("1")
                .setCandidateVersion("2")
                .build();
    }

    private static VersionWindow healthy(long requests) {
        return new VersionWindow(requests, requests / 200, 20, SCORES); // 0.5 % errors
    }

    @Test
    void start_appliesDefaults() {
        Rollout r = manager.start(spec(), "alice", Set.of("1", "2"));
        assertThat(r.getStepsList()).containsExactly(5.0, 25.0, 50.0, 100.0);
        assertThat(Durations.toMillis(r.getStepInterval()))
                .isEqualTo(Duration.ofMinutes(5).toMillis());
        assertThat(r.getMinCandidateRequests()).isEqualTo(100);
        assertThat(r.getGuardrails().getMaxErrorRateIncrease()).isEqualTo(0.01);
        assertThat(r.getGuardrails().getMaxP99LatencyRatio()).isEqualTo(1.5);
        assertThat(r.getGuardrails().getMaxScorePsi()).isEqualTo(0.2);
        assertThat(r.getState()).isEqualTo(RolloutState.PROGRESSING);
        assertThat(r.getCurrentWeight()).isEqualTo(5);
        assertThat(r.getRevision()).isEqualTo(1);
        assertThat(manager.active()).hasSize(1);
        assertThat(changes).containsExactly("leads");

        ExperimentsException second = catchThrowableOfType(
                ExperimentsException.class,
                () -> manager.start(spec().toBuilder().setCandidateVersion("3").build(), "bob", Set.of()));
        assertThat(second.code()).isEqualTo(ErrorCode.ILLEGAL_TRANSITION);
    }

    @Test
    void tick_fullPromotion() {
        manager.start(spec(), "alice", Set.of());
        double[] expected = {25, 50};
        for (double weight : expected) {
            // Not before the hold elapsed, not without enough requests.
            assertThat(manager.tick("leads", healthy(1000), healthy(10_000)).windowReset())
                    .isFalse();
            clock.advance(Duration.ofMinutes(5));
            assertThat(manager.tick("leads", healthy(99), healthy(10_000)).windowReset())
                    .isFalse();
            TickResult advanced = manager.tick("leads", healthy(1000), healthy(10_000));
            assertThat(advanced.windowReset()).isTrue();
            assertThat(advanced.rollout().getCurrentWeight()).isEqualTo(weight);
            assertThat(advanced.rollout().getLastCheck().getPassed()).isTrue();
        }
        clock.advance(Duration.ofMinutes(5));
        TickResult done = manager.tick("leads", healthy(1000), healthy(1000));
        assertThat(done.rollout().getState()).isEqualTo(RolloutState.PROMOTED);
        assertThat(done.rollout().getCurrentWeight()).isEqualTo(100);
        assertThat(store.getDefaultVersion("leads")).contains("2");
        assertThat(done.rollout().getHistoryList())
                .extracting(RolloutEvent::getType)
                .containsExactly("STARTED", "ADVANCED", "ADVANCED", "PROMOTED");
        assertThat(manager.active()).isEmpty();
        // Finished: ticks change nothing.
        assertThat(manager.tick("leads", healthy(1000), healthy(1000)).windowReset())
                .isFalse();
    }

    @Test
    void tick_errorRateBreachAborts() {
        manager.start(spec(), "alice", Set.of());
        clock.advance(Duration.ofMinutes(5));
        TickResult r = manager.tick("leads", new VersionWindow(1000, 30, 20, SCORES), healthy(10_000));
        assertAborted(r, "error rate 0.0300 vs stable 0.0050: increase 0.0250 > max 0.0100");
        assertThat(store.getDefaultVersion("leads")).contains("1"); // no default before: stable becomes it
    }

    @Test
    void tick_errorRateBreachAbortsBeforeHoldElapses() {
        manager.start(spec(), "alice", Set.of());
        clock.advance(Duration.ofMinutes(1));
        assertThat(manager.tick("leads", new VersionWindow(50, 25, 20, SCORES), healthy(1000))
                        .windowReset())
                .as("below min requests: no early abort")
                .isFalse();
        TickResult r = manager.tick("leads", new VersionWindow(200, 40, 20, SCORES), healthy(1000));
        assertAborted(r, "before the hold elapsed");
    }

    @Test
    void tick_latencyBreachAborts() {
        manager.start(spec(), "alice", Set.of());
        clock.advance(Duration.ofMinutes(1));
        assertThat(manager.tick("leads", new VersionWindow(1000, 5, 40, SCORES), healthy(1000))
                        .windowReset())
                .as("latency waits for the full hold")
                .isFalse();
        clock.advance(Duration.ofMinutes(4));
        TickResult r = manager.tick("leads", new VersionWindow(1000, 5, 40, SCORES), healthy(1000));
        assertAborted(r, "p99 latency 40.0 ms vs stable 20.0 ms: ratio 2.00 > max 1.50");
        assertThat(r.rollout().getLastCheck().getCandidateP99Ms()).isEqualTo(40);
    }

    @Test
    void tick_scoreDriftBreachAborts() {
        manager.start(spec(), "alice", Set.of());
        clock.advance(Duration.ofMinutes(5));
        long[] shifted = {0, 0, 0, 0, 0, 50, 100, 100, 50, 0};
        TickResult r = manager.tick("leads", new VersionWindow(300, 0, 20, shifted), healthy(1000));
        double psi = RolloutStateMachine.psi(shifted, SCORES);
        assertThat(psi).isGreaterThan(0.2);
        assertAborted(r, String.format(java.util.Locale.ROOT, "score PSI %.4f > max 0.2000", psi));
    }

    @Test
    void psi_matchesHandComputation() {
        // Two bins in use: p = (0.5, 0.5, 0...), q = (0.25, 0.75, 0...): empty bins are floored at 1e-4 on
        // both sides, so they add 0; PSI = (0.25)ln(2) + (−0.25)ln(2/3) = 0.27465307216702745.
        long[] a = {50, 50, 0, 0, 0, 0, 0, 0, 0, 0};
        long[] b = {25, 75, 0, 0, 0, 0, 0, 0, 0, 0};
        assertThat(RolloutStateMachine.psi(a, b))
                .isCloseTo(
                        0.25 * Math.log(2) - 0.25 * Math.log(2.0 / 3), org.assertj.core.api.Assertions.within(1e-12));
        assertThat(RolloutStateMachine.psi(SCORES, SCORES)).isZero();
    }

    private void assertAborted(TickResult r, String detail) {
        assertThat(r.windowReset()).isTrue();
        assertThat(r.rollout().getState()).isEqualTo(RolloutState.ABORTED);
        assertThat(r.rollout().getCurrentWeight()).isZero();
        assertThat(r.rollout().getReason()).contains(detail);
        assertThat(r.rollout().getLastCheck().getPassed()).isFalse();
        assertThat(store.getRollout("leads").orElseThrow().getState()).isEqualTo(RolloutState.ABORTED);
    }

    @Test
    void pauseResume_holdsAndRestartsTheStep() {
        manager.start(spec(), "alice", Set.of());
        Rollout paused = manager.pause("leads", "investigating", "bob");
        assertThat(paused.getState()).isEqualTo(RolloutState.PAUSED);
        assertThat(paused.getReason()).isEqualTo("investigating");
        clock.advance(Duration.ofMinutes(10));
        TickResult whilePaused = manager.tick("leads", healthy(1000), healthy(1000));
        assertThat(whilePaused.windowReset()).isFalse();
        assertThat(whilePaused.rollout().getCurrentWeight()).isEqualTo(5);

        ExperimentsException pausedTwice =
                catchThrowableOfType(ExperimentsException.class, () -> manager.pause("leads", "", "bob"));
        assertThat(pausedTwice.code()).isEqualTo(ErrorCode.ILLEGAL_TRANSITION);

        manager.resume("leads", "fine", "bob");
        assertThat(manager.tick("leads", healthy(1000), healthy(1000)).windowReset())
                .as("hold restarted")
                .isFalse();
        clock.advance(Duration.ofMinutes(5));
        assertThat(manager.tick("leads", healthy(1000), healthy(1000)).rollout().getCurrentWeight())
                .isEqualTo(25);
    }

    @Test
    void promoteAndAbort_adminCalls() {
        store.setDefaultVersion("leads", "1", "ops");
        manager.start(spec(), "alice", Set.of());
        Rollout promoted = manager.promote("leads", "looks good", "bob");
        assertThat(promoted.getState()).isEqualTo(RolloutState.PROMOTED);
        assertThat(promoted.getCurrentWeight()).isEqualTo(100);
        assertThat(store.getDefaultVersion("leads")).contains("2");

        manager.start(
                spec().toBuilder()
                        .setStableVersion("2")
                        .setCandidateVersion("3")
                        .build(),
                "alice",
                Set.of());
        Rollout aborted = manager.abort("leads", "wrong build", "bob");
        assertThat(aborted.getState()).isEqualTo(RolloutState.ABORTED);
        assertThat(aborted.getCurrentWeight()).isZero();
        assertThat(aborted.getReason()).isEqualTo("wrong build");
        assertThat(store.getDefaultVersion("leads")).contains("2");
        assertThat(catchThrowableOfType(ExperimentsException.class, () -> manager.abort("leads", "", "bob"))
                        .code())
                .isEqualTo(ErrorCode.ILLEGAL_TRANSITION);
        assertThat(catchThrowableOfType(ExperimentsException.class, () -> manager.abort("other", "", "bob"))
                        .code())
                .isEqualTo(ErrorCode.NOT_FOUND);
    }

    @Test
    void abort_defaultIsTheCandidate_stableBecomesTheDefault() {
        // e.g. the router adopted the highest ready version, the candidate, as the default
        store.setDefaultVersion("leads", "2", "control-plane");
        manager.start(spec(), "alice", Set.of());

        manager.abort("leads", "bad scores", "bob");

        assertThat(store.getDefaultVersion("leads")).contains("1");
    }

    @Test
    void restart_newManagerResumesWhereItWas() {
        manager.start(spec(), "alice", Set.of());
        clock.advance(Duration.ofMinutes(5));
        Rollout at25 = manager.tick("leads", healthy(1000), healthy(1000)).rollout();
        clock.advance(Duration.ofMinutes(3));
        store.close();

        // The router restarts: new store and manager over the same file.
        store = SqliteExperimentStore.open(dir.resolve("store.db"), clock);
        manager = new RolloutManager(store, clock, new DefinitionValidator());
        Rollout resumed = manager.get("leads").orElseThrow();
        assertThat(resumed.getCurrentWeight()).isEqualTo(25);
        assertThat(resumed.getStepStarted()).isEqualTo(at25.getStepStarted());
        assertThat(manager.active()).hasSize(1);
        // 3 of the 5 minutes were already held before the restart: 2 more suffice.
        assertThat(manager.tick("leads", healthy(1000), healthy(1000)).windowReset())
                .isFalse();
        clock.advance(Duration.ofMinutes(2));
        assertThat(manager.tick("leads", healthy(1000), healthy(1000)).rollout().getCurrentWeight())
                .isEqualTo(50);
    }
}
