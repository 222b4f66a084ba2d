package dev.trellis.experiments.rollout;

import static java.util.Objects.requireNonNull;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.zip.DataFormatException;
import org.HdrHistogram.Histogram;

/**
 * One router's window of one version during one rollout step, as published to the store so that
 * the rollout leader judges the sum of every router's traffic.
 *
 * @param source the publishing router (an id per router process)
 * @param step identifies the rollout step the window belongs to; windows of other steps are ignored
 * @param latency an HdrHistogram of call latencies in microseconds, compressed
 *     ({@link Histogram#encodeIntoCompressedByteBuffer}); empty when there were no calls
 * @param scoreBins counts of scores in {@link VersionWindow#BINS} equal bins over [0, 1]
 */
public record PublishedWindow(
        String source,
        String model,
        String version,
        String step,
        long requests,
        long errors,
        byte[] latency,
        long[] scoreBins) {
    public PublishedWindow {
        requireNonNull(source, "source is null");
        requireNonNull(model, "model is null");
        requireNonNull(version, "version is null");
        requireNonNull(step, "step is null");
        latency = requireNonNull(latency, "latency is null").clone();
        scoreBins = requireNonNull(scoreBins, "scoreBins is null").clone();
        if (scoreBins.length != VersionWindow.BINS) {
            throw new IllegalArgumentException("scoreBins needs " + VersionWindow.BINS + " bins");
        }
    }

    @Override
    public byte[] latency() {
        return latency.clone();
    }

    @Override
    public long[] scoreBins() {
        return scoreBins.clone();
    }

    /** The sum of windows (of one version and step): counts and bins added, latency histograms merged. */
    public static VersionWindow sum(List<PublishedWindow> windows) {
        long requests = 0;
        long errors = 0;
        long[] bins = new long[VersionWindow.BINS];
        Histogram latency = new Histogram(3);
        for (PublishedWindow w : windows) {
            requests += w.requests;
            errors += w.errors;
            for (int i = 0; i < bins.length; i++) {
                bins[i] += w.scoreBins[i];
            }
            if (w.latency.length > 0) {
                try {
                    latency.add(Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(w.latency), 0));
                } catch (DataFormatException e) {
                    throw new IllegalArgumentException("corrupt latency histogram from " + w.source, e);
                }
            }
        }
        double p99 = latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(99.0) / 1000.0;
        return new VersionWindow(requests, Math.min(errors, requests), p99, bins);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PublishedWindow w
                && w.source.equals(source)
                && w.model.equals(model)
                && w.version.equals(version)
                && w.step.equals(step)
                && w.requests == requests
                && w.errors == errors
                && Arrays.equals(w.latency, latency)
                && Arrays.equals(w.scoreBins, scoreBins);
    }

    @Override
    public int hashCode() {
        return (source.hashCode() * 31 + version.hashCode()) * 31 + Long.hashCode(requests);
    }

    @Override
    public String toString() {
        return "PublishedWindow[" + source + " " + model + "/" + version + " step " + step + ": " + requests
                + " requests, " + errors + " errors]";
    }
}
