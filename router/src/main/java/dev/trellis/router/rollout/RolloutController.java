package dev.trellis.router.rollout;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.rollout.RolloutManager;
import dev.trellis.experiments.rollout.TickResult;
import dev.trellis.experiments.rollout.VersionWindow;
import java.io.Closeable;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the rollout state machine: every tick, for each active rollout, hands the candidate's and
 * the stable version's windows to {@link RolloutManager#tick} and starts new windows when the
 * step changed. A rollout this controller has not seen in its current step (just started,
 * resumed, or a restarted router) gets fresh windows first, so a step is judged only on traffic
 * observed during it. Each tick also reloads the routing snapshot from the store, so changes made
 * by other routers sharing it take effect here. Ticks run on one thread; {@link #tickNow()} is for
 * tests and is serialized with them. The controller owns the scheduler it is given and shuts it
 * down on {@link #close()}.
 */
public final class RolloutController implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(RolloutController.class);

    private final ExperimentManager experiments;
    private final RolloutManager rollouts;
    private final VersionWindows windows;
    private final ScheduledExecutorService scheduler;
    private final Duration tick;
    private final Object lock = new Object();

    @GuardedBy("lock")
    private final Map<String, String> stepSeen = new HashMap<>();

    @GuardedBy("lock")
    private ScheduledFuture<?> task;

    public RolloutController(
            ExperimentManager experiments, VersionWindows windows, ScheduledExecutorService scheduler, Duration tick) {
        this.experiments = requireNonNull(experiments, "experiments is null");
        this.rollouts = experiments.rollouts();
        this.windows = requireNonNull(windows, "windows is null");
        this.scheduler = requireNonNull(scheduler, "scheduler is null");
        this.tick = requireNonNull(tick, "tick is null");
    }

    public void start() {
        synchronized (lock) {
            if (task == null) {
                task = scheduler.scheduleWithFixedDelay(
                        this::tickQuietly, tick.toMillis(), tick.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }

    private void tickQuietly() {
        try {
            tickNow();
        } catch (RuntimeException e) {
            log.warn("rollout tick failed: {}", e.toString());
        }
    }

    /** One pass over the active rollouts. */
    public void tickNow() {
        synchronized (lock) {
            experiments.refresh();
            List<Rollout> active = rollouts.active();
            stepSeen.keySet().retainAll(active.stream().map(Rollout::getModel).toList());
            for (Rollout rollout : active) {
                String model = rollout.getModel();
                if (!step(rollout).equals(stepSeen.get(model))) {
                    windows.reset(model);
                    stepSeen.put(model, step(rollout));
                    continue;
                }
                VersionWindow candidate = windows.snapshot(model, rollout.getCandidateVersion());
                VersionWindow stable = windows.snapshot(model, rollout.getStableVersion());
                TickResult result = rollouts.tick(model, candidate, stable);
                if (result.windowReset()) {
                    windows.reset(model);
                }
                stepSeen.put(model, step(result.rollout()));
                if (result.rollout().getState() == RolloutState.ABORTED && rollout.getState() != RolloutState.ABORTED) {
                    log.warn(
                            "rollout of {}: ABORTED at {}%, traffic back on version {} ({})",
                            model,
                            result.rollout().getCurrentWeight(),
                            result.rollout().getStableVersion(),
                            result.rollout().getReason());
                } else if (result.rollout().getState() != rollout.getState()
                        || result.rollout().getCurrentStep() != rollout.getCurrentStep()) {
                    log.info(
                            "rollout of {}: {} at {}% ({})",
                            model,
                            result.rollout().getState(),
                            result.rollout().getCurrentWeight(),
                            result.rollout().getReason());
                }
            }
        }
    }

    private static String step(Rollout rollout) {
        return rollout.getStableVersion() + "->" + rollout.getCandidateVersion() + "@" + rollout.getCurrentStep() + "/"
                + rollout.getStepStarted().getSeconds() + "."
                + rollout.getStepStarted().getNanos() + "/" + rollout.getState();
    }

    @Override
    public void close() {
        synchronized (lock) {
            if (task != null) {
                task.cancel(false);
                task = null;
            }
        }
        scheduler.shutdown();
        try {
            if (!scheduler.awaitTermination(5, TimeUnit.SECONDS)) {
                scheduler.shutdownNow();
            }
        } catch (InterruptedException e) {
            scheduler.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
