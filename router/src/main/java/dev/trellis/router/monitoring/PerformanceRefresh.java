package dev.trellis.router.monitoring;

import static java.util.Objects.requireNonNull;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.trellis.api.v1.VersionPerformance;
import dev.trellis.common.text.DurationText;
import dev.trellis.router.config.RouterConfig;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.LongCounter;
import jakarta.inject.Inject;
import java.io.Closeable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The router's monitoring job: every {@code --performance-refresh} it recomputes the live
 * performance of each tracked (model, metric) pair over the trailing {@code --performance-window}
 * into {@link PerformanceGauges}, and the SRM check of every running experiment into
 * {@link OperationsGauges}, so that the alert rules see fresh figures without anyone calling
 * GetPerformance, and a scrape never reads the store. A failing step (store down, model not
 * served) keeps the last figures, counts {@code trellis_monitoring_refresh_failures_total{step}}
 * and logs one WARN when it starts failing and one INFO when it recovers, not one per tick; the
 * next tick tries again. Thread-safe; {@link #close()} stops the job and is idempotent.
 */
public final class PerformanceRefresh implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(PerformanceRefresh.class);
    private static final AttributeKey<String> STEP = AttributeKey.stringKey("step");

    /** Where the figures come from (the store, through {@link PayloadReads}). */
    @FunctionalInterface
    interface Source {
        List<VersionPerformance> performance(TrackedMetric metric, Instant since, Instant until);
    }

    private final Duration interval;
    private final Duration window;
    private final Source source;
    private final PerformanceGauges gauges;
    private final Runnable srm;
    private final Clock clock;
    private final LongCounter failures;
    private final ScheduledExecutorService scheduler;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Object lock = new Object();

    /** Steps failing right now, with the message logged when they started failing. */
    @GuardedBy("lock")
    private final Map<String, String> failing = new HashMap<>();

    @Inject
    public PerformanceRefresh(
            RouterConfig config,
            PayloadReads payloads,
            PerformanceGauges gauges,
            OperationsGauges operations,
            Clock clock,
            OpenTelemetry openTelemetry) {
        this(
                requireNonNull(config, "config is null").performanceRefresh(),
                config.performanceWindow(),
                (metric, since, until) -> payloads.performance(metric.model(), "", metric.metric(), since, until),
                gauges,
                requireNonNull(operations, "operations is null")::refreshSrm,
                clock,
                openTelemetry);
        config.performanceMetrics().forEach(gauges::track);
        requireNonNull(payloads, "payloads is null");
    }

    PerformanceRefresh(
            Duration interval,
            Duration window,
            Source source,
            PerformanceGauges gauges,
            Runnable srm,
            Clock clock,
            OpenTelemetry openTelemetry) {
        this.interval = requireNonNull(interval, "interval is null");
        this.window = requireNonNull(window, "window is null");
        this.source = requireNonNull(source, "source is null");
        this.gauges = requireNonNull(gauges, "gauges is null");
        this.srm = requireNonNull(srm, "srm is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.failures = requireNonNull(openTelemetry, "openTelemetry is null")
                .getMeter("dev.trellis.router.monitoring")
                .counterBuilder("trellis.monitoring.refresh_failures")
                .setDescription("failed steps of the periodic live-performance and SRM refresh")
                .build();
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            // a daemon: a router that fails to close must not be kept alive by its monitoring
            Thread t = new Thread(r, "trellis-performance-refresh");
            t.setDaemon(true);
            return t;
        });
    }

    /** Runs the first refresh now (in the background) and then every interval. */
    public void start() {
        if (closed.get() || !started.compareAndSet(false, true)) {
            return;
        }
        scheduler.scheduleWithFixedDelay(this::refreshNow, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** One pass over every tracked pair and the SRM checks, on the caller's thread. */
    void refreshNow() {
        Instant until = clock.instant().plusSeconds(1);
        Instant since = clock.instant().minus(window);
        for (TrackedMetric metric : gauges.tracked()) {
            step("performance " + metric, () -> gauges.replace(metric, source.performance(metric, since, until)));
        }
        step("srm", srm);
    }

    private void step(String name, Runnable work) {
        try {
            work.run();
        } catch (RuntimeException e) {
            // (no Error: an OutOfMemoryError must not be swallowed by a background job)
            failures.add(1, Attributes.of(STEP, name.startsWith("performance") ? "performance" : name));
            String message = e.getMessage() == null ? e.toString() : e.getMessage();
            boolean first;
            synchronized (lock) {
                first = failing.put(name, message) == null;
            }
            if (first) {
                log.warn(
                        "monitoring refresh: {} failed, keeping its last figures and retrying every {} "
                                + "(logged once until it recovers): {}",
                        name,
                        DurationText.format(interval),
                        message);
            }
            return;
        }
        boolean recovered;
        synchronized (lock) {
            recovered = failing.remove(name) != null;
        }
        if (recovered) {
            log.info("monitoring refresh: {} recovered", name);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        scheduler.shutdownNow();
        try {
            if (!scheduler.awaitTermination(5, TimeUnit.SECONDS)) {
                log.warn("monitoring refresh did not stop within 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the job's thread has stopped (tests). */
    boolean terminated() {
        return scheduler.isTerminated();
    }
}
