package dev.trellis.ensemble.api;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * One model input.
 *
 * @param name column name in the training CSV and input tensor name on the wire
 * @param type numeric or categorical
 * @param vocabulary for categorical features, the categories seen in training in code order; empty for numeric ones
 */
public record Feature(String name, FeatureType type, List<String> vocabulary) {
    public Feature {
        requireNonNull(name, "name is null");
        requireNonNull(type, "type is null");
        vocabulary = List.copyOf(requireNonNull(vocabulary, "vocabulary is null"));
        if (name.isBlank()) {
            throw new IllegalArgumentException("feature name is blank");
        }
        if (type == FeatureType.NUMERIC && !vocabulary.isEmpty()) {
            throw new IllegalArgumentException("numeric feature " + name + " has a vocabulary");
        }
    }

    public static Feature numeric(String name) {
        return new Feature(name, FeatureType.NUMERIC, List.of());
    }

    public static Feature categorical(String name, List<String> vocabulary) {
        return new Feature(name, FeatureType.CATEGORICAL, vocabulary);
    }
}
