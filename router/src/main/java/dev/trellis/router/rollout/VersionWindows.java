package dev.trellis.router.rollout;

import dev.trellis.experiments.rollout.PublishedWindow;
import dev.trellis.experiments.rollout.VersionWindow;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * What the router observes per (model, version) since the current rollout step started: requests,
 * errors, latency (HdrHistogram, for p99) and the score distribution in 10 equal bins over [0, 1].
 * Fed by the scoring path for every row; read and reset by the {@link RolloutController}.
 * Thread-safe: recording is lock-free; a reset swaps in fresh windows.
 */
public final class VersionWindows {
    private static final long MAX_LATENCY_MICROS = TimeUnit.MINUTES.toMicros(10);

    private final Map<String, Map<String, Window>> windows = new ConcurrentHashMap<>();

    /** One row (or one call of {@code rows} rows) served by a version; latency per call. */
    public void recordSuccess(String model, String version, long latencyNanos, double[] scores) {
        Window w = window(model, version);
        w.requests.add(scores.length);
        w.latency.recordValue(Math.min(MAX_LATENCY_MICROS, Math.max(0, latencyNanos / 1_000)));
        for (double score : scores) {
            int bin = (int) Math.floor(score * VersionWindow.BINS);
            w.scoreBins.incrementAndGet(Math.max(0, Math.min(VersionWindow.BINS - 1, bin)));
        }
    }

    /** A call of {@code rows} rows to a version failed for a reason that is not the caller's mistake. */
    public void recordFailure(String model, String version, int rows, long latencyNanos) {
        Window w = window(model, version);
        w.requests.add(rows);
        w.errors.add(rows);
        w.latency.recordValue(Math.min(MAX_LATENCY_MICROS, Math.max(0, latencyNanos / 1_000)));
    }

    /** The window of a version so far. */
    public VersionWindow snapshot(String model, String version) {
        Window w = windows.getOrDefault(model, Map.of()).get(version);
        if (w == null) {
            return VersionWindow.empty();
        }
        long requests = w.requests.sum();
        long errors = Math.min(requests, w.errors.sum());
        double p99 = w.latency.getTotalCount() == 0 ? 0 : w.latency.getValueAtPercentile(99.0) / 1000.0;
        long[] bins = new long[VersionWindow.BINS];
        for (int i = 0; i < bins.length; i++) {
            bins[i] = w.scoreBins.get(i);
        }
        return new VersionWindow(requests, errors, p99, bins);
    }

    /**
     * The window of a version so far, to publish to the store under a step: the leader sums
     * every router's published windows (counts added, latency histograms merged).
     */
    public PublishedWindow publish(String source, String model, String version, String step) {
        Window w = windows.getOrDefault(model, Map.of()).get(version);
        if (w == null) {
            return new PublishedWindow(source, model, version, step, 0, 0, new byte[0], new long[VersionWindow.BINS]);
        }
        Histogram latency = w.latency.copy();
        long requests = w.requests.sum();
        long errors = Math.min(requests, w.errors.sum());
        long[] bins = new long[VersionWindow.BINS];
        for (int i = 0; i < bins.length; i++) {
            bins[i] = w.scoreBins.get(i);
        }
        ByteBuffer buffer = ByteBuffer.allocate(latency.getNeededByteBufferCapacity());
        int length = latency.encodeIntoCompressedByteBuffer(buffer);
        return new PublishedWindow(
                source, model, version, step, requests, errors, Arrays.copyOf(buffer.array(), length), bins);
    }

    /** Starts new windows for every version of a model. */
    public void reset(String model) {
        windows.remove(model);
    }

    private Window window(String model, String version) {
        return windows.computeIfAbsent(model, m -> new ConcurrentHashMap<>())
                .computeIfAbsent(version, v -> new Window());
    }

    private static final class Window {
        final LongAdder requests = new LongAdder();
        final LongAdder errors = new LongAdder();
        final ConcurrentHistogram latency = new ConcurrentHistogram(3);
        final AtomicLongArray scoreBins = new AtomicLongArray(VersionWindow.BINS);
    }
}
