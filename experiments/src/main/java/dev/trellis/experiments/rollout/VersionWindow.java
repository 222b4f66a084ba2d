package dev.trellis.experiments.rollout;

import java.util.Arrays;

/**
 * A version's metrics over the current step's window, as measured by the router.
 *
 * @param requests requests served
 * @param errors of which failed
 * @param p99Millis 99th percentile latency, milliseconds (0 when unknown)
 * @param scoreHistogram counts of scores in 10 equal bins over [0, 1]
 */
public record VersionWindow(long requests, long errors, double p99Millis, long[] scoreHistogram) {
    public static final int BINS = 10;

    public VersionWindow {
        if (requests < 0 || errors < 0 || errors > requests) {
            throw new IllegalArgumentException("need 0 <= errors <= requests, got " + errors + "/" + requests);
        }
        if (scoreHistogram == null) {
            scoreHistogram = new long[BINS];
        } else if (scoreHistogram.length != BINS) {
            throw new IllegalArgumentException("scoreHistogram needs " + BINS + " bins, has " + scoreHistogram.length);
        } else {
            scoreHistogram = scoreHistogram.clone();
        }
    }

    public static VersionWindow empty() {
        return new VersionWindow(0, 0, 0, null);
    }

    public double errorRate() {
        return requests == 0 ? 0 : (double) errors / requests;
    }

    public long scoreCount() {
        return Arrays.stream(scoreHistogram).sum();
    }

    @Override
    public long[] scoreHistogram() {
        return scoreHistogram.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VersionWindow w
                && w.requests == requests
                && w.errors == errors
                && Double.compare(w.p99Millis, p99Millis) == 0
                && Arrays.equals(w.scoreHistogram, scoreHistogram);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(requests) * 31 + Arrays.hashCode(scoreHistogram);
    }

    @Override
    public String toString() {
        return "VersionWindow[requests=" + requests + ", errors=" + errors + ", p99Millis=" + p99Millis
                + ", scoreHistogram=" + Arrays.toString(scoreHistogram) + "]";
    }
}
