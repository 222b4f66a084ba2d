package dev.trellis.cli.bench;

import static java.util.Objects.requireNonNull;

import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * Results of a load test: the latency histogram (microseconds) of successful requests in the
 * measured window, counts, errors by kind and throughput.
 *
 * @param options the options the test ran with
 * @param latencyMicros latencies of successful measured requests, in microseconds
 * @param succeeded successful measured requests
 * @param failed failed measured requests
 * @param errors failed measured requests by error kind (e.g. the gRPC status code)
 * @param measuredSeconds length of the measured window, seconds
 */
public record BenchReport(
        BenchOptions options,
        Histogram latencyMicros,
        long succeeded,
        long failed,
        Map<String, Long> errors,
        double measuredSeconds) {
    /**
     * Validates the components.
     *
     * @param options the options, not null
     * @param latencyMicros the histogram, not null
     * @param succeeded successes
     * @param failed failures
     * @param errors failures by kind, not null
     * @param measuredSeconds the window length
     */
    public BenchReport {
        requireNonNull(options, "options is null");
        requireNonNull(latencyMicros, "latencyMicros is null");
        errors = Map.copyOf(requireNonNull(errors, "errors is null"));
    }

    /**
     * Successful requests per second over the measured window.
     *
     * @return the throughput
     */
    public double throughput() {
        return measuredSeconds <= 0 ? 0 : succeeded / measuredSeconds;
    }

    /**
     * A latency percentile in milliseconds.
     *
     * @param percentile 0..100, e.g. 99.9
     * @return the latency, or 0 without successful requests
     */
    public double percentileMillis(double percentile) {
        return latencyMicros.getTotalCount() == 0 ? 0 : latencyMicros.getValueAtPercentile(percentile) / 1000.0;
    }

    /**
     * The largest latency in milliseconds.
     *
     * @return the maximum
     */
    public double maxMillis() {
        return latencyMicros.getTotalCount() == 0 ? 0 : latencyMicros.getMaxValue() / 1000.0;
    }

    /**
     * A human-readable multi-line summary.
     *
     * @return the summary
     */
    public String format() {
        StringBuilder sb = new StringBuilder();
        String mode = options.openLoop()
                ? String.format(
                        Locale.ROOT, "open loop, %.0f req/s target (latency from intended send time)", options.rate())
                : String.format(Locale.ROOT, "closed loop, %d callers", options.concurrency());
        sb.append(String.format(Locale.ROOT, "mode        %s%n", mode));
        sb.append(String.format(
                Locale.ROOT,
                "measured    %.1f s after %.1f s warm-up%n",
                measuredSeconds,
                options.warmup().toMillis() / 1000.0));
        sb.append(String.format(Locale.ROOT, "requests    %d ok, %d failed%n", succeeded, failed));
        sb.append(String.format(Locale.ROOT, "throughput  %.0f req/s%n", throughput()));
        sb.append(String.format(
                Locale.ROOT,
                "latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f%n",
                percentileMillis(50),
                percentileMillis(90),
                percentileMillis(99),
                percentileMillis(99.9),
                maxMillis()));
        errors.forEach((kind, count) -> sb.append(String.format(Locale.ROOT, "error       %s x %d%n", kind, count)));
        return sb.toString();
    }
}
