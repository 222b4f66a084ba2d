package dev.trellis.common.monitoring;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * The drift of one version: a verdict and the per-feature figures, most severe first (the score
 * included, as {@link FeatureProfile#SCORE}). Empty features for NO_BASELINE and INSUFFICIENT_DATA.
 */
public record DriftReport(
        Verdict verdict, String summary, long liveRows, long baselineRows, List<FeatureDrift> features) {
    public DriftReport {
        requireNonNull(verdict, "verdict is null");
        requireNonNull(summary, "summary is null");
        features = List.copyOf(requireNonNull(features, "features is null"));
    }

    public enum Verdict {
        NO_DRIFT,
        DRIFT,
        INSUFFICIENT_DATA,
        NO_BASELINE
    }
}
