package dev.trellis.router.rollout;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.api.v1.Rollout;
import dev.trellis.api.v1.RolloutState;
import dev.trellis.experiments.ExperimentManager;
import dev.trellis.experiments.rollout.PublishedWindow;
import dev.trellis.experiments.rollout.RolloutManager;
import dev.trellis.experiments.rollout.TickResult;
import dev.trellis.experiments.rollout.VersionWindow;
import dev.trellis.experiments.store.ExperimentStore;
import java.io.Closeable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the rollout state machine with every router's traffic. Every tick, on every router: for
 * each active rollout, this router's windows of the candidate and the stable version are
 * published to the store under the current step. Then, on the one router that holds the store's
 * leader lease, the sum of all routers' windows of the step goes to {@link RolloutManager#tick};
 * a router that dies loses the lease and another one takes over on its next tick. A rollout this
 * router has not seen in its current step (just started, advanced by the leader, resumed, or a
 * restarted router) gets fresh local windows first, so a step is judged only on traffic observed
 * during it. Every definition write is revision-checked, so even two routers that both believed
 * they led could not advance a step twice. Each tick also reloads the routing snapshot from the
 * store. Ticks run on one thread; {@link #tickNow()} is for tests and is serialized with them.
 * The controller owns the scheduler it is given and shuts it down on {@link #close()}.
 */
public final class RolloutController implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(RolloutController.class);

    private final ExperimentManager experiments;
    private final RolloutManager rollouts;
    private final ExperimentStore store;
    private final String source;
    private final VersionWindows windows;
    private final ScheduledExecutorService scheduler;
    private final Duration tick;
    private final Object lock = new Object();

    @GuardedBy("lock")
    private final Map<String, String> stepSeen = new HashMap<>();

    @GuardedBy("lock")
    private ScheduledFuture<?> task;

    @GuardedBy("lock")
    private boolean leading;

    /** @param source this router's id in the published windows (unique per process) */
    public RolloutController(
            ExperimentManager experiments,
            ExperimentStore store,
            String source,
            VersionWindows windows,
            ScheduledExecutorService scheduler,
            Duration tick) {
        this.experiments = requireNonNull(experiments, "experiments is null");
        this.rollouts = experiments.rollouts();
        this.store = requireNonNull(store, "store is null");
        this.source = requireNonNull(source, "source is null");
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
            List<PublishedWindow> published = new ArrayList<>();
            for (Rollout rollout : active) {
                String model = rollout.getModel();
                String step = step(rollout);
                if (!step.equals(stepSeen.get(model))) {
                    windows.reset(model);
                    stepSeen.put(model, step);
                }
                published.add(windows.publish(source, model, rollout.getCandidateVersion(), step));
                published.add(windows.publish(source, model, rollout.getStableVersion(), step));
            }
            if (active.isEmpty()) {
                return;
            }
            store.publishWindows(published);
            boolean leader = store.tryAcquireLeadership();
            if (leader != leading) {
                log.info(leader ? "this router now runs the rollouts" : "another router runs the rollouts");
                leading = leader;
            }
            if (!leader) {
                return;
            }
            for (Rollout rollout : active) {
                tick(rollout);
            }
        }
    }

    @GuardedBy("lock")
    private void tick(Rollout rollout) {
        String model = rollout.getModel();
        String step = step(rollout);
        List<PublishedWindow> all = store.windows(model, step);
        VersionWindow candidate = PublishedWindow.sum(all.stream()
                .filter(w -> w.version().equals(rollout.getCandidateVersion()))
                .toList());
        VersionWindow stable = PublishedWindow.sum(all.stream()
                .filter(w -> w.version().equals(rollout.getStableVersion()))
                .toList());
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

    /** Whether this router ran the rollouts at its last tick (held the store's leader lease). */
    public boolean leading() {
        synchronized (lock) {
            return leading;
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
