package dev.trellis.cli.bench;

import static java.util.Objects.requireNonNull;

import io.grpc.Status;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * An open- or closed-loop load generator over any asynchronous request (see {@link BenchOptions}).
 * Latencies go into an HdrHistogram in microseconds; requests of the warm-up are sent but not
 * measured; the run is bounded by warm-up + duration plus the drain of requests in flight (which
 * carry their own deadlines). One instance runs one test at a time.
 *
 * <pre>{@code
 * BenchReport report = new LoadGenerator().run(BenchOptions.openLoop(2000, 1000, Duration.ofSeconds(30), Duration.ofSeconds(5)),
 *         seq -> client.scoreAsync(requests.get((int) (seq % requests.size()))));
 * System.out.print(report.format());
 * }</pre>
 */
public final class LoadGenerator {
    private final LongSupplier nanoClock;
    private final NanoSleeper sleeper;

    /** Waits a number of nanoseconds on the generator's clock; a fake one moves a fake clock instead. */
    @FunctionalInterface
    interface NanoSleeper {
        void sleep(long nanos);
    }

    /** A generator on {@link System#nanoTime()}. */
    public LoadGenerator() {
        this(System::nanoTime, LockSupport::parkNanos);
    }

    /** A generator on a given monotonic clock and the sleeper that goes with it (tests: a fake pair). */
    LoadGenerator(LongSupplier nanoClock, NanoSleeper sleeper) {
        this.nanoClock = requireNonNull(nanoClock, "nanoClock is null");
        this.sleeper = requireNonNull(sleeper, "sleeper is null");
    }

    /**
     * Runs one load test and blocks until it is over.
     *
     * @param options how to load
     * @param sender what to send
     * @return the report
     * @throws InterruptedException when interrupted; requests in flight are abandoned
     */
    public BenchReport run(BenchOptions options, RequestSender sender) throws InterruptedException {
        requireNonNull(options, "options is null");
        requireNonNull(sender, "sender is null");
        return options.openLoop() ? openLoop(options, sender) : closedLoop(options, sender);
    }

    private BenchReport openLoop(BenchOptions options, RequestSender sender) throws InterruptedException {
        Measurements m = new Measurements();
        Semaphore inFlight = new Semaphore(options.concurrency());
        long start = nanoClock.getAsLong();
        long measureFrom = start + options.warmup().toNanos();
        long end = measureFrom + options.duration().toNanos();
        double intervalNanos = 1e9 / options.rate();
        AtomicLong lastCompletion = new AtomicLong(measureFrom);
        for (long seq = 0; ; seq++) {
            long intended = start + (long) (seq * intervalNanos);
            if (intended >= end) {
                break;
            }
            sleepUntil(intended);
            // blocking here delays the send but not the clock: the latency still counts from 'intended'
            inFlight.acquire();
            boolean measured = intended >= measureFrom;
            long sequence = seq;
            try {
                sender.send(sequence).whenComplete((result, error) -> {
                    long now = nanoClock.getAsLong();
                    inFlight.release();
                    if (measured) {
                        m.record(now - intended, error);
                        lastCompletion.accumulateAndGet(now, Math::max);
                    }
                });
            } catch (RuntimeException e) {
                inFlight.release();
                if (measured) {
                    m.record(0, e);
                }
            }
        }
        drain(inFlight, options.concurrency());
        double seconds = (Math.max(end, lastCompletion.get()) - measureFrom) / 1e9;
        return m.report(options, seconds);
    }

    private BenchReport closedLoop(BenchOptions options, RequestSender sender) throws InterruptedException {
        Measurements m = new Measurements();
        long start = nanoClock.getAsLong();
        long measureFrom = start + options.warmup().toNanos();
        long end = measureFrom + options.duration().toNanos();
        AtomicLong sequence = new AtomicLong();
        Thread[] callers = new Thread[options.concurrency()];
        for (int i = 0; i < callers.length; i++) {
            callers[i] = new Thread(
                    () -> {
                        while (!Thread.currentThread().isInterrupted()) {
                            long sent = nanoClock.getAsLong();
                            if (sent >= end) {
                                return;
                            }
                            Throwable error = null;
                            try {
                                sender.send(sequence.getAndIncrement())
                                        .toCompletableFuture()
                                        .get();
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                return;
                            } catch (ExecutionException | RuntimeException e) {
                                error = e;
                            }
                            if (sent >= measureFrom) {
                                m.record(nanoClock.getAsLong() - sent, error);
                            }
                        }
                    },
                    "bench-caller-" + i);
            callers[i].setDaemon(true);
            callers[i].start();
        }
        try {
            for (Thread caller : callers) {
                caller.join();
            }
        } catch (InterruptedException e) {
            for (Thread caller : callers) {
                caller.interrupt();
            }
            throw e;
        }
        double seconds = (Math.max(end, nanoClock.getAsLong()) - measureFrom) / 1e9;
        return m.report(options, seconds);
    }

    private void sleepUntil(long deadline) {
        while (true) {
            long remaining = deadline - nanoClock.getAsLong();
            if (remaining <= 0) {
                return;
            }
            sleeper.sleep(remaining);
        }
    }

    private static void drain(Semaphore inFlight, int permits) throws InterruptedException {
        // each request carries a deadline, so this ends; the bound only guards against a broken sender
        if (!inFlight.tryAcquire(permits, 5, TimeUnit.MINUTES)) {
            throw new IllegalStateException("requests still in flight 5 minutes after the end of the run");
        }
    }

    /** Thread-safe collection of one run's figures. */
    private static final class Measurements {
        private final Recorder recorder = new Recorder(3);
        private final LongAdder succeeded = new LongAdder();
        private final LongAdder failed = new LongAdder();
        private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();

        void record(long nanos, Throwable error) {
            if (error == null) {
                recorder.recordValue(Math.max(1, nanos / 1000));
                succeeded.increment();
            } else {
                failed.increment();
                errors.computeIfAbsent(kind(error), k -> new LongAdder()).increment();
            }
        }

        BenchReport report(BenchOptions options, double seconds) {
            Histogram histogram = recorder.getIntervalHistogram();
            Map<String, Long> counts = new java.util.TreeMap<>();
            errors.forEach((k, v) -> counts.put(k, v.sum()));
            return new BenchReport(options, histogram, succeeded.sum(), failed.sum(), counts, seconds);
        }

        private static String kind(Throwable error) {
            Throwable t = error;
            while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
                t = t.getCause();
            }
            if (t instanceof dev.trellis.client.TrellisException trellis) {
                return trellis.code().name();
            }
            Status status = Status.fromThrowable(t);
            return status.getCode() != Status.Code.UNKNOWN
                    ? status.getCode().name()
                    : t.getClass().getSimpleName();
        }
    }
}
