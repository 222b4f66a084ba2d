package dev.trellis.common.monitoring;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * A version's training baseline: one profile per feature, in schema order, and the out-of-fold
 * score distribution.
 *
 * @param rows training rows the profiles were computed from
 */
public record Baseline(long rows, List<FeatureProfile> features, FeatureProfile score) {
    public Baseline {
        features = List.copyOf(requireNonNull(features, "features is null"));
        requireNonNull(score, "score is null");
    }

    public Optional<FeatureProfile> feature(String name) {
        return features.stream().filter(f -> f.name().equals(name)).findFirst();
    }
}
