package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The feature inputs of one model version, as its ModelMetadata lists them, in schema order. */
public record FeatureSchema(List<Feature> features, Map<String, Feature> byName) {
    public FeatureSchema {
        features = List.copyOf(requireNonNull(features, "features is null"));
        byName = Map.copyOf(requireNonNull(byName, "byName is null"));
    }

    public static FeatureSchema of(List<Feature> features) {
        Map<String, Feature> byName = new LinkedHashMap<>();
        for (Feature f : features) {
            if (byName.put(f.name(), f) != null) {
                throw new IllegalArgumentException("duplicate feature " + f.name());
            }
        }
        return new FeatureSchema(features, byName);
    }

    /** One feature input: FP32 numeric or BYTES categorical. */
    public record Feature(String name, boolean categorical, int index) {
        public Feature {
            requireNonNull(name, "name is null");
        }

        public String datatype() {
            return categorical ? "BYTES" : "FP32";
        }
    }
}
