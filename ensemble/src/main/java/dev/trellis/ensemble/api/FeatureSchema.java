package dev.trellis.ensemble.api;

import static java.util.Objects.requireNonNull;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The model's inputs in a fixed order, plus the columns of the training data that are not inputs.
 *
 * @param features model inputs, in the order models see them
 * @param target name of the binary target column in training data
 * @param idColumns columns excluded as identifiers
 */
public record FeatureSchema(List<Feature> features, String target, List<String> idColumns) {
    public FeatureSchema {
        features = List.copyOf(requireNonNull(features, "features is null"));
        requireNonNull(target, "target is null");
        idColumns = List.copyOf(requireNonNull(idColumns, "idColumns is null"));
        Map<String, Feature> seen = new HashMap<>();
        for (Feature feature : features) {
            if (seen.put(feature.name(), feature) != null) {
                throw new IllegalArgumentException("duplicate feature " + feature.name());
            }
        }
        if (features.isEmpty()) {
            throw new IllegalArgumentException("schema has no features");
        }
    }

    public int size() {
        return features.size();
    }

    public Optional<Feature> feature(String name) {
        return features.stream().filter(feature -> feature.name().equals(name)).findFirst();
    }

    public int indexOf(String name) {
        for (int i = 0; i < features.size(); i++) {
            if (features.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }
}
