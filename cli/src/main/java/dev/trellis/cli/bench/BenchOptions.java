package dev.trellis.cli.bench;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * How to run a load test.
 *
 * <p>Open loop ({@code rate > 0}): requests start on a fixed schedule whatever the server does, and
 * each latency runs from the request's <em>intended</em> start time, so a stalled server shows up in
 * the percentiles instead of silently slowing the generator down (no coordinated omission).
 * Closed loop ({@code rate == 0}): {@code concurrency} callers each send the next request when the
 * previous one finished; latency runs from the actual send.
 *
 * @param rate requests per second for an open loop, or 0 for a closed loop
 * @param concurrency callers of a closed loop; the cap on requests in flight of an open loop
 * @param duration how long to measure, after the warm-up
 * @param warmup how long to send without measuring first
 */
public record BenchOptions(double rate, int concurrency, Duration duration, Duration warmup) {
    /**
     * Validates the options.
     *
     * @param rate requests per second, or 0
     * @param concurrency at least 1
     * @param duration positive
     * @param warmup zero or positive
     */
    public BenchOptions {
        if (rate < 0 || Double.isNaN(rate) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException("rate must be 0 (closed loop) or positive: " + rate);
        }
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be at least 1: " + concurrency);
        }
        requireNonNull(duration, "duration is null");
        requireNonNull(warmup, "warmup is null");
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("duration must be positive: " + duration);
        }
        if (warmup.isNegative()) {
            throw new IllegalArgumentException("warmup must not be negative: " + warmup);
        }
    }

    /**
     * An open loop at a fixed rate.
     *
     * @param rate requests per second
     * @param maxInFlight cap on requests in flight (memory bound); latency still counts from the intended time
     * @param duration measured time
     * @param warmup unmeasured time before
     * @return the options
     */
    public static BenchOptions openLoop(double rate, int maxInFlight, Duration duration, Duration warmup) {
        if (rate <= 0) {
            throw new IllegalArgumentException("rate must be positive: " + rate);
        }
        return new BenchOptions(rate, maxInFlight, duration, warmup);
    }

    /**
     * A closed loop of concurrent callers.
     *
     * @param concurrency number of callers
     * @param duration measured time
     * @param warmup unmeasured time before
     * @return the options
     */
    public static BenchOptions closedLoop(int concurrency, Duration duration, Duration warmup) {
        return new BenchOptions(0, concurrency, duration, warmup);
    }

    /**
     * Whether this is an open loop.
     *
     * @return true when a rate is set
     */
    public boolean openLoop() {
        return rate > 0;
    }
}
